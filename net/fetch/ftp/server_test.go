package ftp

import (
	"bufio"
	"fmt"
	"io"
	stdnet "net"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// goServer is a small scripted FTP server (RFC 959 subset: USER, PASS,
// TYPE, SIZE, EPSV, PASV, RETR, QUIT) used for the cases a real server
// cannot be made to produce: wrong passwords, no EPSV, lying PASV
// addresses, silence.
type goServer struct {
	t      testing.TB
	ln     stdnet.Listener
	listen func(netip.AddrPort) (stdnet.Listener, error)
	addr   netip.AddrPort
	files  map[string][]byte

	user, pass  string // accepted login ("" user: anonymous only)
	noEPSV      bool   // answer EPSV with 502
	pasvIP      string // address announced in PASV replies (default: real)
	noSize      bool   // answer SIZE with 502
	greeting    string // full greeting (default "220 ready")
	silentAfter string // stop answering after this command verb
	stallAfter  int    // data: send this many bytes, then nothing (0: off)

	mu       sync.Mutex
	commands []string
	wg       sync.WaitGroup
	release  chan struct{}
}

func newGoServer(t testing.TB, listen func(netip.AddrPort) (stdnet.Listener, error), bind netip.AddrPort, files map[string][]byte) *goServer {
	ln, err := listen(bind)
	if err != nil {
		t.Fatal(err)
	}
	s := &goServer{t: t, ln: ln, listen: listen, files: files, release: make(chan struct{})}
	s.addr = netip.MustParseAddrPort(ln.Addr().String())
	return s
}

func (s *goServer) start() *goServer {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); defer c.Close(); s.serve(c) }()
		}
	}()
	s.t.Cleanup(func() { close(s.release); s.ln.Close(); s.wg.Wait() })
	return s
}

func (s *goServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

func (s *goServer) serve(c stdnet.Conn) {
	r := bufio.NewReader(c)
	say := func(f string, a ...any) { fmt.Fprintf(c, f+"\r\n", a...) }
	if s.greeting != "" {
		io.WriteString(c, s.greeting)
	} else {
		say("220 ready")
	}
	var pasv stdnet.Listener
	defer func() {
		if pasv != nil {
			pasv.Close()
		}
	}()
	user := ""
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		s.commands = append(s.commands, line)
		s.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		if s.silentAfter != "" && verb == s.silentAfter {
			<-s.release
			return
		}
		switch verb {
		case "USER":
			user = arg
			say("331 password please")
		case "PASS":
			if (s.user == "" && user == "anonymous") || (user == s.user && arg == s.pass) {
				say("230 logged in")
			} else {
				say("530 Login incorrect.")
			}
		case "TYPE":
			say("200 type %s", arg)
		case "SIZE":
			if s.noSize {
				say("502 not implemented")
			} else if b, ok := s.files[arg]; ok {
				say("213 %d", len(b))
			} else {
				say("550 no such file")
			}
		case "EPSV", "PASV":
			if verb == "EPSV" && s.noEPSV {
				say("502 EPSV not implemented")
				continue
			}
			if pasv != nil {
				pasv.Close()
			}
			host := netip.MustParseAddrPort(c.LocalAddr().String()).Addr()
			if pasv, err = s.listen(netip.AddrPortFrom(host, 0)); err != nil {
				say("425 %v", err)
				continue
			}
			p := netip.MustParseAddrPort(pasv.Addr().String()).Port()
			if verb == "EPSV" {
				say("229 Entering Extended Passive Mode (|||%d|)", p)
			} else {
				ip := host.As4()
				if s.pasvIP != "" {
					ip = netip.MustParseAddr(s.pasvIP).As4()
				}
				say("227 Entering Passive Mode (%d,%d,%d,%d,%d,%d).", ip[0], ip[1], ip[2], ip[3], p>>8, p&0xff)
			}
		case "RETR":
			b, ok := s.files[arg]
			if !ok {
				say("550 Failed to open file.")
				continue
			}
			if pasv == nil {
				say("425 use PASV first")
				continue
			}
			say("150 here it comes")
			d, err := pasv.Accept()
			if err != nil {
				say("425 %v", err)
				continue
			}
			if s.stallAfter > 0 {
				d.Write(b[:s.stallAfter])
				<-s.release
				d.Close()
				return
			}
			d.Write(b)
			d.Close()
			say("226 done")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 %s not implemented", verb)
		}
	}
}
