package script

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/snp-go/snp-go/internal/syncbuf"
	"github.com/snp-go/snp-go/script/lineedit"
	"github.com/snp-go/snp-go/script/settings"
)

// testConsole is a real lineedit.Console whose output is captured.
type testConsole struct {
	*lineedit.Console
	out *syncbuf.Buffer
}

func newTestConsole() *testConsole {
	out := &syncbuf.Buffer{}
	return &testConsole{Console: lineedit.NewConsole(out), out: out}
}

// typeKeys queues the keys a serial terminal would send for s.
func (c *testConsole) typeKeys(s string) {
	var d lineedit.Decoder
	for _, k := range append(d.Feed([]byte(s)), d.Flush()...) {
		c.Put(k)
	}
}

// waitFor polls the output until it contains s.
func (c *testConsole) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(c.out.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("console never showed %q; output:\n%s", s, c.out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fakeFetcher serves URIs from a map.
type fakeFetcher struct {
	files   map[string]string
	fetched []string
}

func (f *fakeFetcher) Fetch(ctx context.Context, uri string, progress func(done, total int64)) ([]byte, error) {
	f.fetched = append(f.fetched, uri)
	if uri == "http://slow/" {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	d, ok := f.files[uri]
	if !ok {
		return nil, fmt.Errorf("HTTP 404 Not Found: %w", fs.ErrNotExist)
	}
	if progress != nil {
		progress(int64(len(d)/2), int64(len(d)))
		progress(int64(len(d)), int64(len(d)))
	}
	return []byte(d), nil
}

// fakeBooter records boot requests.
type fakeBooter struct {
	boots []BootRequest
	args  []string
	err   error
}

func (b *fakeBooter) Boot(ctx context.Context, r BootRequest) error {
	b.boots = append(b.boots, r)
	b.args = append(b.args, r.Image.CommandLine())
	return b.err
}

// fakeLinks is a network with fixed interfaces and leases.
type fakeLinks struct {
	ifs    []Interface
	leases map[string]settings.Lease
	log    []string
}

func (l *fakeLinks) Interfaces() []Interface { return append([]Interface(nil), l.ifs...) }

func (l *fakeLinks) find(name string) *Interface {
	for i := range l.ifs {
		if l.ifs[i].Name == name {
			return &l.ifs[i]
		}
	}
	return nil
}

func (l *fakeLinks) Open(ctx context.Context, name string) error {
	l.log = append(l.log, "open "+name)
	l.find(name).Open = true
	return nil
}

func (l *fakeLinks) Close(ctx context.Context, name string) error {
	l.log = append(l.log, "close "+name)
	l.find(name).Open = false
	return nil
}

func (l *fakeLinks) WaitLink(ctx context.Context, name string) error {
	if l.find(name).Link {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func (l *fakeLinks) DHCP(ctx context.Context, name string) (settings.Lease, error) {
	l.log = append(l.log, "dhcp "+name)
	lease, ok := l.leases[name]
	if !ok {
		return settings.Lease{}, fmt.Errorf("no DHCP offers: %w", context.DeadlineExceeded)
	}
	return lease, nil
}

// PXEBootServer answers boot server requests with file item-TYPE.ipxe
// from next-server 10.0.0.9.
func (l *fakeLinks) PXEBootServer(ctx context.Context, name string, typ uint16, opt43 []byte) (settings.Lease, error) {
	l.log = append(l.log, fmt.Sprintf("pxebs %s %#04x", name, typ))
	return settings.Lease{ServerIP: netip.MustParseAddr("10.0.0.9"), BootFile: fmt.Sprintf("item-%04x.ipxe", typ)}, nil
}

// fakeSAN records SAN calls.
type fakeSAN struct {
	log     []string
	cfgs    []SANConfig
	bootErr error
}

func (s *fakeSAN) Hook(ctx context.Context, paths []string, cfg SANConfig) (int, error) {
	s.log = append(s.log, fmt.Sprintf("hook %#x %s", cfg.Drive, strings.Join(paths, " ")))
	s.cfgs = append(s.cfgs, cfg)
	if strings.HasPrefix(paths[0], "bad:") {
		return 0, errors.New("no such target")
	}
	return cfg.Drive, nil
}

func (s *fakeSAN) Boot(ctx context.Context, drive int, cfg SANConfig) error {
	s.log = append(s.log, fmt.Sprintf("boot %#x", drive))
	return s.bootErr
}

func (s *fakeSAN) Unhook(ctx context.Context, drive int) error {
	s.log = append(s.log, fmt.Sprintf("unhook %#x", drive))
	return nil
}

type fakeSystem struct{ log []string }

func (s *fakeSystem) Reboot(ctx context.Context, m RebootMode) error {
	s.log = append(s.log, fmt.Sprintf("reboot %d", m))
	return nil
}

func (s *fakeSystem) PowerOff(ctx context.Context) error {
	s.log = append(s.log, "poweroff")
	return nil
}

type fakePinger struct{ lose map[int]bool }

func (p *fakePinger) Ping(ctx context.Context, host string, size, seq int) (PingReply, error) {
	if p.lose[seq] {
		<-ctx.Done()
		return PingReply{}, ctx.Err()
	}
	return PingReply{From: netip.MustParseAddr("10.0.0.1"), Size: size, RTT: time.Millisecond}, nil
}

type fakeResolver struct{}

func (fakeResolver) Lookup(ctx context.Context, name string) (netip.Addr, error) {
	if name == "boot.example.test" {
		return netip.MustParseAddr("10.0.0.80"), nil
	}
	return netip.Addr{}, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
}

// testEnv is a full set of fakes.
type testEnv struct {
	con    *testConsole
	fetch  *fakeFetcher
	boot   *fakeBooter
	links  *fakeLinks
	san    *fakeSAN
	system *fakeSystem
	e      *Engine
}

func newTestEnv() *testEnv {
	te := &testEnv{
		con:   newTestConsole(),
		fetch: &fakeFetcher{files: map[string]string{}},
		boot:  &fakeBooter{},
		links: &fakeLinks{
			ifs: []Interface{{Name: "net0", MAC: []byte{0x52, 0x54, 0, 0x12, 0x34, 0x56}, Link: true}},
			leases: map[string]settings.Lease{"net0": {
				Options: map[uint8][]byte{
					1: {255, 255, 255, 0}, 3: {10, 0, 0, 1}, 6: {10, 0, 0, 53},
					67: []byte("http://10.0.0.1/boot.ipxe"),
				},
				YourIP:   netip.MustParseAddr("10.0.0.5"),
				ServerIP: netip.MustParseAddr("10.0.0.1"),
			}},
		},
		san:    &fakeSAN{},
		system: &fakeSystem{},
	}
	te.e = New(Env{
		Console: te.con, Fetcher: te.fetch, Booter: te.boot, Links: te.links, SAN: te.san,
		System: te.system, Pinger: &fakePinger{}, Resolver: fakeResolver{}, Version: "test",
	})
	return te
}

// run runs a script and returns the console output (as a terminal shows
// it: backspaces applied) and the status.
func (te *testEnv) run(script string) (string, Errno, error) {
	before := len(te.con.out.String())
	err := te.e.RunScript(context.Background(), "test.ipxe", []byte(script))
	return visible(te.con.out.String()[before:]), StatusOf(err), err
}

// visible applies backspaces the way a terminal does: each moves the
// cursor left, and what is written next overwrites.
func visible(out string) string {
	var lines []string
	for _, l := range strings.SplitAfter(out, "\n") {
		if !strings.Contains(l, "\b") {
			lines = append(lines, l)
			continue
		}
		var buf []rune
		col := 0
		for _, r := range l {
			switch r {
			case '\b':
				if col > 0 {
					col--
				}
			default:
				if col < len(buf) {
					buf[col] = r
				} else {
					buf = append(buf, r)
				}
				col++
			}
		}
		nl := strings.HasSuffix(l, "\n")
		s := strings.TrimRight(strings.TrimSuffix(string(buf), "\n"), " ")
		if nl {
			s += "\n"
		}
		lines = append(lines, s)
	}
	return strings.Join(lines, "")
}
