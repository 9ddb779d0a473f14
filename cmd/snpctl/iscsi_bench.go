package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/snp-go/snp-go/iscsi"
)

// iscsiBench reads sequentially with --queue-depth requests of
// --request-size bytes in flight (by default one worker goroutine per
// request, each taking the next range, like libiscsi's iscsi-perf) and
// reports MiB/s (iscsi-perf's "MB/s" is also bytes>>20 per second).
func iscsiBench(ctx context.Context, f *iscsiFlags, d *iscsi.Disk) error {
	bs := int(d.BlockSize())
	if f.requestSize < bs || f.requestSize%bs != 0 {
		return fmt.Errorf("--request-size %d must be a multiple of the %d-byte block size", f.requestSize, bs)
	}
	per := uint64(f.requestSize / bs)
	if per > d.Blocks() {
		return fmt.Errorf("--request-size %d is larger than the LUN", f.requestSize)
	}
	ctx, cancel := context.WithTimeout(ctx, f.duration)
	defer cancel()
	var next, reqs atomic.Uint64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	workers := f.workers
	if workers <= 0 {
		workers = f.queueDepth
	}
	for range max(1, workers) {
		wg.Go(func() {
			buf := make([]byte, f.requestSize)
			for ctx.Err() == nil {
				lba := (next.Add(per) - per) % (d.Blocks() / per * per)
				if err := d.ReadBlocks(ctx, lba, buf); err != nil {
					if ctx.Err() == nil {
						once.Do(func() { firstErr = err })
						cancel()
					}
					return
				}
				reqs.Add(1)
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	if firstErr != nil {
		return firstErr
	}
	bytes := reqs.Load() * uint64(f.requestSize)
	fmt.Printf("read %d MiB in %.2f s: %.1f MiB/s, %.0f IOPS (%d-byte requests, %d workers, queue depth %d, block size %d)\n",
		bytes>>20, el.Seconds(), float64(bytes)/el.Seconds()/(1<<20), float64(reqs.Load())/el.Seconds(), f.requestSize, workers, f.queueDepth, bs)
	if s := d.Stats(); s.Failures > 0 || s.Retries > 0 {
		fmt.Printf("recovery: %d connection failures, %d retries, %d logins\n", s.Failures, s.Retries, s.Logins)
	}
	return nil
}
