// Package nfs is a read-only NFSv3 client over TCP and a fetch.Fetcher for
// nfs://server[:port]/export/path URLs, following iPXE:
//
//   - the portmapper (RFC 1833, program 100000 version 2, GETPORT) names
//     the MOUNT (100005 v3) and NFS (100003 v3) ports; a port in the URL
//     is the NFS port and skips that lookup for NFS;
//   - MOUNT's MNT is tried with the file's directory, then each shorter
//     prefix down to "/", until the server exports one (RFC 1813 appendix
//     I); the rest of the path is walked with LOOKUP, following up to 16
//     symbolic links (READLINK; an absolute target starts over with MNT);
//   - LOOKUP's attributes (or GETATTR) give the type and size (progress
//     total), READ fetches ChunkSize
//     bytes at a time, one call in flight; UMNT is sent once the file
//     handle is known.
//
// Calls are ONC RPC v2 (RFC 5531) with record marking over TCP, arguments
// and results in XDR (RFC 4506), credentials AUTH_SYS (uid 0, gid 0,
// machine name "snp-go") unless Config.AuthNone. No library fit: the Go
// NFS clients found are outside the allowed dependencies, so this is the
// small read-only subset iPXE needs.
package nfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	stdnet "net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/snp-go/snp-go/net/dns"
	"github.com/snp-go/snp-go/net/fetch"
)

// PortmapPort is the portmapper's port (RFC 1833 section 3).
const PortmapPort = 111

// ErrTimeout is wrapped when a server stops answering.
var ErrTimeout = errors.New("NFS server not answering")

// Config configures a Client.
type Config struct {
	// Dial opens a TCP connection from laddr (zero: any address and
	// port) to raddr. Required.
	Dial func(ctx context.Context, laddr, raddr netip.AddrPort) (stdnet.Conn, error)
	// Resolve turns a host name into an IPv4 address (nil: IP literals
	// only). dns.Resolver.LookupHost fits.
	Resolve func(ctx context.Context, host string) (netip.Addr, error)
	// ReservedPort binds the client's TCP ports below 1024, as Linux and
	// BSD clients do: Linux knfsd exports refuse other ports unless
	// exported "insecure". StackConfig sets it.
	ReservedPort bool
	// PortmapPort is where the portmapper listens (default 111).
	PortmapPort uint16
	// ChunkSize is the READ size (default 32 KiB, at most 1 MiB - 4 KiB;
	// servers may return less).
	ChunkSize int
	// Timeout bounds each call (default 30 s).
	Timeout time.Duration
	// AuthNone sends AUTH_NONE instead of AUTH_SYS credentials.
	AuthNone bool
	// UID, GID and MachineName fill AUTH_SYS (defaults 0, 0, "snp-go").
	UID, GID    uint32
	MachineName string
}

// Client downloads files over NFSv3. It is safe for concurrent use.
type Client struct {
	cfg  Config
	cred []byte
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Dial == nil {
		return nil, errors.New("nfs: Config.Dial is required")
	}
	if cfg.PortmapPort == 0 {
		cfg.PortmapPort = PortmapPort
	}
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = 32 << 10
	}
	if cfg.ChunkSize > maxRecord-4096 {
		return nil, fmt.Errorf("nfs: ChunkSize %d larger than %d", cfg.ChunkSize, maxRecord-4096)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MachineName == "" {
		cfg.MachineName = "snp-go"
	}
	if len(cfg.MachineName) > 255 {
		return nil, errors.New("nfs: MachineName longer than 255 bytes (RFC 5531 appendix A)")
	}
	return &Client{cfg: cfg, cred: credentials(!cfg.AuthNone, cfg.MachineName, cfg.UID, cfg.GID)}, nil
}

// StackConfig returns a Config that dials through r.Stack from reserved
// ports and resolves names with r.
func StackConfig(r *dns.Resolver) Config {
	return Config{
		Dial: func(ctx context.Context, laddr, raddr netip.AddrPort) (stdnet.Conn, error) {
			return r.Stack.DialTCP(ctx, laddr, raddr)
		},
		Resolve:      r.LookupHost,
		ReservedPort: true,
	}
}

// Fetch implements fetch.Fetcher.
func (c *Client) Fetch(ctx context.Context, u *url.URL, w io.Writer, opts fetch.Options) (int64, error) {
	host := u.Hostname()
	if host == "" {
		return 0, errors.New("no server in the URL")
	}
	var nfsPort uint16
	if p := u.Port(); p != "" {
		v, err := strconv.ParseUint(p, 10, 16)
		if err != nil || v == 0 {
			return 0, fmt.Errorf("bad port %q", p)
		}
		nfsPort = uint16(v)
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		if c.cfg.Resolve == nil {
			return 0, fmt.Errorf("cannot resolve %q: no resolver configured", host)
		}
		if addr, err = c.cfg.Resolve(ctx, host); err != nil {
			return 0, err
		}
	}
	return fetch.Metered(w, u.Redacted(), opts, func(open func(int64) (io.Writer, error)) (int64, error) {
		return c.Get(ctx, addr.Unmap(), nfsPort, u.Path, open)
	})
}

