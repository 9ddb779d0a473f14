package cache

import (
	"testing"
	"time"

	"github.com/snp-go/snp-go/blockio"
)

// links model the network under an iSCSI disk: a fixed cost per request
// (round trip, target) and one shared link.
var links = []struct {
	name      string
	latency   time.Duration
	bandwidth float64 // bytes/s
}{
	{"1ms-100MBps", time.Millisecond, 100e6},
	{"1ms-1GBps", time.Millisecond, 1e9},
}

// BenchmarkGrubRead reads a 64 MiB file in 32 KiB pieces, as Grub reads a
// kernel or initrd, straight from a slow disk (one request at a time, like
// iPXE) and through a Cache with the default Config.
func BenchmarkGrubRead(b *testing.B) {
	const (
		bs    = 512
		file  = 64 << 20
		start = 2048 // LBA
		piece = 32 << 10
	)
	f := newFake(start+file/bs+4096, bs, 1)
	for _, l := range links {
		for _, cached := range []bool{false, true} {
			name := l.name + "/direct"
			if cached {
				name = l.name + "/cache"
			}
			b.Run(name, func(b *testing.B) {
				f.latency, f.bandwidth = l.latency, l.bandwidth
				buf := make([]byte, piece)
				b.SetBytes(file)
				f.mu.Lock()
				f.maxInflight = 0
				f.mu.Unlock()
				r0, _ := f.counts()
				var s Stats
				for b.Loop() {
					var d blockio.Disk = f
					var c *Cache
					if cached {
						var err error
						if c, err = New(f, Config{}); err != nil {
							b.Fatal(err)
						}
						d = c
					}
					for off := 0; off < file; off += piece {
						if err := d.ReadBlocks(uint64(start+off/bs), buf); err != nil {
							b.Fatal(err)
						}
					}
					if c != nil {
						c.Close()
						s = c.Stats()
					}
				}
				r1, maxIn := f.counts()
				b.ReportMetric(float64(r1-r0)/float64(b.N), "disk-reads/op")
				if cached {
					b.ReportMetric(float64(maxIn), "max-in-flight")
					b.Logf("%v", s)
				}
			})
		}
	}
}

// BenchmarkGPTReread replays U-Boot connecting a disk: the GPT header and
// the 16 KiB entry array, read 130 times.
func BenchmarkGPTReread(b *testing.B) {
	f := newFake(8192, 512, 2)
	f.latency, f.bandwidth = links[0].latency, links[0].bandwidth
	for _, name := range []string{"direct", "cache"} {
		cached := name == "cache"
		b.Run(name, func(b *testing.B) {
			hdr, entries := make([]byte, 512), make([]byte, 16384)
			for b.Loop() {
				var d blockio.Disk = f
				if cached {
					c, err := New(f, Config{})
					if err != nil {
						b.Fatal(err)
					}
					d = c
				}
				for range 130 {
					if err := d.ReadBlocks(1, hdr); err != nil {
						b.Fatal(err)
					}
					if err := d.ReadBlocks(2, entries); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkHit measures the cost of a 32 KiB read served from the cache.
func BenchmarkHit(b *testing.B) {
	f := newFake(8192, 512, 3)
	c, err := New(f, Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 32<<10)
	if err := c.ReadBlocks(1024, buf); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.ReadBlocks(1024, buf); err != nil {
			b.Fatal(err)
		}
	}
}
