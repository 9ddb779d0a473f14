package iscsi

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-go/snp-go/chap"
)

func TestMutualCHAP(t *testing.T) {
	g := startTgtd(t)
	const size = 16 << 20
	iqn := g.target("iqn.2025-01.dev.snp-go:mutual", lunSpec{path: backing(t, g.dir, "lun", size, 1<<20)})
	g.chap(1, "ini", "initiator-secret", "tgt", "target-secret")
	creds := chap.Credentials{Username: "ini", Password: chap.NewSecret("initiator-secret"),
		ReverseUsername: "tgt", ReversePassword: chap.NewSecret("target-secret")}

	var logs []string
	var mu sync.Mutex
	d, err := Open(testContext(t), Config{
		RootPath: "iscsi:127.0.0.1::" + portOf(g) + ":1:" + iqn, InitiatorName: testIQN, Credentials: creds,
		Logf: func(f string, a ...any) { mu.Lock(); logs = append(logs, sprintf(f, a...)); mu.Unlock() },
	})
	if err != nil {
		t.Fatalf("Open with mutual CHAP: %v", err)
	}
	defer d.Close()
	if d.BlockSize() != 512 || d.Blocks() != size/512 {
		t.Errorf("geometry = %d blocks of %d; want %d of 512", d.Blocks(), d.BlockSize(), size/512)
	}
	inq := d.Inquiry()
	if inq.Vendor != "IET" || inq.Product != "VIRTUAL-DISK" || inq.Serial == "" {
		t.Errorf("Inquiry() = %+v; want vendor IET, product VIRTUAL-DISK, a serial", inq)
	}
	if d.ReadOnly() {
		t.Errorf("ReadOnly() = true; want false")
	}
	buf := make([]byte, 4096)
	if err := d.ReadBlocks(testContext(t), 8, buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, pattern(8*512, 4096)) {
		t.Errorf("ReadBlocks(8) returned wrong data")
	}
	luns, err := d.ReportLUNs(testContext(t))
	if err != nil || len(luns) != 2 || luns[1].String() != "1" {
		t.Errorf("ReportLUNs() = %v, %v; want [0 1]", luns, err)
	}
	mu.Lock()
	joined := strings.Join(logs, "\n")
	mu.Unlock()
	if !strings.Contains(joined, "mutual") || strings.Contains(joined, "secret") {
		t.Errorf("logs = %q; want a mutual CHAP line and no secrets", joined)
	}
}

func TestCHAPFailures(t *testing.T) {
	g := startTgtd(t)
	iqn := g.target("iqn.2025-01.dev.snp-go:chapfail", lunSpec{path: backing(t, g.dir, "lun", 1<<20, 0)})
	g.chap(1, "ini", "initiator-secret", "tgt", "target-secret")
	rp := "iscsi:127.0.0.1::" + portOf(g) + ":1:" + iqn
	tests := []struct {
		name  string
		creds chap.Credentials
		want  string // in the error
		auth  bool   // errors.Is(err, chap.ErrTargetAuth)
	}{
		{"wrong forward secret", chap.Credentials{Username: "ini", Password: chap.NewSecret("wrong-secret")},
			"authentication failure", false},
		{"wrong reverse secret", chap.Credentials{Username: "ini", Password: chap.NewSecret("initiator-secret"),
			ReverseUsername: "tgt", ReversePassword: chap.NewSecret("other-secret")}, "CHAP_R is wrong", true},
		{"wrong reverse user", chap.Credentials{Username: "ini", Password: chap.NewSecret("initiator-secret"),
			ReverseUsername: "someone", ReversePassword: chap.NewSecret("target-secret")}, "authenticated as", true},
		{"no credentials", chap.Credentials{}, "CHAP", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			d, err := Open(testContext(t), Config{RootPath: rp, InitiatorName: testIQN, Credentials: tt.creds})
			if err == nil {
				d.Close()
				t.Fatalf("Open succeeded; want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open error = %v; want it to contain %q", err, tt.want)
			}
			if errors.Is(err, chap.ErrTargetAuth) != tt.auth {
				t.Errorf("errors.Is(%v, ErrTargetAuth) = %t; want %t", err, !tt.auth, tt.auth)
			}
			if strings.Contains(err.Error(), "secret") && !strings.Contains(err.Error(), "reverse-password") {
				t.Errorf("error %q may reveal a secret", err)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("Open took %v: authentication failures must not be retried", time.Since(start))
			}
		})
	}
	// One-way CHAP against the same target (tgt lets the initiator choose).
	d, err := Open(testContext(t), Config{RootPath: rp, InitiatorName: testIQN,
		Credentials: chap.Credentials{Username: "ini", Password: chap.NewSecret("initiator-secret")}, CHAPAlgorithms: []chap.Algorithm{chap.MD5}})
	if err != nil {
		t.Fatalf("one-way CHAP with MD5: %v", err)
	}
	d.Close()
}

