package tftp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	stdnet "net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/snp-go/snp-go/net/dns"
	"github.com/snp-go/snp-go/net/fetch"
	"github.com/snp-go/snp-go/net/fetch/fetchtest"
	"github.com/snp-go/snp-go/net/nettest"
)

var loopback = netip.MustParseAddrPort("127.0.0.1:0")

func osListen(laddr netip.AddrPort) (stdnet.PacketConn, error) {
	if !laddr.Addr().IsValid() {
		laddr = netip.AddrPortFrom(netip.IPv4Unspecified(), laddr.Port())
	}
	return stdnet.ListenUDP("udp4", stdnet.UDPAddrFromAddrPort(laddr))
}

func testFiles() map[string][]byte {
	m := map[string][]byte{"/abs/file": fetchtest.Content(1000)}
	for _, n := range []int{0, 1, 511, 512, 1428, 3 * 1428, 200000} {
		m["f"+itoa(n)] = fetchtest.Content(n)
	}
	return m
}

func itoa(n int) string { return strconv.Itoa(n) }

func newClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	if cfg.Listen == nil {
		cfg.Listen = osListen
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 100 * time.Millisecond
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fetchURL runs c through a fetch.Client, as the script engine does.
func fetchURL(c *Client, ctx context.Context, url string, opts fetch.Options) ([]byte, []fetch.Progress, error) {
	r := fetchtest.Get(fetchtest.Client("tftp", c), ctx, url, opts)
	return r.Body, r.Reports, r.Err
}

func TestFetch(t *testing.T) {
	files := testFiles()
	for _, tc := range []struct {
		name     string
		srv      func(*testServer)
		cfg      Config
		wantBlk  string // blksize the client asked for ("" none)
		sizeKnow bool
	}{
		{"options", func(*testServer) {}, Config{}, "1428", true},
		{"server caps blksize", func(s *testServer) { s.maxBlock = 512 }, Config{}, "1428", true},
		{"small blksize", func(*testServer) {}, Config{BlockSize: 100}, "100", true},
		{"RFC 1350 server", func(s *testServer) { s.ignoreOpts = true }, Config{}, "1428", false},
		{"no options", func(*testServer) {}, Config{NoOptions: true}, "", false},
		{"server refuses options", func(s *testServer) { s.refuseOpts = true }, Config{}, "1428", false},
		{"reply from port 69 (slirp)", func(s *testServer) { s.sameTID = true }, Config{}, "1428", true},
		{"lost blocks", func(s *testServer) { s.dropOnce = map[int]bool{1: true, 3: true, 4: true} }, Config{}, "1428", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, osListen, loopback, files)
			tc.srv(s)
			s.start()
			c := newClient(t, tc.cfg)
			for name, want := range files {
				if strings.HasPrefix(name, "/") {
					continue
				}
				url := "tftp://" + s.addr.String() + "/" + name
				got, reps, err := fetchURL(c, context.Background(), url, fetch.Options{})
				if err != nil || sha256.Sum256(got) != sha256.Sum256(want) {
					t.Fatalf("Fetch(%s) = %d bytes, %v; want %d bytes with the same SHA-256", url, len(got), err, len(want))
				}
				last := reps[len(reps)-1]
				wantTotal := int64(-1)
				if tc.sizeKnow {
					wantTotal = int64(len(want))
				}
				if !last.Done || last.Bytes != int64(len(want)) || last.Total != wantTotal {
					t.Errorf("Fetch(%s) last progress %+v; want Done, Bytes %d, Total %d", url, last, len(want), wantTotal)
				}
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if got := s.reqOpts[0]["blksize"]; got != tc.wantBlk {
				t.Errorf("client asked blksize %q; want %q", got, tc.wantBlk)
			}
			if ts, ok := s.reqOpts[0]["tsize"]; (tc.wantBlk != "") != ok || (ok && ts != "0") {
				t.Errorf("client sent tsize %q (present %v); want \"0\" when options are on", ts, ok)
			}
		})
	}
}

func TestFetchPath(t *testing.T) {
	s := newTestServer(t, osListen, loopback, testFiles()).start()
	c := newClient(t, Config{})
	for _, tc := range []struct{ url, want string }{
		{"tftp://" + s.addr.String() + "/f1", "f1"},
		{"tftp://" + s.addr.String() + "//abs/file", "/abs/file"},
		{"tftp://" + s.addr.String() + "/f%31", "f1"},
	} {
		if _, _, err := fetchURL(c, context.Background(), tc.url, fetch.Options{}); err != nil {
			t.Errorf("Fetch(%s) = %v", tc.url, err)
		}
		s.mu.Lock()
		got := s.requests[len(s.requests)-1]
		s.mu.Unlock()
		if got != tc.want {
			t.Errorf("Fetch(%s) asked for %q; want %q", tc.url, got, tc.want)
		}
	}
	for _, tc := range []struct{ url, want string }{
		{"tftp://" + s.addr.String() + "/", "no file name"},
		{"tftp://127.0.0.1:0/x", "bad port"},
		{"tftp://boot.example/x", "no resolver configured"},
	} {
		if _, _, err := fetchURL(c, context.Background(), tc.url, fetch.Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Fetch(%s) = %v; want error containing %q", tc.url, err, tc.want)
		}
	}
}

