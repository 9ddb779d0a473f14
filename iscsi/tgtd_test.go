package iscsi

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/snp-go/snp-go/lab/tgt"
)

// tgtd is a Linux SCSI target daemon started for one test (Debian "tgt")
// through lab/tgt, with the helpers these tests use.
type tgtd struct {
	t   testing.TB
	d   *tgt.Daemon
	dir string
}

// startTgtd starts tgtd (lab/tgt) or skips the test when it is not
// installed. SNP_TGTD_DEBUG=1 logs every PDU and CHAP step.
func startTgtd(t testing.TB) *tgtd {
	t.Helper()
	d := tgt.StartT(t, tgt.Options{Debug: os.Getenv("SNP_TGTD_DEBUG") != ""})
	return &tgtd{t: t, d: d, dir: t.TempDir()}
}

func (g *tgtd) portal() string { return g.d.Portal() }

// adm runs tgtadm against this daemon.
func (g *tgtd) adm(args ...string) error {
	_, err := g.d.Adm(args...)
	return err
}

func (g *tgtd) must(args ...string) {
	g.t.Helper()
	if err := g.adm(args...); err != nil {
		g.t.Fatal(err)
	}
}

// lunSpec is a backing file for a LUN; blockSize 0 means 512.
type lunSpec struct {
	path      string
	blockSize int
}

// target creates a target named iqn with LUN 1..n backed by luns, open to
// all initiator addresses, and returns its IQN. Target IDs count from 1
// in creation order.
func (g *tgtd) target(iqn string, luns ...lunSpec) string {
	g.t.Helper()
	var ls []tgt.LUN
	for _, l := range luns {
		ls = append(ls, tgt.LUN{Path: l.path, BlockSize: l.blockSize})
	}
	if _, err := g.d.AddTarget(tgt.Target{IQN: iqn, LUNs: ls}); err != nil {
		g.t.Fatal(err)
	}
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
