// Package tftp is a read-only TFTP client (RFC 1350) with option
// negotiation (RFC 2347), the blksize option (RFC 2348) and the tsize option
// (RFC 2349), and a fetch.Fetcher for tftp://server[:port]/path URLs.
//
// The client sends a read request to the server's well-known port and
// accepts the transfer from whatever port the first reply comes from (the
// server's transfer ID, RFC 1350 section 4); packets from other ports get
// an "unknown transfer ID" error and are otherwise ignored. A lost packet is
// recovered by retransmitting the last request or ACK after Config.Timeout;
// Config.Retries consecutive silences end the transfer with ErrTimeout.
//
// Sockets come from Config.Listen, so the same code runs on snp-go's gVisor
// stack (StackConfig) and, in tests, on the host's UDP.
package tftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdnet "net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/snp-go/snp-go/net/dns"
	"github.com/snp-go/snp-go/net/fetch"
)

// Port is the TFTP server port (RFC 1350 section 4).
const Port = 69

// DefaultBlockSize is the blksize requested by default. 1428 data bytes +
// 4 (TFTP) + 8 (UDP) + 20 (IPv4) = 1460 fit one 1500-byte Ethernet frame,
// and 1428 is the largest block slirp's built-in server (QEMU -netdev
// user,tftp=) grants (libslirp TFTP_BLOCKSIZE_MAX).
const DefaultBlockSize = 1428

// ErrTimeout is wrapped when the server stops answering.
var ErrTimeout = errors.New("TFTP server not answering")

// Config configures a Client.
type Config struct {
	// Listen opens an unconnected UDP socket bound to laddr (the zero
	// AddrPort: any address, an ephemeral port). It must not be connected:
	// the transfer continues from a port the server picks. Required.
	Listen func(laddr netip.AddrPort) (stdnet.PacketConn, error)
	// Resolve turns a host name from a URL into an IPv4 address (nil: only
	// IP literals are accepted). dns.Resolver.LookupHost fits.
	Resolve func(ctx context.Context, host string) (netip.Addr, error)
	// BlockSize is requested with the blksize option (RFC 2348: 8..65464;
	// default DefaultBlockSize).
	BlockSize int
	// NoOptions sends a plain RFC 1350 request: 512-byte blocks, no size.
	NoOptions bool
	// Timeout is how long to wait for the next packet before
	// retransmitting (default 1 s); Retries is how many consecutive
	// timeouts end the transfer (default 5).
	Timeout time.Duration
	Retries int
}

// Client downloads files over TFTP. It is safe for concurrent use.
type Client struct{ cfg Config }

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Listen == nil {
		return nil, errors.New("tftp: Config.Listen is required")
	}
	if cfg.BlockSize == 0 {
		cfg.BlockSize = DefaultBlockSize
	}
	if cfg.BlockSize < 8 || cfg.BlockSize > 65464 {
		return nil, fmt.Errorf("tftp: block size %d outside 8..65464 (RFC 2348)", cfg.BlockSize)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 5
	}
	return &Client{cfg: cfg}, nil
}

// StackConfig returns a Config that opens sockets on r.Stack and resolves
// names with r.
func StackConfig(r *dns.Resolver) Config {
	return Config{
		Listen: func(laddr netip.AddrPort) (stdnet.PacketConn, error) {
			return r.Stack.ListenUDP(laddr)
		},
		Resolve: r.LookupHost,
	}
}

// Fetch implements fetch.Fetcher for tftp://server[:port]/path. As in iPXE,
// one leading "/" is removed from the path (tftp://s//abs names /abs).
func (c *Client) Fetch(ctx context.Context, u *url.URL, w io.Writer, opts fetch.Options) (int64, error) {
	server, err := c.server(ctx, u)
	if err != nil {
		return 0, err
	}
	file := strings.TrimPrefix(u.Path, "/")
	if file == "" {
		return 0, errors.New("no file name in the URL")
	}
	return fetch.Metered(w, u.Redacted(), opts, func(open func(int64) (io.Writer, error)) (int64, error) {
		return c.Get(ctx, server, file, open)
	})
}

func (c *Client) server(ctx context.Context, u *url.URL) (netip.AddrPort, error) {
	port := uint16(Port)
	if p := u.Port(); p != "" {
		v, err := strconv.ParseUint(p, 10, 16)
		if err != nil || v == 0 {
			return netip.AddrPort{}, fmt.Errorf("bad port %q", p)
		}
		port = uint16(v)
	}
	host := u.Hostname()
	if host == "" {
		return netip.AddrPort{}, errors.New("no server in the URL")
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		if c.cfg.Resolve == nil {
			return netip.AddrPort{}, fmt.Errorf("cannot resolve %q: no resolver configured", host)
		}
		if a, err = c.cfg.Resolve(ctx, host); err != nil {
			return netip.AddrPort{}, err
		}
	}
	return netip.AddrPortFrom(a.Unmap(), port), nil
}