func TestErrors(t *testing.T) {
	files := testFiles()
	type check func(t *testing.T, s *testServer, n int, err error, took time.Duration)
	for _, tc := range []struct {
		name  string
		srv   func(*testServer)
		file  string
		opts  fetch.Options
		cfg   Config
		check check
	}{
		{"not found", nil, "missing", fetch.Options{}, Config{}, func(t *testing.T, s *testServer, n int, err error, _ time.Duration) {
			var se *ServerError
			if !errors.As(err, &se) || !se.NotFound() || !strings.Contains(err.Error(), `file "missing" not found on 127.0.0.1`) ||
				!strings.Contains(err.Error(), "TFTP error 1") {
				t.Errorf("error %v; want file not found (TFTP error 1)", err)
			}
		}},
		{"no answer", func(s *testServer) { s.mute = true }, "f1", fetch.Options{}, Config{Retries: 3}, func(t *testing.T, s *testServer, n int, err error, took time.Duration) {
			if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "no reply from "+s.addr.String()) || !strings.Contains(err.Error(), "4 tries") {
				t.Errorf("error %v; want ErrTimeout, no reply after 4 tries", err)
			}
			if took < 400*time.Millisecond || took > 2*time.Second {
				t.Errorf("gave up after %v; want ~400 ms (4 × 100 ms)", took)
			}
		}},
		{"server goes silent", func(s *testServer) { s.stopAfter = 5 }, "f200000", fetch.Options{}, Config{}, func(t *testing.T, s *testServer, n int, err error, _ time.Duration) {
			if !errors.Is(err, ErrTimeout) || n != 5*1428 || !strings.Contains(err.Error(), "went silent after 7140 bytes (5 blocks)") {
				t.Errorf("= %d, %v; want 7140 bytes, ErrTimeout went silent", n, err)
			}
		}},
		{"limit known size", nil, "f200000", fetch.Options{Limit: 100000}, Config{}, func(t *testing.T, s *testServer, n int, err error, _ time.Duration) {
			if !errors.Is(err, fetch.ErrTooLarge) || n != 0 || !strings.Contains(err.Error(), "200000 bytes announced") {
				t.Errorf("= %d, %v; want 0 bytes, ErrTooLarge 200000 bytes announced", n, err)
			}
			waitClientErr(t, s, ErrDiskFull)
		}},
		{"limit unknown size", func(s *testServer) { s.ignoreOpts = true }, "f200000", fetch.Options{Limit: 100000}, Config{}, func(t *testing.T, s *testServer, n int, err error, _ time.Duration) {
			if !errors.Is(err, fetch.ErrTooLarge) || n != 99840 {
				t.Errorf("= %d, %v; want 99840 bytes (195 blocks of 512), ErrTooLarge", n, err)
			}
			waitClientErr(t, s, ErrDiskFull)
		}},
		{"size mismatch", func(s *testServer) { s.tsizeDelta = 1 }, "f1428", fetch.Options{}, Config{}, func(t *testing.T, s *testServer, n int, err error, _ time.Duration) {
			if err == nil || n != 1428 || !strings.Contains(err.Error(), "received 1428 bytes; server announced 1429") {
				t.Errorf("= %d, %v; want 1428 bytes, announced 1429", n, err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, osListen, loopback, files)
			if tc.srv != nil {
				tc.srv(s)
			}
			s.start()
			c := newClient(t, tc.cfg)
			start := time.Now()
			got, _, err := fetchURL(c, context.Background(), "tftp://"+s.addr.String()+"/"+tc.file, tc.opts)
			tc.check(t, s, len(got), err, time.Since(start))
		})
	}
}