func TestLoginErrors(t *testing.T) {
	g := startTgtd(t)
	g.target("iqn.2025-01.dev.snp-go:exists", lunSpec{path: backing(t, g.dir, "lun", 1<<20, 0)})
	_, err := Open(testContext(t), Config{Portal: g.portal(), Target: "iqn.2025-01.dev.snp-go:missing", LUN: LUN{0, 1}, InitiatorName: testIQN})
	var le *LoginError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "target not found") {
		t.Errorf("Open(missing target) = %v; want LoginError naming \"target not found\"", err)
	}
	_, err = Open(testContext(t), Config{Portal: g.portal(), Target: "iqn.2025-01.dev.snp-go:exists", LUN: LUN{0, 7}, InitiatorName: testIQN})
	if err == nil || !strings.Contains(err.Error(), "LUN 7") {
		t.Errorf("Open(missing LUN 7) = %v; want an error naming LUN 7", err)
	}
}

func portOf(g *tgtd) string {
	_, p, _ := net.SplitHostPort(g.portal())
	return p
}

func TestReadWrite(t *testing.T) {
	g := startTgtd(t)
	const size = 64 << 20
	p512 := backing(t, g.dir, "lun512", size, 16<<20)
	p4k := backing(t, g.dir, "lun4k", size, 16<<20)
	iqn := g.target("iqn.2025-01.dev.snp-go:rw", lunSpec{path: p512}, lunSpec{path: p4k, blockSize: 4096})
	// tgt answers digests from its own list, which is "None" by default.
	for _, k := range []string{"HeaderDigest", "DataDigest"} {
		g.must("--mode", "target", "--op", "update", "--tid", "1", "--name", k, "--value", "CRC32C,None")
	}
	for _, tc := range []struct {
		name    string
		lun     string
		path    string
		bs      int
		digests bool
		depth   int
	}{
		{"512", "1", p512, 512, false, 0},
		{"512 digests", "1", p512, 512, true, 0},
		{"512 depth 1", "1", p512, 512, false, 1},
		{"4096", "2", p4k, 4096, false, 0},
		{"4096 digests", "2", p4k, 4096, true, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			d, err := Open(ctx, Config{RootPath: "iscsi:127.0.0.1::" + portOf(g) + ":" + tc.lun + ":" + iqn,
				InitiatorName: testIQN, Digests: tc.digests, QueueDepth: tc.depth, MaxTransferLength: 128 << 10})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if int(d.BlockSize()) != tc.bs || d.Size() != size {
				t.Fatalf("geometry %d x %d; want block size %d, %d bytes", d.Blocks(), d.BlockSize(), tc.bs, size)
			}
			neg := d.Negotiated()
			if tc.digests != strings.Contains(neg, "HeaderDigest=CRC32C DataDigest=CRC32C") {
				t.Errorf("Negotiated() = %q; want digests %t", neg, tc.digests)
			}
			// A read much larger than MaxBurstLength (split and pipelined).
			big := make([]byte, 9<<20+3*4096)
			if err := d.ReadBlocks(ctx, uint64(4096/tc.bs), big); err != nil {
				t.Fatal(err)
			}
			if want := pattern(4096, len(big)); !bytes.Equal(big, want) {
				t.Fatalf("large read differs from the backing file at byte %d", firstDiff(big, want))
			}
			// Write then read back; check the backing file too.
			lba := uint64((20 << 20) / tc.bs)
			data := pattern(12345, 3<<20+tc.bs)
			if err := d.WriteBlocks(ctx, lba, data); err != nil {
				t.Fatal(err)
			}
			if err := d.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			back := make([]byte, len(data))
			if err := d.ReadBlocks(ctx, lba, back); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back, data) {
				t.Fatalf("read-back differs at byte %d", firstDiff(back, data))
			}
			f, _ := os.Open(tc.path)
			defer f.Close()
			onDisk := make([]byte, len(data))
			if _, err := f.ReadAt(onDisk, int64(lba)*int64(tc.bs)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(onDisk, data) {
				t.Fatalf("backing file differs from written data at byte %d", firstDiff(onDisk, data))
			}
			// Bounds.
			if err := d.ReadBlocks(ctx, d.Blocks()-1, make([]byte, 2*tc.bs)); err == nil {
				t.Errorf("ReadBlocks past the end succeeded")
			}
			if err := d.ReadBlocks(ctx, 0, make([]byte, tc.bs+1)); err == nil {
				t.Errorf("ReadBlocks of a partial block succeeded")
			}
			if s := d.Stats(); s.Failures != 0 || s.Logins != 1 {
				t.Errorf("Stats() = %+v; want 1 login and no failures", s)
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestConcurrentReaders(t *testing.T) {
	g := startTgtd(t)
	const size = 32 << 20
	iqn := g.target("iqn.2025-01.dev.snp-go:conc", lunSpec{path: backing(t, g.dir, "lun", size, size)})
	ctx := testContext(t)
	d, err := Open(ctx, Config{Portal: g.portal(), Target: iqn, LUN: LUN{0, 1}, InitiatorName: testIQN, QueueDepth: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				off := int64((w*10+i)%60) * 512 * 1000
				n := 512 * (1 + (w*37+i*11)%700)
				buf := make([]byte, n)
				if err := d.ReadBlocks(ctx, uint64(off/512), buf); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(buf, pattern(off, n)) {
					errs <- errors.New("concurrent read returned wrong data")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSparseBeyond2TiB reads the end of a 3 TiB sparse LUN, which needs
// READ CAPACITY(16) and READ(16).
func TestSparseBeyond2TiB(t *testing.T) {
	g := startTgtd(t)
	const size = 3 << 40
	path := backing(t, g.dir, "sparse", size, 0)
	tail := pattern(size-64<<10, 64<<10)
	f, _ := os.OpenFile(path, os.O_WRONLY, 0)
	if _, err := f.WriteAt(tail, size-int64(len(tail))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	iqn := g.target("iqn.2025-01.dev.snp-go:sparse", lunSpec{path: path})
	ctx := testContext(t)
	d, err := Open(ctx, Config{Portal: g.portal(), Target: iqn, LUN: LUN{0, 1}, InitiatorName: testIQN})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Blocks() != size/512 {
		t.Fatalf("Blocks() = %d; want %d (beyond 2^32, needs READ CAPACITY(16))", d.Blocks(), size/512)
	}
	buf := make([]byte, len(tail))
	if err := d.ReadBlocks(ctx, d.Blocks()-uint64(len(buf)/512), buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, tail) {
		t.Fatalf("tail of the 3 TiB LUN differs at byte %d", firstDiff(buf, tail))
	}
	// Write and read back across the 2^32-block boundary.
	data := pattern(1, 8192)
	lba := uint64(1<<32) - 8
	if err := d.WriteBlocks(ctx, lba, data); err != nil {
		t.Fatal(err)
	}
	back := make([]byte, len(data))
	if err := d.ReadBlocks(ctx, lba, back); err != nil || !bytes.Equal(back, data) {
		t.Fatalf("round trip across LBA 2^32: err %v, equal %t", err, bytes.Equal(back, data))
	}
}

// cutProxy forwards TCP connections to target and cuts the first
// connection after cutAfter bytes from the target.
type cutProxy struct {
	ln       net.Listener
	target   string
	cutAfter int64
	conns    atomic.Int32
	cuts     atomic.Int32
}

func newCutProxy(t *testing.T, target string, cutAfter int64) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, cutAfter: cutAfter}
	t.Cleanup(func() { ln.Close() })
	go p.serve()
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		n := p.conns.Add(1)
		go func() {
			defer c.Close()
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				return
			}
			defer u.Close()
			go func() { io.Copy(u, c); u.Close() }()
			if n == 1 {
				io.CopyN(c, u, p.cutAfter)
				p.cuts.Add(1)
				return // closes both sides mid-stream
			}
			io.Copy(c, u)
		}()
	}
}

func TestRecoveryMidRead(t *testing.T) {
	g := startTgtd(t)
	const size = 32 << 20
	iqn := g.target("iqn.2025-01.dev.snp-go:cut", lunSpec{path: backing(t, g.dir, "lun", size, size)})
	// Login and probing take a few KiB; cut 5 MiB into the big read.
	p := newCutProxy(t, g.portal(), 5<<20+12345)
	ctx := testContext(t)
	d, err := Open(ctx, Config{Portal: p.ln.Addr().String(), Target: iqn, LUN: LUN{0, 1}, InitiatorName: testIQN,
		ReconnectDelay: 10 * time.Millisecond, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	buf := make([]byte, 24<<20)
	if err := d.ReadBlocks(ctx, 0, buf); err != nil {
		t.Fatal(err)
	}
	if want := pattern(0, len(buf)); !bytes.Equal(buf, want) {
		t.Fatalf("read across a cut connection differs at byte %d", firstDiff(buf, want))
	}
	s := d.Stats()
	if p.cuts.Load() != 1 || s.Logins < 2 || s.Failures < 1 {
		t.Errorf("cuts %d, Stats() = %+v; want 1 cut, 2+ logins, 1+ failures", p.cuts.Load(), s)
	}
}

// TestCommandTimeout: a proxy that stops forwarding (but keeps the
// connection open) must be detected by the command timeout and recovered.
func TestCommandTimeout(t *testing.T) {
	g := startTgtd(t)
	iqn := g.target("iqn.2025-01.dev.snp-go:stall", lunSpec{path: backing(t, g.dir, "lun", 8<<20, 8<<20)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var n atomic.Int32
	stall := make(chan struct{})
	defer close(stall)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			first := n.Add(1) == 1
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", g.portal())
				if err != nil {
					return
				}
				defer u.Close()
				go io.Copy(u, c)
				if first {
					io.CopyN(c, u, 2<<20) // then hang, connection open
					<-stall
					return
				}
				io.Copy(c, u)
			}()
		}
	}()
	ctx := testContext(t)
	d, err := Open(ctx, Config{Portal: ln.Addr().String(), Target: iqn, LUN: LUN{0, 1}, InitiatorName: testIQN,
		CommandTimeout: 2 * time.Second, ReconnectDelay: 10 * time.Millisecond, Keepalive: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	buf := make([]byte, 6<<20)
	if err := d.ReadBlocks(ctx, 0, buf); err != nil {
		t.Fatal(err)
	}
	if want := pattern(0, len(buf)); !bytes.Equal(buf, want) {
		t.Fatalf("read after a stalled connection differs at byte %d", firstDiff(buf, want))
	}
	if s := d.Stats(); s.Failures < 1 || s.Logins < 2 {
		t.Errorf("Stats() = %+v; want a failure and a second login", s)
	}
}

// TestWriteNegotiations writes through every data-out path: immediate
// data, unsolicited Data-Out (InitialR2T=No), R2T-solicited Data-Out split
// into PDUs of the target's MaxRecvDataSegmentLength.
func TestWriteNegotiations(t *testing.T) {
	g := startTgtd(t)
	const size = 16 << 20
	cases := []struct {
		name       string
		initialR2T string
		immediate  string
	}{
		{"immediate+R2T", "Yes", "Yes"},
		{"unsolicited", "No", "Yes"},
		{"unsolicited without immediate", "No", "No"},
		{"R2T only", "Yes", "No"},
	}
	for i, tc := range cases {
		path := backing(t, g.dir, "lun"+tc.name, size, 0)
		iqn := g.target("iqn.2025-01.dev.snp-go:w"+string(rune('a'+i)), lunSpec{path: path})
		tid := strconv.Itoa(i + 1)
		for k, v := range map[string]string{"InitialR2T": tc.initialR2T, "ImmediateData": tc.immediate,
			"MaxRecvDataSegmentLength": "4096", "FirstBurstLength": "16384"} {
			g.must("--mode", "target", "--op", "update", "--tid", tid, "--name", k, "--value", v)
		}
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			d, err := Open(ctx, Config{Portal: g.portal(), Target: iqn, LUN: LUN{0, 1}, InitiatorName: testIQN})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			neg := d.Negotiated()
			if !strings.Contains(neg, "InitialR2T="+map[string]string{"Yes": "true", "No": "false"}[tc.initialR2T]) ||
				!strings.Contains(neg, "ImmediateData="+map[string]string{"Yes": "true", "No": "false"}[tc.immediate]) ||
				!strings.Contains(neg, "(target 4096)") {
				t.Errorf("Negotiated() = %q; want InitialR2T=%s ImmediateData=%s, target MaxRecvDataSegmentLength 4096", neg, tc.initialR2T, tc.immediate)
			}
			data := pattern(99, 1<<20+512)
			if err := d.WriteBlocks(ctx, 77, data); err != nil {
				t.Fatal(err)
			}
			back := make([]byte, len(data))
			if err := d.ReadBlocks(ctx, 77, back); err != nil || !bytes.Equal(back, data) {
				t.Fatalf("read-back: err %v, differs at %d", err, firstDiff(back, data))
			}
			f, _ := os.Open(path)
			defer f.Close()
			onDisk := make([]byte, len(data))
			f.ReadAt(onDisk, 77*512)
			if !bytes.Equal(onDisk, data) {
				t.Fatalf("backing file differs at byte %d", firstDiff(onDisk, data))
			}
		})
	}
}
