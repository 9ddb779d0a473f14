// Package ftp is a read-only FTP client (RFC 959) and a fetch.Fetcher for
// ftp://[user[:password]@]server[:port]/path URLs, as iPXE fetches them:
// log in (anonymous by default), TYPE I (binary), SIZE (RFC 3659) for the
// progress total, passive mode (EPSV, RFC 2428, falling back to PASV) and
// RETR. As in iPXE, the URL path is sent as is, leading "/" included.
//
// The data connection always goes to the control connection's peer: the
// address inside a PASV reply is ignored (RFC 2577 section 3, "bounce"), so
// servers behind NAT that announce a private address work too.
//
// Errors name the command and the server's reply code and text; the
// password is never part of an error or a log line.
package ftp

import (
	"bufio"
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

// Port is the FTP control port (RFC 959 section 3.2 via the IANA registry).
const Port = 21

// Anonymous login (RFC 1635): user "anonymous", an e-mail-like password.
const (
	AnonymousUser     = "anonymous"
	AnonymousPassword = "snp-go@"
)

// ErrTimeout is wrapped when the server goes silent.
var ErrTimeout = errors.New("FTP server not answering")

// Config configures a Client.
type Config struct {
	// Dial opens TCP connections; host names in addresses must be resolved
	// by it (dns.Resolver.Dialer does both). Required.
	Dial func(ctx context.Context, network, address string) (stdnet.Conn, error)
	// Timeout bounds the wait for each reply and each silence on the data
	// connection (default 30 s).
	Timeout time.Duration
}

// Client downloads files over FTP. It is safe for concurrent use.
type Client struct{ cfg Config }

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Dial == nil {
		return nil, errors.New("ftp: Config.Dial is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &Client{cfg: cfg}, nil
}

// StackConfig returns a Config that resolves names with r and dials
// through r.Stack.
func StackConfig(r *dns.Resolver) Config { return Config{Dial: r.Dialer()} }

// ReplyError is a reply that ended the download.
type ReplyError struct {
	Command string // "RETR /boot/x", "PASS" (never the password)
	Reply   Reply
}

func (e *ReplyError) Error() string {
	return fmt.Sprintf("%s: server replied %d %s", e.Command, e.Reply.Code, oneLine(e.Reply.Text))
}

// NotFound reports whether the server refused a RETR or SIZE with 550
// (file unavailable, RFC 959 section 4.2.2).
func (e *ReplyError) NotFound() bool {
	return e.Reply.Code == 550 && (strings.HasPrefix(e.Command, "RETR ") || strings.HasPrefix(e.Command, "SIZE "))
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " / ") }

// Fetch implements fetch.Fetcher.
func (c *Client) Fetch(ctx context.Context, u *url.URL, w io.Writer, opts fetch.Options) (int64, error) {
	host := u.Hostname()
	if host == "" {
		return 0, errors.New("no server in the URL")
	}
	port := u.Port()
	if port == "" {
		port = strconv.Itoa(Port)
	} else if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return 0, fmt.Errorf("bad port %q", port)
	}
	user, pass := AnonymousUser, AnonymousPassword
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	path := u.Path
	if path == "" || path == "/" {
		return 0, errors.New("no file name in the URL")
	}
	for _, f := range []struct{ what, v string }{{"path", path}, {"user name", user}, {"password", pass}} {
		if strings.ContainsAny(f.v, "\r\n\x00") {
			return 0, fmt.Errorf("%s contains CR, LF or NUL, which FTP commands cannot carry", f.what)
		}
	}
	s := &session{cfg: &c.cfg, ctx: ctx}
	defer s.close()
	if err := s.login(stdnet.JoinHostPort(host, port), user, pass); err != nil {
		return 0, err
	}
	return s.retr(path, func(size int64) (io.Writer, error) {
		m, err := fetch.NewMeter(w, u.Redacted(), size, opts)
		if m != nil {
			s.meter = m
		}
		return m, err
	})
}

// session is one control connection.
type session struct {
	cfg   *Config
	ctx   context.Context
	conn  stdnet.Conn
	r     *bufio.Reader
	mu    sync.Mutex // guards data and deadlines against the cancel callback
	data  stdnet.Conn
	meter *fetch.Meter
	stop  func() bool
}

func (s *session) close() {
	if s.meter != nil {
		s.meter.Finish()
	}
	if s.stop != nil {
		s.stop()
	}
	s.setData(nil)
	if s.conn != nil {
		// Polite QUIT (RFC 959 section 4.1.1); the reply does not matter.
		s.conn.SetDeadline(time.Now().Add(time.Second))
		io.WriteString(s.conn, "QUIT\r\n")
		s.conn.Close()
	}
}

// fail turns I/O errors into what the user should know: interrupted,
// silent server, or the error itself, prefixed with what was going on.
func (s *session) fail(doing string, err error) error {
	if s.ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", context.Cause(s.ctx))
	}
	var ne stdnet.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%s: %w: nothing for %v", doing, ErrTimeout, s.cfg.Timeout)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