func waitClientErr(t *testing.T, s *testServer, code uint16) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if e := s.errsFromClient(); len(e) > 0 {
			if e[0] != code {
				t.Errorf("client sent ERROR %d; want %d", e[0], code)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("server got no ERROR packet from the client; want code %d", code)
}

func TestCancel(t *testing.T) {
	s := newTestServer(t, osListen, loopback, testFiles())
	s.delay = 20 * time.Millisecond
	s.start()
	c := newClient(t, Config{Timeout: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	start := time.Now()
	got, _, err := fetchURL(c, ctx, "tftp://"+s.addr.String()+"/f200000", fetch.Options{})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") || len(got) == 0 || len(got) == 200000 {
		t.Errorf("cancelled Fetch = %d bytes, %v; want some bytes, interrupted", len(got), err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("cancel took %v; want < 500 ms", d)
	}
	waitClientErr(t, s, ErrUndefined)
}

func TestStrangerTID(t *testing.T) {
	s := newTestServer(t, osListen, loopback, testFiles())
	s.stranger = true
	s.start()
	c := newClient(t, Config{})
	got, _, err := fetchURL(c, context.Background(), "tftp://"+s.addr.String()+"/f200000", fetch.Options{})
	if err != nil || !bytes.Equal(got, fetchtest.Content(200000)) {
		t.Fatalf("Fetch with a stranger = %d bytes, %v; want 200000 intact", len(got), err)
	}
	select {
	case b := <-s.strangerG:
		p, err := parsePacket(b)
		if err != nil || p.op != opERROR || p.err.Code != ErrUnknownTID {
			t.Errorf("stranger got %q (%v); want ERROR 5", b, err)
		}
	case <-time.After(2 * time.Second):
		t.Error("stranger got no answer; want ERROR 5 (RFC 1350 section 4)")
	}
}

// TestRollover crosses block number 65535 (8-byte blocks).
func TestRollover(t *testing.T) {
	if testing.Short() {
		t.Skip("66000 round trips")
	}
	want := fetchtest.Content(66000 * 8)
	s := newTestServer(t, osListen, loopback, map[string][]byte{"big": want}).start()
	c := newClient(t, Config{BlockSize: 8})
	got, _, err := fetchURL(c, context.Background(), "tftp://"+s.addr.String()+"/big", fetch.Options{})
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Fetch(66000 blocks) = %d bytes, %v; want %d intact", len(got), err, len(want))
	}
}

// TestStack runs client and server on two gVisor stacks, the client through
// StackConfig as snp-go wires it.
func TestStack(t *testing.T) {
	a, b := nettest.Pair(t, nettest.HostOptions{}, nettest.HostOptions{})
	listenB := func(l netip.AddrPort) (stdnet.PacketConn, error) { return b.Stack.ListenUDP(l) }
	s := newTestServer(t, listenB, netip.AddrPortFrom(b.Addr, 69), testFiles()).start()
	cfg := StackConfig(&dns.Resolver{Stack: a.Stack, Servers: []netip.Addr{b.Addr}, Timeout: 200 * time.Millisecond, Attempts: 1})
	cfg.Timeout = 200 * time.Millisecond
	c := newClient(t, cfg)
	got, reps, err := fetchURL(c, context.Background(), "tftp://10.0.0.2/f200000", fetch.Options{})
	if err != nil || !bytes.Equal(got, fetchtest.Content(200000)) {
		t.Fatalf("Fetch over the stack = %d bytes, %v; want 200000 intact", len(got), err)
	}
	if last := reps[len(reps)-1]; last.Total != 200000 || !last.Done {
		t.Errorf("last progress %+v; want Total 200000, Done", last)
	}
	if s.reqOpts[0]["blksize"] != "1428" {
		t.Errorf("blksize asked %q; want 1428", s.reqOpts[0]["blksize"])
	}
	if _, _, err := fetchURL(c, context.Background(), "tftp://10.0.0.2/nope", fetch.Options{}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("Fetch(missing) over the stack = %v; want not found", err)
	}
	// Register wires the same thing with defaults, as snp-go does.
	fc := fetch.NewClient()
	if err := fetch.RegisterNew(fc, "tftp", New, StackConfig(&dns.Resolver{Stack: a.Stack})); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if n, err := fc.Fetch(context.Background(), "tftp://10.0.0.2/f1428", &buf, fetch.Options{}); err != nil || !bytes.Equal(buf.Bytes(), fetchtest.Content(1428)) {
		t.Errorf("Fetch through Register = %d, %v; want 1428 bytes intact", n, err)
	}
	// A name the DNS server (there is none on b) cannot answer.
	if _, _, err := fetchURL(c, context.Background(), "tftp://boot.example/f1", fetch.Options{}); err == nil {
		t.Errorf("Fetch(unresolvable) = nil; want a resolver error")
	}
}

// BenchmarkStack measures a 2 MiB download between two gVisor stacks
// (lock-step, 1428-byte blocks).
func BenchmarkStack(b *testing.B) {
	a, srv := nettest.Pair(b, nettest.HostOptions{}, nettest.HostOptions{})
	listenB := func(l netip.AddrPort) (stdnet.PacketConn, error) { return srv.Stack.ListenUDP(l) }
	want := fetchtest.Content(2 << 20)
	newTestServer(b, listenB, netip.AddrPortFrom(srv.Addr, 69), map[string][]byte{"f": want}).start()
	c := newClient(b, StackConfig(&dns.Resolver{Stack: a.Stack}))
	b.SetBytes(int64(len(want)))
	for b.Loop() {
		n, err := c.Get(context.Background(), netip.MustParseAddrPort("10.0.0.2:69"), "f", func(int64) (io.Writer, error) { return io.Discard, nil })
		if err != nil || n != int64(len(want)) {
			b.Fatalf("Get = %d, %v", n, err)
		}
	}
}
