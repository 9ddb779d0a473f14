//go:build linux

package nfs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	stdnet "net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/snp-go/snp-go/net/dns"
	"github.com/snp-go/snp-go/net/fetch"
	"github.com/snp-go/snp-go/net/fetch/fetchtest"
	"github.com/snp-go/snp-go/net/nettest"
)

// The NFS server for these tests is NFS-Ganesha (userspace, VFS backend)
// registered with a real rpcbind. Both insist on the portmapper port 111
// and rpcbind listens on every address, so the test re-runs itself in a
// fresh network namespace (only a loopback interface, nothing reachable
// from or to the outside) and mount namespace (a private /run for
// rpcbind's socket). That needs root and unshare(1).

const netnsEnv = "SNPGO_NFS_NETNS"

const (
	ganeshaNFSPort   = 2049
	ganeshaMountPort = 20048
)

func TestGanesha(t *testing.T) {
	if os.Getenv(netnsEnv) == "" {
		for _, bin := range []string{"ganesha.nfsd", "rpcbind", "unshare", "ip"} {
			if _, err := exec.LookPath(bin); err != nil {
				t.Skipf("%s not installed (apt-get install nfs-ganesha nfs-ganesha-vfs rpcbind util-linux iproute2)", bin)
			}
		}
		if os.Geteuid() != 0 {
			t.Skip("needs root for a private network namespace with rpcbind on port 111")
		}
		cmd := exec.Command("unshare", "--net", "--mount", os.Args[0], "-test.run=^TestGanesha$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), netnsEnv+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("in a private network namespace:\n%s", out)
		if err != nil {
			t.Fatalf("TestGanesha in the namespace: %v", err)
		}
		if !bytes.Contains(out, []byte("--- PASS: TestGanesha")) || bytes.Contains(out, []byte("--- SKIP")) {
			t.Fatal("TestGanesha did not pass in the namespace")
		}
		return
	}
	root := startGanesha(t)
	runGanesha(t, root)
}

// startGanesha brings up lo, rpcbind and ganesha exporting a fresh
// directory read-only; it returns the export path.
func startGanesha(t *testing.T) string {
	run := func(name string, args ...string) {
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
		}
	}
	run("ip", "link", "set", "lo", "up")
	run("mount", "-t", "tmpfs", "tmpfs", "/run")
	os.MkdirAll("/run/rpcbind", 0o755)
	dir := t.TempDir()
	export := filepath.Join(dir, "export")
	populate(t, export)
	conf := filepath.Join(dir, "ganesha.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`NFS_CORE_PARAM {
	Protocols = 3;
	NFS_Port = %d;
	MNT_Port = %d;
	Enable_NLM = false;
	Enable_RQUOTA = false;
}
NFSV4 { Graceless = true; }
EXPORT {
	Export_Id = 1;
	Path = %s;
	Pseudo = %s;
	Protocols = 3;
	Transports = TCP;
	Access_Type = RO;
	Squash = No_Root_Squash;
	SecType = sys, none;
	FSAL { Name = VFS; }
}
`, ganeshaNFSPort, ganeshaMountPort, export, export)), 0o644)
	start := func(name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	start("rpcbind", "-f", "-w")
	waitPort(t, PortmapPort)
	logf := filepath.Join(dir, "ganesha.log")
	start("ganesha.nfsd", "-F", "-L", logf, "-f", conf, "-p", filepath.Join(dir, "pid"), "-N", "NIV_EVENT")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logf)
			t.Logf("ganesha log:\n%s", b)
		}
	})
	waitPort(t, ganeshaNFSPort)
	waitPort(t, ganeshaMountPort)
	return export
}

func waitPort(t *testing.T, port int) {
	for i := 0; i < 100; i++ {
		if c, err := stdnet.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("nothing listens on 127.0.0.1:%d after 10 s", port)
}

var bigFile = fetchtest.Content(5<<20 + 123)

func populate(t *testing.T, export string) {
	for name, b := range map[string][]byte{
		"boot/vmlinuz":         bigFile,
		"boot/empty":           nil,
		"boot/deep/er/initrd":  fetchtest.Content(100000),
		"boot/name with space": []byte("spaces\n"),
	} {
		p := filepath.Join(export, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink("deep/er/initrd", filepath.Join(export, "boot/rel-link"))
	os.Symlink(filepath.Join(export, "boot/vmlinuz"), filepath.Join(export, "boot/abs-link"))
	os.Symlink("deep", filepath.Join(export, "boot/dir-link"))
	os.Symlink("loop", filepath.Join(export, "boot/loop"))
	os.Chmod(filepath.Dir(export), 0o755)
}

func runGanesha(t *testing.T, export string) {
	ctx := context.Background()
	url := func(port, p string) string { return "nfs://127.0.0.1" + port + export + p }
	files := map[string][]byte{
		"/boot/vmlinuz":             bigFile,
		"/boot/empty":               {},
		"/boot/deep/er/initrd":      fetchtest.Content(100000),
		"/boot/rel-link":            fetchtest.Content(100000),
		"/boot/abs-link":            bigFile,
		"/boot/dir-link/er/initrd":  fetchtest.Content(100000),
		"/boot/name%20with%20space": []byte("spaces\n"),
	}
	for _, cfg := range []struct {
		name string
		cfg  Config
		port string
	}{
		{"AUTH_SYS reserved port", Config{ReservedPort: true}, ""},
		{"AUTH_NONE 4 KiB reads", Config{AuthNone: true, ChunkSize: 4096}, ""},
		{"NFS port in the URL, 1 MiB reads", Config{ChunkSize: 1<<20 - 4096}, fmt.Sprintf(":%d", ganeshaNFSPort)},
	} {
		t.Run(cfg.name, func(t *testing.T) {
			fc := newClient(t, cfg.cfg)
			for p, want := range files {
				u := url(cfg.port, p)
				r := fetchtest.Get(fc, ctx, u, fetch.Options{})
				if r.Err != nil || sha256.Sum256(r.Body) != sha256.Sum256(want) {
					t.Fatalf("Fetch(%s) = %d bytes, %v; want %d bytes with the same SHA-256", u, len(r.Body), r.Err, len(want))
				}
				last := r.Reports[len(r.Reports)-1]
				if !last.Done || last.Total != int64(len(want)) || last.Bytes != int64(len(want)) {
					t.Errorf("Fetch(%s) last progress %+v; want Done with Total = Bytes = %d", u, last, len(want))
				}
			}
		})
	}
	fc := newClient(t, Config{})
	for _, tc := range []struct {
		path string
		is   error
		want string
	}{
		{"/boot/nope", nil, `LOOKUP "nope" in ` + export + "/boot: no such file or directory (NOENT)"},
		{"/boot/deep", nil, "is a directory"},
		{"/boot/vmlinuz/x", nil, "not a directory"},
		{"/boot/loop", nil, "more than 16 symbolic links"},
	} {
		r := fetchtest.Get(fc, ctx, url("", tc.path), fetch.Options{})
		if r.Err == nil || !strings.Contains(r.Err.Error(), tc.want) {
			t.Errorf("Fetch(%s) = %v; want error containing %q", tc.path, r.Err, tc.want)
		}
	}
	var se *StatusError
	if r := fetchtest.Get(fc, ctx, url("", "/boot/nope"), fetch.Options{}); !errors.As(r.Err, &se) || !se.NotFound() {
		t.Errorf("Fetch(missing) = %v; want a StatusError with NotFound", r.Err)
	}
	if r := fetchtest.Get(fc, ctx, "nfs://127.0.0.1/not/exported/file", fetch.Options{}); r.Err == nil || !strings.Contains(r.Err.Error(), "no directory of /not/exported/file is exported") {
		t.Errorf("Fetch(outside the export) = %v; want 'no directory ... is exported'", r.Err)
	}
	if r := fetchtest.Get(fc, ctx, url("", "/boot/vmlinuz"), fetch.Options{Limit: 1 << 20}); !errors.Is(r.Err, fetch.ErrTooLarge) || !strings.Contains(r.Err.Error(), "announced") || len(r.Body) != 0 {
		t.Errorf("Fetch(limit 1 MiB) = %d bytes, %v; want ErrTooLarge before any data", len(r.Body), r.Err)
	}
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		w := &fetchtest.CancelWriter{After: 100000, Cancel: cancel}
		start := time.Now()
		_, err := fc.Fetch(ctx, url("", "/boot/vmlinuz"), w, fetch.Options{})
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") || w.N >= len(bigFile) {
			t.Errorf("cancelled Fetch = %d bytes, %v; want part, interrupted", w.N, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("cancel took %v", d)
		}
	})
	t.Run("gVisor stack", func(t *testing.T) { testStackToGanesha(t, export) })
}

// testStackToGanesha runs the client on a gVisor stack (wired as snp-go
// does, StackConfig with reserved ports); the peer stack forwards the
// portmapper, MOUNT and NFS ports to ganesha on loopback.
func testStackToGanesha(t *testing.T, export string) {
	a, b := nettest.Pair(t, nettest.HostOptions{}, nettest.HostOptions{})
	for _, port := range []uint16{PortmapPort, ganeshaMountPort, ganeshaNFSPort} {
		ln, err := b.Stack.ListenTCP(netip.AddrPortFrom(b.Addr, port))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					up, err := stdnet.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
					if err != nil {
						return
					}
					defer up.Close()
					go func() { io.Copy(up, c); up.(*stdnet.TCPConn).CloseWrite() }()
					io.Copy(c, up)
				}()
			}
		}()
	}
	fc := fetch.NewClient()
	if err := fetch.RegisterNew(fc, "nfs", New, StackConfig(&dns.Resolver{Stack: a.Stack, Servers: []netip.Addr{b.Addr}})); err != nil {
		t.Fatal(err)
	}
	r := fetchtest.Get(fc, context.Background(), "nfs://10.0.0.2"+export+"/boot/vmlinuz", fetch.Options{})
	if r.Err != nil || !bytes.Equal(r.Body, bigFile) {
		t.Fatalf("Fetch over the stack = %d bytes, %v; want %d intact", len(r.Body), r.Err, len(bigFile))
	}
	last := r.Reports[len(r.Reports)-1]
	t.Logf("%d bytes over the gVisor pair in %v (%.1f MB/s)", last.Bytes, last.Elapsed, last.Rate/1e6)
}
