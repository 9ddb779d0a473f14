package iscsi

import (
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkRead measures sequential 64 KiB reads from a tgtd LUN with one
// request in flight and with 16 (one goroutine each), as iscsi-perf -m 1/16
// -b 128 does. Its allocation figures cover the whole data path.
func BenchmarkRead(b *testing.B) { benchIO(b, false) }

// BenchmarkWrite is BenchmarkRead for 64 KiB writes: immediate data, then
// R2T-solicited Data-Out (tgt's defaults: InitialR2T=Yes, 8 KiB PDUs).
func BenchmarkWrite(b *testing.B) { benchIO(b, true) }

func benchIO(b *testing.B, write bool) {
	g := startTgtd(b)
	const size = 256 << 20
	iqn := g.target("iqn.2025-01.dev.snp-go:bench", lunSpec{path: backing(b, g.dir, "lun", size, 0)})
	for _, bc := range []struct {
		name  string
		depth int
	}{{"qd1", 1}, {"qd16", 16}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := testContext(b)
			d, err := Open(ctx, Config{Portal: g.portal(), Target: iqn, LUN: LUN{0, 1}, InitiatorName: testIQN, QueueDepth: bc.depth})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			const req = 64 << 10
			per := uint64(req / d.BlockSize())
			var next atomic.Uint64
			var wg sync.WaitGroup
			var n atomic.Int64
			n.Store(int64(b.N))
			b.SetBytes(req)
			b.ReportAllocs()
			b.ResetTimer()
			for range bc.depth {
				wg.Go(func() {
					buf := make([]byte, req)
					for n.Add(-1) >= 0 {
						lba := (next.Add(per) - per) % (d.Blocks() - per)
						var err error
						if write {
							err = d.WriteBlocks(ctx, lba, buf)
						} else {
							err = d.ReadBlocks(ctx, lba, buf)
						}
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}
