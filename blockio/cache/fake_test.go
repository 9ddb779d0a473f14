package cache

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// fakeDisk is an in-memory disk that counts requests, records how many
// were in flight at once, and can be slowed down, made to fail, or made to
// stop in the middle of a read.
type fakeDisk struct {
	bs int
	ro bool

	// latency is added to every request; bandwidth (bytes/s, 0: unlimited)
	// models one link that requests share, like an iSCSI connection.
	latency   time.Duration
	bandwidth float64

	// readErr, if set, is asked before each read; a non-nil error fails it.
	readErr func(lba uint64, n int) error
	// afterCopy, if set, runs after a read copied its data and before it
	// returns (a read that has seen the disk but not yet answered).
	afterCopy func(lba uint64, n int)
	// writeErr, if set, is asked before each write: it returns how many
	// bytes to write and the error to return.
	writeErr func(lba uint64, n int) (int, error)

	mu          sync.Mutex
	data        []byte
	reads       int
	writes      int
	flushes     int
	inflight    int
	maxInflight int
	linkFree    time.Time
}

func newFake(blocks, bs int, seed uint64) *fakeDisk {
	f := &fakeDisk{bs: bs, data: make([]byte, blocks*bs)}
	fillRandom(f.data, seed)
	return f
}

func fillRandom(b []byte, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i+8 <= len(b); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
}

func (f *fakeDisk) BlockSize() int    { return f.bs }
func (f *fakeDisk) NumBlocks() uint64 { return uint64(len(f.data) / f.bs) }
func (f *fakeDisk) ReadOnly() bool    { return f.ro }

func (f *fakeDisk) Flush() error {
	f.mu.Lock()
	f.flushes++
	f.mu.Unlock()
	return nil
}

func (f *fakeDisk) check(op string, lba uint64, n int) error {
	if n%f.bs != 0 || lba*uint64(f.bs)+uint64(n) > uint64(len(f.data)) {
		return fmt.Errorf("fake: bad %s of %d bytes at LBA %d", op, n, lba)
	}
	return nil
}

func (f *fakeDisk) ReadBlocks(lba uint64, buf []byte) error {
	f.mu.Lock()
	f.reads++
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	if err := f.check("read", lba, len(buf)); err != nil {
		return err
	}
	f.delay(len(buf))
	if f.readErr != nil {
		if err := f.readErr(lba, len(buf)); err != nil {
			return err
		}
	}
	f.mu.Lock()
	copy(buf, f.data[lba*uint64(f.bs):])
	f.mu.Unlock()
	if f.afterCopy != nil {
		f.afterCopy(lba, len(buf))
	}
	return nil
}

func (f *fakeDisk) WriteBlocks(lba uint64, buf []byte) error {
	if err := f.check("write", lba, len(buf)); err != nil {
		return err
	}
	f.delay(len(buf))
	n, err := len(buf), error(nil)
	if f.writeErr != nil {
		n, err = f.writeErr(lba, len(buf))
	}
	f.mu.Lock()
	f.writes++
	copy(f.data[lba*uint64(f.bs):], buf[:n])
	f.mu.Unlock()
	return err
}

// delay waits for the request's latency, then for its turn on the link.
func (f *fakeDisk) delay(n int) {
	if f.latency > 0 {
		time.Sleep(f.latency)
	}
	if f.bandwidth > 0 {
		d := time.Duration(float64(n) / f.bandwidth * float64(time.Second))
		f.mu.Lock()
		now := time.Now()
		if f.linkFree.Before(now) {
			f.linkFree = now
		}
		f.linkFree = f.linkFree.Add(d)
		until := f.linkFree
		f.mu.Unlock()
		time.Sleep(time.Until(until))
	}
}

func (f *fakeDisk) counts() (reads, maxInflight int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads, f.maxInflight
}

// snapshot returns a copy of the disk's contents.
func (f *fakeDisk) snapshot() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]byte(nil), f.data...)
}
