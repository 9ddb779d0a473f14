package cache

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/snp-go/snp-go/iscsi"
	"github.com/snp-go/snp-go/lab/tgt"
)

// This file runs the Cache over the real iSCSI initiator against tgtd
// (Debian package tgt) on 127.0.0.1, with a round-trip delay added to the
// connection to stand in for the emulated network of the QEMU lab.

const testIQN = "iqn.2025-01.dev.snp-go:cache-test"

// tgtLUN starts tgtd (lab/tgt) serving one LUN of size bytes backed by a
// file filled with random data, and returns the portal, the target IQN and
// the file. It skips the test when tgtd is not installed.
func tgtLUN(t testing.TB, size int) (portal, target, file string) {
	t.Helper()
	file = filepath.Join(t.TempDir(), "lun")
	data := make([]byte, size)
	fillRandom(data, 21)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	d := tgt.StartT(t, tgt.Options{})
	target = "iqn.2025-01.dev.snp-go:cache"
	if _, err := d.AddTarget(tgt.Target{IQN: target, LUNs: []tgt.LUN{{Path: file}}}); err != nil {
		t.Fatal(err)
	}
	return d.Portal(), target, file
}

// lunDisk is an iSCSI LUN as a blockio.Disk.
type lunDisk struct{ d *iscsi.Disk }

func (l lunDisk) BlockSize() int    { return int(l.d.BlockSize()) }
func (l lunDisk) NumBlocks() uint64 { return l.d.Blocks() }
func (l lunDisk) ReadOnly() bool    { return l.d.ReadOnly() }
func (l lunDisk) Flush() error      { return l.d.Sync(context.Background()) }
func (l lunDisk) ReadBlocks(lba uint64, buf []byte) error {
	return l.d.ReadBlocks(context.Background(), lba, buf)
}
func (l lunDisk) WriteBlocks(lba uint64, buf []byte) error {
	return l.d.WriteBlocks(context.Background(), lba, buf)
}

// delayConn hands received data to Read rtt after it arrived: a link with
// that round trip and no bandwidth limit (the target's answers come late,
// but several can be on the way).
type delayConn struct {
	net.Conn
	rtt  time.Duration
	in   chan delayed
	rest []byte
	err  error
	done chan struct{}
	once sync.Once
}

type delayed struct {
	data []byte
	at   time.Time
	err  error
}

func dialDelayed(rtt time.Duration) iscsi.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		dc := &delayConn{Conn: c, rtt: rtt, in: make(chan delayed, 4096), done: make(chan struct{})}
		go dc.pump()
		return dc, nil
	}
}

func (c *delayConn) pump() {
	for {
		b := make([]byte, 64<<10)
		n, err := c.Conn.Read(b)
		d := delayed{data: b[:n], at: time.Now().Add(c.rtt), err: err}
		select {
		case c.in <- d:
		case <-c.done:
			return
		}
		if err != nil {
			return
		}
	}
}

func (c *delayConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return c.Conn.Close()
}

func (c *delayConn) Read(p []byte) (int, error) {
	if len(c.rest) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		d := <-c.in
		time.Sleep(time.Until(d.at))
		c.rest, c.err = d.data, d.err
		if len(c.rest) == 0 {
			return 0, c.err
		}
	}
	n := copy(p, c.rest)
	c.rest = c.rest[n:]
	return n, nil
}

func openLUN(t testing.TB, portal, target string, rtt time.Duration) *iscsi.Disk {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := iscsi.Open(ctx, iscsi.Config{Portal: portal, Target: target, LUN: iscsi.LUN{0, 1},
		InitiatorName: testIQN, Dial: dialDelayed(rtt), Keepalive: -1})
	if err != nil {
		t.Fatalf("iscsi.Open(%s, %s) = %v", portal, target, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestTgtd reads and writes a tgtd LUN through a Cache: sequential reads in
// Grub's 32 KiB pieces, GPT rereads, writes and a full read-back must match
// the backing file, and read-ahead must keep several commands in flight.
func TestTgtd(t *testing.T) {
	const size = 8 << 20
	portal, target, file := tgtLUN(t, size)
	lun := openLUN(t, portal, target, 2*time.Millisecond)
	c := mustNew(t, lunDisk{lun}, Config{})
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32<<10)
	for off := 1 << 20; off < size; off += len(buf) {
		if err := c.ReadBlocks(uint64(off/512), buf); err != nil {
			t.Fatalf("ReadBlocks(%d) = %v", off/512, err)
		}
		if w := want[off:][:len(buf)]; !bytes.Equal(buf, w) {
			t.Fatalf("ReadBlocks(%d) returned other data than the LUN holds: %s", off/512, firstDiff(buf, w))
		}
	}
	gpt := make([]byte, 16<<10)
	for range 130 {
		if err := c.ReadBlocks(2, gpt); err != nil {
			t.Fatal(err)
		}
	}
	w := make([]byte, 40<<10)
	fillRandom(w, 5)
	if err := c.WriteBlocks(3000, w); err != nil {
		t.Fatalf("WriteBlocks = %v", err)
	}
	if err := c.Flush(); err != nil {
		t.Fatalf("Flush = %v", err)
	}
	copy(want[3000*512:], w)
	all := make([]byte, size)
	if err := c.ReadBlocks(0, all); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(all, want) {
		t.Errorf("LUN read through the cache after a write differs from what was written: %s", firstDiff(all, want))
	}
	if onDisk, _ := os.ReadFile(file); !bytes.Equal(onDisk, want) {
		t.Errorf("backing file differs from what was written: %s", firstDiff(onDisk, want))
	}
	c.Close()
	s := c.Stats()
	t.Log(s)
	if s.MaxInFlight < 2 {
		t.Errorf("MaxInFlight = %d; want several iSCSI reads in flight", s.MaxInFlight)
	}
	if s.Misses > 3 {
		t.Errorf("Misses = %d; want 1 for the stream, 1 for the GPT, 1 for the written chunk", s.Misses)
	}
}

// BenchmarkTgtdGrubRead reads a 64 MiB file in 32 KiB pieces from a tgtd
// LUN over a link with a 1 ms round trip: straight from the initiator
// (one command at a time, as iPXE) and through a Cache.
func BenchmarkTgtdGrubRead(b *testing.B) {
	const (
		file  = 64 << 20
		start = 2048
	)
	portal, target, _ := tgtLUN(b, file+2<<20)
	for _, name := range []string{"direct", "cache"} {
		b.Run(name, func(b *testing.B) {
			lun := openLUN(b, portal, target, time.Millisecond)
			buf := make([]byte, 32<<10)
			b.SetBytes(file)
			var s Stats
			for b.Loop() {
				var d lunDisk = lunDisk{lun}
				read := d.ReadBlocks
				var c *Cache
				if name == "cache" {
					var err error
					if c, err = New(d, Config{}); err != nil {
						b.Fatal(err)
					}
					read = c.ReadBlocks
				}
				for off := 0; off < file; off += len(buf) {
					if err := read(uint64(start+off/512), buf); err != nil {
						b.Fatal(err)
					}
				}
				if c != nil {
					c.Close()
					s = c.Stats()
				}
			}
			if name == "cache" {
				b.Logf("%v", s)
			}
		})
	}
}