func (s *session) login(addr, user, pass string) error {
	dctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
	conn, err := s.cfg.Dial(dctx, "tcp", addr)
	cancel()
	if err != nil {
		return s.fail("connecting to "+addr, err)
	}
	s.conn, s.r = conn, bufio.NewReaderSize(conn, 1024)
	// Ctrl-C: unblock any read or write at once.
	s.stop = context.AfterFunc(s.ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.conn.SetDeadline(time.Unix(1, 0))
		if s.data != nil {
			s.data.SetDeadline(time.Unix(1, 0))
		}
	})
	// Greeting: 120 (wait) then 220, or 220 (RFC 959 section 5.4).
	for {
		r, err := s.reply("greeting")
		if err != nil {
			return err
		}
		if r.Code == 120 {
			continue
		}
		if r.Code != 220 {
			return &ReplyError{Command: "connect", Reply: r}
		}
		break
	}
	r, err := s.cmd("USER "+user, "USER "+user)
	if err != nil {
		return err
	}
	if r.Code == 331 {
		if r, err = s.cmd("PASS "+pass, "PASS"); err != nil {
			return err
		}
	}
	if r.Code != 230 && r.Code != 202 {
		if r.Code == 332 {
			return fmt.Errorf("login as %q: server wants an account (ACCT), which snp-go does not send: %d %s", user, r.Code, oneLine(r.Text))
		}
		return fmt.Errorf("login as %q refused: %w", user, &ReplyError{Command: "login", Reply: r})
	}
	if r, err = s.cmd("TYPE I", "TYPE I"); err != nil {
		return err
	}
	if r.Code != 200 {
		return &ReplyError{Command: "TYPE I", Reply: r}
	}
	return nil
}

// cmd sends line and reads the final reply (preliminary 1xx replies are
// returned too: callers that expect them check). shown is what errors may
// print of the command.
func (s *session) cmd(line, shown string) (Reply, error) {
	s.arm(s.conn)
	if _, err := io.WriteString(s.conn, line+"\r\n"); err != nil {
		return Reply{}, s.fail("sending "+shown, err)
	}
	return s.reply(shown)
}

func (s *session) reply(doing string) (Reply, error) {
	s.arm(s.conn)
	r, err := readReply(s.r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("server closed the control connection")
		}
		return r, s.fail("waiting for the reply to "+doing, err)
	}
	if r.Code == 421 { // service closing (RFC 959 section 4.2.2)
		return r, &ReplyError{Command: doing, Reply: r}
	}
	return r, nil
}

// retr downloads path over a passive data connection.
func (s *session) retr(path string, open func(int64) (io.Writer, error)) (int64, error) {
	size := int64(-1)
	r, err := s.cmd("SIZE "+path, "SIZE "+path)
	if err != nil {
		return 0, err
	}
	if r.Code == 213 {
		if size, err = parseSize(r.Text); err != nil {
			return 0, err
		}
	} // else: SIZE unsupported or refused; RETR will say why if it matters
	if err := s.passive(); err != nil {
		return 0, err
	}
	if r, err = s.cmd("RETR "+path, "RETR "+path); err != nil {
		return 0, err
	}
	if r.Code != 125 && r.Code != 150 {
		return 0, &ReplyError{Command: "RETR " + path, Reply: r}
	}
	w, err := open(size)
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 32<<10)
	var n int64
	for {
		s.arm(s.data)
		k, rerr := s.data.Read(buf)
		if k > 0 {
			m, werr := w.Write(buf[:k])
			n += int64(m)
			if werr != nil {
				return n, werr
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return n, s.fail(fmt.Sprintf("receiving %s after %d bytes", path, n), rerr)
		}
	}
	s.setData(nil)
	// 226/250 after the data connection closed (RFC 959 section 5.4).
	if r, err = s.reply("RETR " + path + " (end of transfer)"); err != nil {
		return n, err
	}
	if r.Code != 226 && r.Code != 250 {
		return n, &ReplyError{Command: "RETR " + path, Reply: r}
	}
	if size >= 0 && n != size {
		return n, fmt.Errorf("received %d bytes of %s; SIZE said %d", n, path, size)
	}
	return n, nil
}

// passive opens the data connection: EPSV first (RFC 2428 section 3), PASV
// if the server does not know it. Either way the connection goes to the
// control connection's peer address.
func (s *session) passive() error {
	peer, err := netip.ParseAddrPort(s.conn.RemoteAddr().String())
	if err != nil {
		return fmt.Errorf("control connection peer %q: %w", s.conn.RemoteAddr(), err)
	}
	var port uint16
	r, err := s.cmd("EPSV", "EPSV")
	if err != nil {
		return err
	}
	if r.Code == 229 {
		if port, err = parseEPSV(r.Text); err != nil {
			return err
		}
	} else {
		if r, err = s.cmd("PASV", "PASV"); err != nil {
			return err
		}
		if r.Code != 227 {
			return &ReplyError{Command: "PASV", Reply: r}
		}
		ap, err := parsePASV(r.Text)
		if err != nil {
			return err
		}
		port = ap.Port()
	}
	addr := netip.AddrPortFrom(peer.Addr().Unmap(), port).String()
	dctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
	defer cancel()
	d, err := s.cfg.Dial(dctx, "tcp", addr)
	if err != nil {
		return s.fail("opening the data connection to "+addr, err)
	}
	s.setData(d)
	return nil
}

// arm gives c another Timeout, unless the context is done: then (as in
// the cancel callback, under the same lock, so neither undoes the other)
// the deadline is in the past.
func (s *session) arm(c stdnet.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		c.SetDeadline(time.Unix(1, 0))
		return
	}
	c.SetDeadline(time.Now().Add(s.cfg.Timeout))
}

// setData replaces (and closes) the data connection.
func (s *session) setData(d stdnet.Conn) {
	s.mu.Lock()
	old := s.data
	s.data = d
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
}