// Get downloads file from server. open is called once, before the first
// byte is written, with the size the server announced (tsize) or -1, and
// returns where the data goes; an error from open or from that writer
// aborts the transfer (the server is told) and is returned. Get returns
// the number of bytes written.
func (c *Client) Get(ctx context.Context, server netip.AddrPort, file string, open func(size int64) (io.Writer, error)) (int64, error) {
	withOpts := !c.cfg.NoOptions
	for {
		t := &transfer{cfg: &c.cfg, server: server, file: file, open: open, options: withOpts}
		n, err := t.run(ctx)
		var se *ServerError
		// RFC 2347: a server that refuses the options answers ERROR 8;
		// ask again without them.
		if withOpts && t.w == nil && errors.As(err, &se) && se.Code == ErrOptionRefused {
			withOpts = false
			continue
		}
		return n, err
	}
}

// transfer is the state of one read request.
type transfer struct {
	cfg     *Config
	server  netip.AddrPort
	file    string
	open    func(int64) (io.Writer, error)
	options bool

	conn    stdnet.PacketConn
	tid     netip.AddrPort // server's transfer ID, once known
	last    []byte         // last packet sent, for retransmission
	blksize int
	tsize   int64
	w       io.Writer
	n       int64
	blocks  int64  // DATA blocks accepted
	expect  uint16 // next DATA block number
}

func (t *transfer) run(ctx context.Context) (int64, error) {
	conn, err := t.cfg.Listen(netip.AddrPort{})
	if err != nil {
		return 0, fmt.Errorf("opening a UDP socket: %w", err)
	}
	defer conn.Close()
	t.conn = conn
	// Ctrl-C: the callback and the per-packet deadline below share a lock,
	// so a cancel is never overwritten by a fresh timeout.
	var mu sync.Mutex
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		conn.SetReadDeadline(time.Unix(1, 0))
		mu.Unlock()
	})
	defer stop()

	t.blksize, t.tsize, t.expect = 512, -1, 1
	var ro [][2]string
	if t.options {
		ro = [][2]string{{"blksize", strconv.Itoa(t.cfg.BlockSize)}, {"tsize", "0"}}
	}
	t.last = rrq(t.file, ro)
	if err := t.send(t.last); err != nil {
		return 0, err
	}
	buf := make([]byte, 4+max(t.cfg.BlockSize, 512)+1)
	tries := 0
	for {
		if ctx.Err() != nil {
			return t.n, t.abort(ErrUndefined, "transfer cancelled", fmt.Errorf("interrupted: %w", context.Cause(ctx)))
		}
		mu.Lock()
		if ctx.Err() == nil {
			conn.SetReadDeadline(time.Now().Add(t.cfg.Timeout))
		}
		mu.Unlock()
		nr, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			var ne stdnet.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return t.n, fmt.Errorf("receiving: %w", err)
			}
			if tries++; tries > t.cfg.Retries {
				return t.n, t.silent()
			}
			if err := t.send(t.last); err != nil {
				return t.n, err
			}
			continue
		}
		src := addrPort(from)
		if src.Addr() != t.server.Addr() {
			continue // not our server: stray traffic
		}
		if t.tid.IsValid() && src != t.tid {
			// RFC 1350 section 4: tell the stranger, keep going.
			t.conn.WriteTo(errPacket(ErrUnknownTID, "unknown transfer ID"), stdnet.UDPAddrFromAddrPort(src))
			continue
		}
		p, err := parsePacket(buf[:nr])
		if err != nil {
			t.tid = src
			return t.n, t.abort(ErrIllegalOp, "malformed packet", fmt.Errorf("malformed packet from %v: %w", src, err))
		}
		if !t.tid.IsValid() {
			t.tid = src
		}
		done, err := t.handle(p)
		if err != nil || done {
			return t.n, err
		}
		tries = 0
	}
}