// Get downloads path (starting with the export) from server. nfsPort 0
// asks the portmapper. open is called once with the file's size before
// the first byte is written.
func (c *Client) Get(ctx context.Context, server netip.Addr, nfsPort uint16, path string, open func(size int64) (io.Writer, error)) (int64, error) {
	if strings.ContainsRune(path, 0) || len(path) > maxPath {
		return 0, fmt.Errorf("path %q unusable (NUL byte or longer than %d)", path, maxPath)
	}
	s := &session{c: c, ctx: ctx, server: server, nfsPort: nfsPort, xid: rand.Uint32()}
	defer s.close()
	fh, attr, err := s.resolve(path)
	if err != nil {
		return 0, err
	}
	if attr.typ != typeREG {
		if attr.typ == typeDIR {
			return 0, fmt.Errorf("%s is a directory", path)
		}
		return 0, fmt.Errorf("%s is not a regular file (type %d)", path, attr.typ)
	}
	if attr.size > 1<<62 {
		return 0, fmt.Errorf("%s: size %d not plausible", path, attr.size)
	}
	w, err := open(int64(attr.size))
	if err != nil {
		return 0, err
	}
	var off uint64
	chunk := uint32(c.cfg.ChunkSize)
	for off < attr.size {
		d, err := s.nfs.call(nfsREAD, putU32(putU64(putOpaque(nil, fh), off), chunk))
		if err != nil {
			return int64(off), err
		}
		data, eof, err := decodeRead(d, "READ "+path+" at "+strconv.FormatUint(off, 10), chunk)
		if err != nil {
			return int64(off), err
		}
		if len(data) > 0 {
			k, werr := w.Write(data)
			off += uint64(k)
			if werr != nil {
				return int64(off), werr
			}
		}
		if eof || len(data) == 0 {
			break
		}
	}
	if off != attr.size {
		return int64(off), fmt.Errorf("%s: read %d bytes; GETATTR said %d (file changed or truncated?)", path, off, attr.size)
	}
	return int64(off), nil
}

// session holds the connections of one download.
type session struct {
	c       *Client
	ctx     context.Context
	server  netip.Addr
	nfsPort uint16
	xid     uint32
	pmap    *rpcConn
	mount   *rpcConn
	nfs     *rpcConn
	mounted string
}

func (s *session) close() {
	s.umount()
	for _, c := range []*rpcConn{s.pmap, s.mount, s.nfs} {
		if c != nil {
			c.Close()
		}
	}
}

// umount tells MOUNT the client is done (UMNT; file handles stay valid in
// NFSv3) and closes that connection.
func (s *session) umount() {
	if s.mount == nil {
		return
	}
	if s.mounted != "" {
		s.mount.call(mountUMNT, putString(nil, s.mounted))
		s.mounted = ""
	}
	s.mount.Close()
	s.mount = nil
}

// dial connects to port from a reserved port if configured. A reserved
// port that is taken is skipped; 32 are tried from a random start in
// 512..1023.
func (s *session) dial(service string, port uint16, prog, vers uint32) (*rpcConn, error) {
	raddr := netip.AddrPortFrom(s.server, port)
	cfg := &s.c.cfg
	tries, lport := 1, 0
	if cfg.ReservedPort {
		tries, lport = 32, 512+rand.IntN(512)
	}
	var err error
	for i := 0; i < tries; i++ {
		var laddr netip.AddrPort
		if cfg.ReservedPort {
			laddr = netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(512+(lport-512+i)%512))
		}
		ctx, cancel := context.WithTimeout(s.ctx, cfg.Timeout)
		var conn stdnet.Conn
		conn, err = cfg.Dial(ctx, laddr, raddr)
		cancel()
		if err == nil {
			s.xid += 0x10000 // keep XIDs of the connections apart
			return newRPCConn(s.ctx, conn, service, prog, vers, s.c.cred, cfg.Timeout, s.xid), nil
		}
		if s.ctx.Err() != nil {
			return nil, fmt.Errorf("interrupted: %w", context.Cause(s.ctx))
		}
		// "address already in use" (host) or "port is in use" (gVisor).
		if !strings.Contains(err.Error(), "in use") {
			break
		}
	}
	return nil, fmt.Errorf("connecting to %s at %v: %w", service, raddr, err)
}

