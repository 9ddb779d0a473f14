package iscsi

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tgtd is a Linux SCSI target daemon started for one test (Debian "tgt").
// It listens on 127.0.0.1 on a free port with its own control port, and is
// shut down with "tgtadm --op delete --mode system" (it ignores SIGTERM).
type tgtd struct {
	t      testing.TB
	ctl    int
	port   int
	cmd    *exec.Cmd
	dir    string
	nextID int
	tids   []int
}

// startTgtd starts tgtd or skips the test when it is not installed.
func startTgtd(t testing.TB) *tgtd {
	t.Helper()
	bin, err := exec.LookPath("tgtd")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/tgtd"); err2 != nil {
			t.Skip("tgtd not installed (Debian package tgt): skipping iSCSI target test")
		}
		bin = "/usr/sbin/tgtd"
	}
	adm, err := exec.LookPath("tgtadm")
	if err != nil {
		adm = "/usr/sbin/tgtadm"
	}
	if _, err := os.Stat(adm); err != nil {
		t.Skip("tgtadm not installed (Debian package tgt): skipping iSCSI target test")
	}
	g := &tgtd{t: t, dir: t.TempDir(), nextID: 1}
	for attempt := 0; ; attempt++ {
		g.ctl = 1000 + rand.IntN(31000) // tgtd accepts control ports up to 32767
		sock := fmt.Sprintf("/var/run/tgtd/socket.%d", g.ctl)
		if _, err := os.Stat(sock); err == nil {
			if attempt < 20 {
				continue // another test run owns (or left) this one
			}
		}
		os.Remove(sock)
		os.Remove(sock + ".lock")
		g.port = freePort(t)
		args := []string{"-f", "-C", strconv.Itoa(g.ctl), "--iscsi", fmt.Sprintf("portal=127.0.0.1:%d", g.port)}
		if os.Getenv("SNP_TGTD_DEBUG") != "" {
			args = append(args, "-d", "1")
		}
		g.cmd = exec.Command(bin, args...)
		logf, _ := os.Create(filepath.Join(g.dir, "tgtd.log"))
		g.cmd.Stdout, g.cmd.Stderr = logf, logf
		if err := g.cmd.Start(); err != nil {
			t.Skipf("cannot start tgtd (%v): skipping iSCSI target test", err)
		}
		break
	}
	exited := make(chan error, 1)
	go func() { exited <- g.cmd.Wait() }()
	t.Cleanup(func() { g.stop(exited) })
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.Command(adm, "-C", strconv.Itoa(g.ctl), "--lld", "iscsi", "--mode", "target", "--op", "show").CombinedOutput()
		if err == nil {
			if c, err := net.DialTimeout("tcp", g.portal(), time.Second); err == nil {
				c.Close()
				break
			}
		}
		select {
		case err := <-exited:
			exited <- err
			log, _ := os.ReadFile(filepath.Join(g.dir, "tgtd.log"))
			t.Fatalf("tgtd exited at start: %v\n%s", err, log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("tgtd did not come up on control port %d: %v %s", g.ctl, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return g
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (g *tgtd) portal() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(g.port)) }

// adm runs tgtadm against this daemon.
func (g *tgtd) adm(args ...string) error {
	full := append([]string{"-C", strconv.Itoa(g.ctl), "--lld", "iscsi"}, args...)
	out, err := exec.Command("tgtadm", full...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("tgtadm %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (g *tgtd) must(args ...string) {
	g.t.Helper()
	if err := g.adm(args...); err != nil {
		g.t.Fatal(err)
	}
}

func (g *tgtd) stop(exited chan error) {
	for _, tid := range g.tids {
		g.adm("--mode", "target", "--op", "delete", "--force", "--tid", strconv.Itoa(tid))
	}
	g.adm("--mode", "system", "--op", "delete")
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		g.t.Logf("tgtd (pid %d) did not stop after tgtadm system delete; killing it", g.cmd.Process.Pid)
		g.cmd.Process.Kill()
		<-exited
	}
	os.Remove(fmt.Sprintf("/var/run/tgtd/socket.%d", g.ctl))
	os.Remove(fmt.Sprintf("/var/run/tgtd/socket.%d.lock", g.ctl))
	if g.t.Failed() {
		log, _ := os.ReadFile(filepath.Join(g.dir, "tgtd.log"))
		if len(log) > 6000 {
			log = log[len(log)-6000:]
		}
		g.t.Logf("tgtd log (tail):\n%s", log)
	}
}

// lunSpec is a backing file for a LUN; blockSize 0 means 512.
type lunSpec struct {
	path      string
	blockSize int
}

// target creates a target named iqn with LUN 1..n backed by luns, open to
// all initiator addresses, and returns its IQN.
func (g *tgtd) target(iqn string, luns ...lunSpec) string {
	g.t.Helper()
	tid := g.nextID
	g.nextID++
	g.must("--mode", "target", "--op", "new", "--tid", strconv.Itoa(tid), "--targetname", iqn)
	g.tids = append(g.tids, tid)
	for i, l := range luns {
		args := []string{"--mode", "logicalunit", "--op", "new", "--tid", strconv.Itoa(tid), "--lun", strconv.Itoa(i + 1), "--backing-store", l.path}
		if l.blockSize != 0 {
			args = append(args, "--blocksize", strconv.Itoa(l.blockSize))
		}
		g.must(args...)
	}
	g.must("--mode", "target", "--op", "bind", "--tid", strconv.Itoa(tid), "--initiator-address", "ALL")
	return iqn
}

// chap binds an incoming account (user/password) and, if outUser is set, an
// outgoing one to the target with the given tid (1-based creation order).
func (g *tgtd) chap(tid int, user, password, outUser, outPassword string) {
	g.t.Helper()
	g.must("--mode", "account", "--op", "new", "--user", user, "--password", password)
	g.must("--mode", "account", "--op", "bind", "--tid", strconv.Itoa(tid), "--user", user)
	if outUser != "" {
		g.must("--mode", "account", "--op", "new", "--user", outUser, "--password", outPassword)
		g.must("--mode", "account", "--op", "bind", "--tid", strconv.Itoa(tid), "--user", outUser, "--outgoing")
	}
}

// backing creates a file of size bytes filled with a position-dependent
// pattern (for the first fill bytes) and returns its path.
func backing(t testing.TB, dir, name string, size int64, fill int) string {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if fill > 0 {
		if _, err := f.WriteAt(pattern(0, fill), 0); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// pattern returns n bytes whose content depends on the absolute offset, so
// that misplaced data is detected.
func pattern(off int64, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		o := off + int64(i)
		b[i] = byte(o>>9) ^ byte(o*7) ^ byte(o>>17)
	}
	return b
}

const testIQN = "iqn.2025-01.dev.snp-go:initiator"

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