// handle processes one packet from the server; done is true after the last
// block was acknowledged.
func (t *transfer) handle(p packet) (done bool, err error) {
	switch p.op {
	case opERROR:
		if p.err.NotFound() {
			return false, fmt.Errorf("file %q not found on %v: %w", t.file, t.server.Addr(), p.err)
		}
		return false, fmt.Errorf("reading %q from %v: %w", t.file, t.server.Addr(), p.err)
	case opOACK:
		if !t.options {
			return false, t.abort(ErrOptionRefused, "no options requested", errors.New("server sent an option acknowledgement to a request without options"))
		}
		if t.blocks > 0 || t.w != nil {
			if t.blocks == 0 {
				return false, t.send(t.last) // our ACK 0 was lost
			}
			return false, nil
		}
		if err := t.accept(p.opts); err != nil {
			return false, t.abort(ErrOptionRefused, err.Error(), fmt.Errorf("option acknowledgement refused: %w", err))
		}
		if err := t.openWriter(); err != nil {
			return false, err
		}
		t.last = ack(0) // RFC 2347: the client acknowledges an OACK with ACK 0
		return false, t.send(t.last)
	case opDATA:
		switch {
		case p.block == t.expect:
		case t.blocks > 0 && p.block == t.expect-1:
			return false, t.send(t.last) // retransmitted: our ACK was lost
		default:
			return false, nil // stale or out of order: ignore
		}
		if len(p.data) > t.blksize {
			return false, t.abort(ErrIllegalOp, "block too large", fmt.Errorf("block %d has %d bytes; negotiated %d", p.block, len(p.data), t.blksize))
		}
		if t.w == nil {
			if err := t.openWriter(); err != nil {
				return false, err
			}
		}
		if len(p.data) > 0 {
			k, err := t.w.Write(p.data)
			t.n += int64(k)
			if err != nil {
				code := uint16(ErrUndefined)
				if errors.Is(err, fetch.ErrTooLarge) {
					code = ErrDiskFull
				}
				return false, t.abort(code, "transfer aborted by client", err)
			}
		}
		t.blocks++
		t.last = ack(p.block)
		if err := t.send(t.last); err != nil {
			return false, err
		}
		t.expect++ // wraps to 0 after 65535, as most servers do
		if len(p.data) < t.blksize {
			if t.tsize >= 0 && t.n != t.tsize {
				return true, fmt.Errorf("received %d bytes; server announced %d", t.n, t.tsize)
			}
			return true, nil
		}
		return false, nil
	}
	return false, t.abort(ErrIllegalOp, "unexpected packet", fmt.Errorf("unexpected packet type %d from server", p.op))
}

// accept applies the options the server acknowledged (RFC 2347: only
// options the client asked for, blksize no larger than requested).
func (t *transfer) accept(opts map[string]string) error {
	for k, v := range opts {
		switch k {
		case "blksize":
			b, err := parseUint(v, int64(t.cfg.BlockSize))
			if err != nil || b < 8 {
				return fmt.Errorf("blksize %q not within 8..%d", printable([]byte(v)), t.cfg.BlockSize)
			}
			t.blksize = int(b)
		case "tsize":
			s, err := parseUint(v, 1<<53)
			if err != nil {
				return fmt.Errorf("tsize: %w", err)
			}
			t.tsize = s
		default:
			return fmt.Errorf("option %q was not requested", printable([]byte(k)))
		}
	}
	return nil
}

func (t *transfer) openWriter() error {
	w, err := t.open(t.tsize)
	if err != nil {
		return t.abort(ErrDiskFull, "transfer refused by client", err)
	}
	t.w = w
	return nil
}

func (t *transfer) send(b []byte) error {
	dst := t.server
	if t.tid.IsValid() {
		dst = t.tid
	}
	if _, err := t.conn.WriteTo(b, stdnet.UDPAddrFromAddrPort(dst)); err != nil {
		return fmt.Errorf("sending to %v: %w", dst, err)
	}
	return nil
}

// abort tells the server (if it spoke) that the transfer ends and returns
// err.
func (t *transfer) abort(code uint16, msg string, err error) error {
	if t.tid.IsValid() {
		t.conn.WriteTo(errPacket(code, msg), stdnet.UDPAddrFromAddrPort(t.tid))
	}
	return err
}

func (t *transfer) silent() error {
	wait := t.cfg.Timeout * time.Duration(t.cfg.Retries+1)
	if !t.tid.IsValid() {
		return fmt.Errorf("%w: no reply from %v to the read request for %q in %v (%d tries): server down, port blocked or wrong address?",
			ErrTimeout, t.server, t.file, wait, t.cfg.Retries+1)
	}
	return fmt.Errorf("%w: %v went silent after %d bytes (%d blocks); nothing for %v",
		ErrTimeout, t.tid, t.n, t.blocks, wait)
}

func addrPort(a stdnet.Addr) netip.AddrPort {
	if u, ok := a.(*stdnet.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
