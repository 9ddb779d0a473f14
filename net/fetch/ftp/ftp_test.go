package ftp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	stdnet "net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snp-go/snp-go/net/dns"
	"github.com/snp-go/snp-go/net/fetch"
	"github.com/snp-go/snp-go/net/fetch/fetchtest"
	"github.com/snp-go/snp-go/net/nettest"
)

func osDial(ctx context.Context, network, addr string) (stdnet.Conn, error) {
	var d stdnet.Dialer
	return d.DialContext(ctx, network, addr)
}

func osListen(a netip.AddrPort) (stdnet.Listener, error) { return stdnet.Listen("tcp4", a.String()) }

var loopback = netip.MustParseAddrPort("127.0.0.1:0")

func newClient(t testing.TB, cfg Config) *fetch.Client {
	t.Helper()
	if cfg.Dial == nil {
		cfg.Dial = osDial
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fetchtest.Client("ftp", c)
}

// startVsftpd runs Debian's vsftpd on 127.0.0.1 with an anonymous,
// read-only root holding files.
func startVsftpd(t *testing.T, files map[string][]byte) string {
	bin, err := exec.LookPath("vsftpd")
	if err != nil {
		t.Skip("vsftpd not installed (apt-get install vsftpd)")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	root, empty := filepath.Join(dir, "root"), filepath.Join(dir, "empty")
	for name, b := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(empty, 0o755)
	for try := 0; try < 5; try++ {
		ln, err := stdnet.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*stdnet.TCPAddr).Port
		ln.Close()
		conf := fmt.Sprintf(`listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=%d
background=NO
anonymous_enable=YES
anon_root=%s
no_anon_password=YES
local_enable=NO
write_enable=NO
secure_chroot_dir=%s
seccomp_sandbox=NO
xferlog_enable=NO
`, port, root, empty)
		if os.Geteuid() != 0 {
			conf += "run_as_launching_user=YES\n"
		}
		cf := filepath.Join(dir, "vsftpd.conf")
		os.WriteFile(cf, []byte(conf), 0o644)
		cmd := exec.Command(bin, cf)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		for i := 0; i < 50; i++ {
			select {
			case <-exited:
				t.Logf("vsftpd on %s exited: %s", addr, out.String())
				i = 50
				continue
			default:
			}
			if c, err := stdnet.Dial("tcp4", addr); err == nil {
				c.Close()
				t.Cleanup(func() { cmd.Process.Kill(); <-exited })
				return addr
			}
			time.Sleep(50 * time.Millisecond)
		}
		cmd.Process.Kill()
		<-exited
	}
	t.Fatal("vsftpd did not start")
	return ""
}

func TestVsftpd(t *testing.T) {
	files := map[string][]byte{"pub/image.bin": fetchtest.Content(3<<20 + 17), "pub/empty": nil, "top": fetchtest.Content(10)}
	addr := startVsftpd(t, files)
	fc := newClient(t, Config{Timeout: 5 * time.Second})
	ctx := context.Background()
	for name, want := range files {
		url := "ftp://" + addr + "/" + name
		r := fetchtest.Get(fc, ctx, url, fetch.Options{})
		if r.Err != nil || sha256.Sum256(r.Body) != sha256.Sum256(want) {
			t.Fatalf("Fetch(%s) = %d bytes, %v; want %d bytes with the same SHA-256", url, len(r.Body), r.Err, len(want))
		}
		last := r.Reports[len(r.Reports)-1]
		if !last.Done || last.Total != int64(len(want)) || last.Bytes != int64(len(want)) {
			t.Errorf("Fetch(%s) last progress %+v; want Done with Total = Bytes = %d", url, last, len(want))
		}
	}
	t.Run("not found", func(t *testing.T) {
		r := fetchtest.Get(fc, ctx, "ftp://"+addr+"/pub/nope", fetch.Options{})
		var re *ReplyError
		if !errors.As(r.Err, &re) || !re.NotFound() || !strings.Contains(r.Err.Error(), "RETR /pub/nope: server replied 550") {
			t.Errorf("Fetch(missing) = %v; want RETR /pub/nope: server replied 550", r.Err)
		}
	})
	t.Run("limit", func(t *testing.T) {
		r := fetchtest.Get(fc, ctx, "ftp://"+addr+"/pub/image.bin", fetch.Options{Limit: 1 << 20})
		if !errors.Is(r.Err, fetch.ErrTooLarge) || !strings.Contains(r.Err.Error(), "3145745 bytes announced") || len(r.Body) != 0 {
			t.Errorf("Fetch(limit 1 MiB) = %d bytes, %v; want ErrTooLarge before any data", len(r.Body), r.Err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		w := &fetchtest.CancelWriter{After: 100000, Cancel: cancel}
		start := time.Now()
		_, err := fc.Fetch(ctx, "ftp://"+addr+"/pub/image.bin", w, fetch.Options{})
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") || w.N >= 3<<20 {
			t.Errorf("cancelled Fetch = %d bytes, %v; want part, interrupted", w.N, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("cancel took %v", d)
		}
	})
}

func TestGoServer(t *testing.T) {
	files := map[string][]byte{"/boot/vmlinuz": fetchtest.Content(100000)}
	for _, tc := range []struct {
		name   string
		srv    func(*goServer)
		url    string // path after host:port
		user   string // user:pass@ prefix
		want   string // "" success, else error substring
		is     error
		checks []string // commands the server must have seen
	}{
		{"anonymous EPSV", nil, "/boot/vmlinuz", "", "", nil,
			[]string{"USER anonymous", "PASS snp-go@", "TYPE I", "SIZE /boot/vmlinuz", "EPSV", "RETR /boot/vmlinuz"}},
		{"PASV fallback ignores the announced address", func(s *goServer) { s.noEPSV = true; s.pasvIP = "192.0.2.9" }, "/boot/vmlinuz", "", "", nil,
			[]string{"EPSV", "PASV", "RETR /boot/vmlinuz"}},
		{"no SIZE", func(s *goServer) { s.noSize = true }, "/boot/vmlinuz", "", "", nil, []string{"SIZE /boot/vmlinuz"}},
		{"user and password", func(s *goServer) { s.user, s.pass = "alice", "s3cret" }, "/boot/vmlinuz", "alice:s3cret@", "", nil,
			[]string{"USER alice", "PASS s3cret"}},
		{"percent-encoded credentials", func(s *goServer) { s.user, s.pass = "a@b", "p:w" }, "/boot/vmlinuz", "a%40b:p%3Aw@", "", nil,
			[]string{"USER a@b", "PASS p:w"}},
		{"wrong password", func(s *goServer) { s.user, s.pass = "alice", "s3cret" }, "/boot/vmlinuz", "alice:wrong@",
			`login as "alice" refused: login: server replied 530 Login incorrect.`, nil, nil},
		{"multi-line greeting", func(s *goServer) { s.greeting = "220-Welcome\r\n to the\r\n220 server\r\n" }, "/boot/vmlinuz", "", "", nil, nil},
		{"refused greeting", func(s *goServer) { s.greeting = "421 too many users\r\n" }, "/boot/vmlinuz", "", "server replied 421 too many users", nil, nil},
		{"not found", nil, "/boot/nope", "", "RETR /boot/nope: server replied 550 Failed to open file.", nil, nil},
		{"silent after USER", func(s *goServer) { s.silentAfter = "USER" }, "/boot/vmlinuz", "",
			"waiting for the reply to USER anonymous: FTP server not answering: nothing for 300ms", ErrTimeout, nil},
		{"data stalls", func(s *goServer) { s.stallAfter = 5000 }, "/boot/vmlinuz", "",
			"receiving /boot/vmlinuz after 5000 bytes: FTP server not answering", ErrTimeout, nil},
		{"CRLF in path", nil, "/boot/x%0d%0aDELE%20y", "", "path contains CR, LF or NUL", nil, nil},
		{"no path", nil, "/", "", "no file name", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newGoServer(t, osListen, loopback, files)
			if tc.srv != nil {
				tc.srv(s)
			}
			s.start()
			fc := newClient(t, Config{Timeout: 300 * time.Millisecond})
			url := "ftp://" + tc.user + s.addr.String() + tc.url
			r := fetchtest.Get(fc, context.Background(), url, fetch.Options{})
			if tc.want == "" {
				if r.Err != nil || !bytes.Equal(r.Body, files[tc.url]) {
					t.Fatalf("Fetch(%s) = %d bytes, %v; want %d bytes intact", tc.url, len(r.Body), r.Err, len(files[tc.url]))
				}
			} else if r.Err == nil || !strings.Contains(r.Err.Error(), tc.want) || (tc.is != nil && !errors.Is(r.Err, tc.is)) {
				t.Fatalf("Fetch(%s) = %v; want error containing %q", tc.url, r.Err, tc.want)
			}
			if r.Err != nil {
				if p := "s3cret"; strings.Contains(r.Err.Error(), p) || strings.Contains(r.Err.Error(), "wrong") {
					t.Errorf("error leaks the password: %v", r.Err)
				}
				t.Logf("%v", r.Err)
			}
			seen := strings.Join(s.seen(), "\n")
			for _, c := range tc.checks {
				if !strings.Contains(seen, c) {
					t.Errorf("server saw %q; want %q among the commands", seen, c)
				}
			}
		})
	}
}

// TestStack runs client and server on two gVisor stacks, the client wired
// with StackConfig as snp-go does.
func TestStack(t *testing.T) {
	a, b := nettest.Pair(t, nettest.HostOptions{}, nettest.HostOptions{})
	listen := func(ap netip.AddrPort) (stdnet.Listener, error) {
		return b.Stack.ListenTCP(netip.AddrPortFrom(b.Addr, ap.Port()))
	}
	want := fetchtest.Content(1 << 20)
	s := newGoServer(t, listen, netip.AddrPortFrom(b.Addr, 21), map[string][]byte{"/big": want}).start()
	_ = s
	fc := fetch.NewClient()
	if err := fetch.RegisterNew(fc, "ftp", New, StackConfig(&dns.Resolver{Stack: a.Stack, Servers: []netip.Addr{b.Addr}})); err != nil {
		t.Fatal(err)
	}
	r := fetchtest.Get(fc, context.Background(), "ftp://10.0.0.2/big", fetch.Options{})
	if r.Err != nil || !bytes.Equal(r.Body, want) {
		t.Fatalf("Fetch over the stack = %d bytes, %v; want %d intact", len(r.Body), r.Err, len(want))
	}
	if last := r.Reports[len(r.Reports)-1]; last.Total != int64(len(want)) {
		t.Errorf("last progress %+v; want Total %d", last, len(want))
	}
}