// getPort asks the portmapper where prog/vers listens on TCP.
func (s *session) getPort(name string, prog, vers uint32) (uint16, error) {
	if s.pmap == nil {
		c, err := s.dial("portmapper", s.c.cfg.PortmapPort, progPortmap, pmapVersion)
		if err != nil {
			return 0, err
		}
		s.pmap = c
	}
	args := putU32(putU32(putU32(putU32(nil, prog), vers), ipprotoTCP), 0)
	d, err := s.pmap.call(pmapGetPort, args)
	if err != nil {
		return 0, err
	}
	p, err := decodeGetPort(d)
	if err != nil {
		return 0, fmt.Errorf("portmapper reply: %w", err)
	}
	if p == 0 {
		return 0, fmt.Errorf("%s (program %d version %d over TCP) is not registered with the portmapper at %v", name, prog, vers, s.server)
	}
	return p, nil
}

func (s *session) connect() error {
	if s.mount == nil {
		p, err := s.getPort("MOUNT", progMount, mountVersion)
		if err != nil {
			return err
		}
		if s.mount, err = s.dial("MOUNT", p, progMount, mountVersion); err != nil {
			return err
		}
	}
	if s.nfs == nil {
		p := s.nfsPort
		if p == 0 {
			var err error
			if p, err = s.getPort("NFS", progNFS, nfsVersion); err != nil {
				return err
			}
		}
		c, err := s.dial("NFS", p, progNFS, nfsVersion)
		if err != nil {
			return err
		}
		s.nfs = c
	}
	if s.pmap != nil {
		s.pmap.Close()
		s.pmap = nil
	}
	return nil
}

func split(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

// resolve mounts the longest exported prefix of path's directory and
// walks the rest; it returns the file's handle and attributes.
func (s *session) resolve(path string) ([]byte, fattr, error) {
	links := 0
	for {
		comps := split(path)
		if len(comps) == 0 {
			return nil, fattr{}, errors.New("no file name in the URL")
		}
		if err := s.connect(); err != nil {
			return nil, fattr{}, err
		}
		var root []byte
		var rest []string
		var firstErr error
		for i := len(comps) - 1; i >= 0; i-- {
			mp := "/" + strings.Join(comps[:i], "/")
			d, err := s.mount.call(mountMNT, putString(nil, mp))
			if err == nil {
				root, err = decodeMount(d, "MOUNT "+mp)
			}
			if err == nil {
				s.mounted, rest = mp, comps[i:]
				break
			}
			var se *StatusError
			if !errors.As(err, &se) {
				return nil, fattr{}, err
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		if root == nil {
			return nil, fattr{}, fmt.Errorf("no directory of %s is exported to this client: %w", path, firstErr)
		}
		dir, dirName := root, s.mounted
		var attr fattr
		restart := false
		for i := 0; i < len(rest); i++ {
			name := rest[i]
			if len(name) > maxName {
				return nil, fattr{}, fmt.Errorf("name %q longer than %d bytes", name[:32]+"...", maxName)
			}
			op := fmt.Sprintf("LOOKUP %q in %s", name, dirName)
			d, err := s.nfs.call(nfsLOOKUP, putString(putOpaque(nil, dir), name))
			if err != nil {
				return nil, fattr{}, err
			}
			fh, a, ok, err := decodeLookup(d, op)
			if err != nil {
				return nil, fattr{}, err
			}
			if !ok {
				if a, err = s.getattr(fh, dirName+"/"+name); err != nil {
					return nil, fattr{}, err
				}
			}
			if a.typ == typeLNK {
				if links++; links > 16 {
					return nil, fattr{}, fmt.Errorf("%s: more than 16 symbolic links", path)
				}
				d, err := s.nfs.call(nfsREADLINK, putOpaque(nil, fh))
				if err != nil {
					return nil, fattr{}, err
				}
				target, err := decodeReadlink(d, "READLINK "+dirName+"/"+name)
				if err != nil {
					return nil, fattr{}, err
				}
				if strings.HasPrefix(target, "/") {
					path = target + "/" + strings.Join(rest[i+1:], "/")
					restart = true
					break
				}
				rest = append(split(target), rest[i+1:]...)
				i = -1
				continue
			}
			if i < len(rest)-1 && a.typ != typeDIR {
				return nil, fattr{}, &StatusError{Op: op + " (then " + rest[i+1] + ")", Status: statNOTDIR}
			}
			dir, attr = fh, a
			dirName = strings.TrimSuffix(dirName, "/") + "/" + name
		}
		if restart {
			s.umount()
			continue
		}
		if attr.typ == 0 { // a link to "." left no component: the directory itself
			a, err := s.getattr(dir, dirName)
			if err != nil {
				return nil, fattr{}, err
			}
			attr = a
		}
		s.umount()
		return dir, attr, nil
	}
}

func (s *session) getattr(fh []byte, name string) (fattr, error) {
	d, err := s.nfs.call(nfsGETATTR, putOpaque(nil, fh))
	if err != nil {
		return fattr{}, err
	}
	return decodeGetattr(d, "GETATTR "+name)
}
