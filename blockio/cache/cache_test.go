package cache

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-go/snp-go/blockio"
	"github.com/snp-go/snp-go/blockio/memdisk"
)

func mustNew(t testing.TB, d blockio.Disk, cfg Config) *Cache {
	t.Helper()
	c, err := New(d, cfg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// firstDiff describes where got and want differ, for failure messages.
func firstDiff(got, want []byte) string {
	for i := range want {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %d: %#x; want %#x", i, got[i], want[i])
		}
	}
	return "lengths differ"
}

func TestNewConfig(t *testing.T) {
	for _, tt := range []struct {
		name    string
		bs      int
		cfg     Config
		wantErr string
		maxBufs int
		pin     uint64
		maxRA   int
	}{
		{"defaults", 512, Config{}, "", 1024, 1, 16},
		{"4K blocks pin 34", 4096, Config{}, "", 1024, 3, 16},
		{"no pin", 512, Config{PinBlocks: -1}, "", 1024, 0, 16},
		{"no read-ahead", 512, Config{MaxReadAhead: -1}, "", 1024, 1, 0},
		{"small budget caps window", 512, Config{Budget: 8 * 64 << 10}, "", 8, 1, 3},
		{"smallest budget", 512, Config{ChunkSize: 4096, Budget: 3 * 4096, PinBlocks: 8}, "", 3, 1, 1},
		{"budget too small", 512, Config{ChunkSize: 4096, Budget: 2 * 4096, PinBlocks: 8}, "budget 8192 bytes holds 2 chunks", 0, 0, 0},
		{"pinned chunks need room", 512, Config{ChunkSize: 4096, Budget: 6 * 4096}, "at least 7 (the 5 pinned chunks", 0, 0, 0},
		{"chunk not power of two", 512, Config{ChunkSize: 3 * 512}, "chunk size 1536 must be a power of two", 0, 0, 0},
		{"chunk below block", 4096, Config{ChunkSize: 2048}, "at least the block size 4096", 0, 0, 0},
		{"block size not power of two", 520, Config{}, "block size 520 is not a power of two", 0, 0, 0},
	} {
		c, err := New(newFake(64, tt.bs, 1), tt.cfg)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: New(%+v) error = %v; want one containing %q", tt.name, tt.cfg, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: New(%+v) = %v", tt.name, tt.cfg, err)
			continue
		}
		if c.maxBufs != tt.maxBufs || c.pinChunks != tt.pin || c.maxRA != tt.maxRA {
			t.Errorf("%s: New(%+v) has %d buffers, %d pinned, window %d; want %d, %d, %d",
				tt.name, tt.cfg, c.maxBufs, c.pinChunks, c.maxRA, tt.maxBufs, tt.pin, tt.maxRA)
		}
	}
}

// TestModel runs random reads, sequential runs, writes and invalidations
// through a Cache and checks every read against a plain copy of the disk.
func TestModel(t *testing.T) {
	for _, tt := range []struct {
		name   string
		blocks int
		bs     int
		cfg    Config
	}{
		{"defaults", 3000, 512, Config{ChunkSize: 4096}},
		{"odd disk size", 1003, 512, Config{ChunkSize: 4096}},
		{"tiny budget", 1003, 512, Config{ChunkSize: 4096, Budget: 3 * 4096, PinBlocks: 8}},
		{"small budget", 2000, 512, Config{ChunkSize: 8192, Budget: 10 * 8192, MaxReadAhead: 8}},
		{"no read-ahead no pin", 1003, 512, Config{ChunkSize: 4096, MaxReadAhead: -1, PinBlocks: -1}},
		{"4K blocks", 301, 4096, Config{ChunkSize: 16384}},
		{"chunk is a block", 500, 512, Config{ChunkSize: 512, Budget: 40 * 512}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(tt.blocks, tt.bs, 7)
			want := f.snapshot()
			c := mustNew(t, f, tt.cfg)
			r := rand.New(rand.NewPCG(42, uint64(tt.blocks)))
			nb := uint64(tt.blocks)
			randRange := func(maxBlocks int) (uint64, int) {
				lba := r.Uint64N(nb)
				n := 1 + r.IntN(maxBlocks)
				n = min(n, int(nb-lba))
				return lba, n
			}
			read := func(lba uint64, n int, what string) {
				got := make([]byte, n*tt.bs)
				if err := c.ReadBlocks(lba, got); err != nil {
					t.Fatalf("%s: ReadBlocks(%d, %d blocks) = %v", what, lba, n, err)
				}
				off := int(lba) * tt.bs
				if !bytes.Equal(got, want[off:off+len(got)]) {
					t.Fatalf("%s: ReadBlocks(%d, %d blocks) returned other data than the disk holds: %s",
						what, lba, n, firstDiff(got, want[off:off+len(got)]))
				}
			}
			for op := range 3000 {
				switch k := r.IntN(20); {
				case k < 7:
					lba, n := randRange(40)
					read(lba, n, fmt.Sprintf("op %d random read", op))
				case k < 8:
					lba, n := randRange(300)
					read(lba, n, fmt.Sprintf("op %d long read", op))
				case k < 12:
					// A sequential run, in pieces of one size.
					lba, _ := randRange(1)
					piece := 1 + r.IntN(16)
					for i := 0; i < 1+r.IntN(30) && lba < nb; i++ {
						n := min(piece, int(nb-lba))
						read(lba, n, fmt.Sprintf("op %d sequential read %d", op, i))
						lba += uint64(n)
					}
				case k < 18:
					lba, n := randRange(20)
					buf := make([]byte, n*tt.bs)
					fillRandom(buf, uint64(op))
					if err := c.WriteBlocks(lba, buf); err != nil {
						t.Fatalf("op %d: WriteBlocks(%d, %d blocks) = %v", op, lba, n, err)
					}
					copy(want[int(lba)*tt.bs:], buf)
				case k < 19:
					c.Invalidate()
				default:
					if err := c.Flush(); err != nil {
						t.Fatalf("op %d: Flush = %v", op, err)
					}
				}
			}
			read(0, tt.blocks, "whole disk")
			if err := c.Close(); err != nil {
				t.Fatalf("Close = %v", err)
			}
			if got := f.snapshot(); !bytes.Equal(got, want) {
				t.Errorf("disk underneath differs from the model: %s", firstDiff(got, want))
			}
			s := c.Stats()
			if budget := int64(c.maxBufs * c.cs); s.BufferBytes > budget {
				t.Errorf("BufferBytes = %d; want <= budget %d", s.BufferBytes, budget)
			}
			t.Log(s)
		})
	}
}

// TestConcurrent has readers stream and jump over the whole disk while
// writers rewrite regions of their own and read them back: a writer must
// always read what it wrote, and readers what the disk holds where nobody
// writes.
func TestConcurrent(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
	}{
		{"roomy", Config{ChunkSize: 4096}},
		{"tight", Config{ChunkSize: 4096, Budget: 6 * 4096, PinBlocks: 8}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const (
				bs      = 512
				blocks  = 4096
				writers = 3
				region  = 256 // blocks per writer, at the end of the disk
				shared  = blocks - writers*region
			)
			f := newFake(blocks, bs, 3)
			f.latency = 20 * time.Microsecond
			orig := f.snapshot()
			c := mustNew(t, f, tt.cfg)
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(w), 9))
					base := uint64(shared + w*region)
					for i := range 150 {
						lba := base + r.Uint64N(region-16)
						buf := make([]byte, (1+r.IntN(16))*bs)
						fillRandom(buf, uint64(w*1000+i))
						if err := c.WriteBlocks(lba, buf); err != nil {
							errs <- fmt.Errorf("writer %d: WriteBlocks(%d) = %v", w, lba, err)
							return
						}
						got := make([]byte, len(buf))
						if err := c.ReadBlocks(lba, got); err != nil {
							errs <- fmt.Errorf("writer %d: ReadBlocks(%d) = %v", w, lba, err)
							return
						}
						if !bytes.Equal(got, buf) {
							errs <- fmt.Errorf("writer %d: ReadBlocks(%d) after WriteBlocks returned stale data: %s", w, lba, firstDiff(got, buf))
							return
						}
					}
				}()
			}
			for rd := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(rd), 5))
					for range 40 {
						lba := r.Uint64N(blocks - 1)
						piece := 1 + r.IntN(64)
						for range 1 + r.IntN(20) {
							n := min(piece, blocks-int(lba))
							if n == 0 {
								break
							}
							got := make([]byte, n*bs)
							if err := c.ReadBlocks(lba, got); err != nil {
								errs <- fmt.Errorf("reader %d: ReadBlocks(%d, %d) = %v", rd, lba, n, err)
								return
							}
							if lba < shared {
								end := min(int(lba)+n, shared)
								g, w := got[:(end-int(lba))*bs], orig[int(lba)*bs:end*bs]
								if !bytes.Equal(g, w) {
									errs <- fmt.Errorf("reader %d: ReadBlocks(%d, %d) returned other data than the disk holds: %s", rd, lba, n, firstDiff(g, w))
									return
								}
							}
							lba += uint64(n)
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			c.Close()
			got := make([]byte, blocks*bs)
			if err := c.ReadBlocks(0, got); err != nil {
				t.Fatalf("ReadBlocks(whole disk) = %v", err)
			}
			if want := f.snapshot(); !bytes.Equal(got, want) {
				t.Errorf("cache differs from the disk after the run: %s", firstDiff(got, want))
			}
			t.Log(c.Stats())
		})
	}
}

// TestReadAhead reads a file sequentially in 32 KiB pieces, as Grub does,
// from a slow disk: after the first chunk every read must find its data
// fetched or being fetched, several fetches must be in flight together,
// and the disk must see about one request per 64 KiB chunk.
func TestReadAhead(t *testing.T) {
	const (
		bs     = 512
		blocks = 16 << 20 / bs
		file   = 4 << 20
		start  = 2048 // LBA
		piece  = 32 << 10
	)
	f := newFake(blocks, bs, 11)
	f.latency = 2 * time.Millisecond
	c := mustNew(t, f, Config{})
	want := f.snapshot()
	buf := make([]byte, piece)
	for off := 0; off < file; off += piece {
		lba := uint64(start + off/bs)
		if err := c.ReadBlocks(lba, buf); err != nil {
			t.Fatalf("ReadBlocks(%d) = %v", lba, err)
		}
		if w := want[int(lba)*bs:][:piece]; !bytes.Equal(buf, w) {
			t.Fatalf("ReadBlocks(%d) returned other data than the disk holds: %s", lba, firstDiff(buf, w))
		}
	}
	c.Close()
	s := c.Stats()
	reads, maxIn := f.counts()
	chunks := file / DefaultChunkSize
	t.Logf("%d disk reads, %d in flight at most; %v", reads, maxIn, s)
	if s.Misses > 1 {
		t.Errorf("Misses = %d; want 1 (only the first chunk, before the stream is seen)", s.Misses)
	}
	if s.Prefetched < uint64(chunks-1) || s.PrefetchHits < uint64(chunks-1) {
		t.Errorf("Prefetched = %d, PrefetchHits = %d; want both >= %d", s.Prefetched, s.PrefetchHits, chunks-1)
	}
	if maxIn < 2 {
		t.Errorf("disk saw at most %d reads in flight; want several", maxIn)
	}
	// Read-ahead may run up to one window past the end of the file.
	if reads < chunks || reads > chunks+DefaultMaxReadAhead {
		t.Errorf("disk saw %d reads; want %d to %d (one per chunk)", reads, chunks, chunks+DefaultMaxReadAhead)
	}
}

// barrierDisk holds each read until want reads are in flight (or a second
// has passed), so that a test can tell concurrent fetches from serial ones
// without depending on timing.
type barrierDisk struct {
	*fakeDisk
	want int
	mu   sync.Mutex
	cond *sync.Cond
	in   int
	all  bool // want reads were in flight together
}

func (b *barrierDisk) ReadBlocks(lba uint64, buf []byte) error {
	b.mu.Lock()
	b.in++
	if b.in >= b.want {
		b.all = true
	}
	b.cond.Broadcast()
	deadline := time.Now().Add(time.Second)
	for b.in < b.want && time.Now().Before(deadline) {
		go func() { time.Sleep(10 * time.Millisecond); b.cond.Broadcast() }()
		b.cond.Wait()
	}
	b.mu.Unlock()
	return b.fakeDisk.ReadBlocks(lba, buf)
}

// TestLargeReadConcurrent checks that a single large read (U-Boot loading
// a 565 KiB image) fetches its chunks concurrently.
func TestLargeReadConcurrent(t *testing.T) {
	f := newFake(8192, 512, 2)
	const n = 565 << 10 / 512 * 512
	chunks := (n + DefaultChunkSize - 1) / DefaultChunkSize
	b := &barrierDisk{fakeDisk: f, want: chunks}
	b.cond = sync.NewCond(&b.mu)
	c := mustNew(t, b, Config{})
	got := make([]byte, n)
	if err := c.ReadBlocks(128, got); err != nil {
		t.Fatalf("ReadBlocks(128, %d bytes) = %v", n, err)
	}
	if w := f.snapshot()[128*512:][:n]; !bytes.Equal(got, w) {
		t.Fatalf("ReadBlocks(128, %d bytes) returned other data than the disk holds: %s", n, firstDiff(got, w))
	}
	reads, _ := f.counts()
	if reads != chunks || !b.all {
		t.Errorf("a %d-byte read made %d disk reads (all in flight together: %v); want %d, all at once", n, reads, b.all, chunks)
	}
}

// TestLongRead: a read of more than MaxChunkFetches chunks reads the
// chunks it covers whole in one disk request, uncached, and the partial
// chunks at its ends through the cache; cached chunks in the middle are
// copied, splitting the direct part.
func TestLongRead(t *testing.T) {
	const bs = 512
	cpb := uint64(DefaultChunkSize / bs)
	f := newFake(16384, bs, 14)
	want := f.snapshot()
	c := mustNew(t, f, Config{MaxReadAhead: -1})
	if err := c.ReadBlocks(20*cpb, make([]byte, bs)); err != nil { // cache chunk 20
		t.Fatal(err)
	}
	lba, n := 10*cpb+5, int(30*cpb) // chunks 10 (partial) to 40 (partial)
	got := make([]byte, n*bs)
	if err := c.ReadBlocks(lba, got); err != nil {
		t.Fatalf("ReadBlocks(%d, %d blocks) = %v", lba, n, err)
	}
	if w := want[lba*bs:][:len(got)]; !bytes.Equal(got, w) {
		t.Fatalf("ReadBlocks(%d, %d blocks) returned other data than the disk holds: %s", lba, n, firstDiff(got, w))
	}
	s := c.Stats()
	reads, _ := f.counts()
	// 1 (chunk 20) + chunks 10 and 40 + runs 11-19 and 21-39.
	if reads != 5 || s.Hits != 1 || s.Misses != 3 || s.Bypassed != 28 {
		t.Errorf("long read: %d disk reads, %d hits, %d misses, %d bypassed; want 5, 1, 3 (with the first read), 28", reads, s.Hits, s.Misses, s.Bypassed)
	}
}

// TestGPTReread replays U-Boot connecting a disk: the protective MBR, the
// GPT header and the 16 KiB entry array, read again and again, must cost
// one disk read, and stay cached while a large file streams through a
// small cache.
func TestGPTReread(t *testing.T) {
	img, err := memdisk.Build(8<<20, "SNPGO", []memdisk.File{{Path: "EFI/BOOT/BOOTAA64.EFI", Data: []byte("grub")}},
		memdisk.WithSeed([]byte("gpt")))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDisk{bs: memdisk.BlockSize, data: img}
	c := mustNew(t, f, Config{Budget: 8 * DefaultChunkSize})
	mbr, hdr, entries := make([]byte, 512), make([]byte, 512), make([]byte, 16384)
	reread := func(round int) {
		for _, r := range []struct {
			lba uint64
			buf []byte
		}{{0, mbr}, {1, hdr}, {2, entries}} {
			if err := c.ReadBlocks(r.lba, r.buf); err != nil {
				t.Fatalf("round %d: ReadBlocks(%d) = %v", round, r.lba, err)
			}
			if w := img[r.lba*512:][:len(r.buf)]; !bytes.Equal(r.buf, w) {
				t.Fatalf("round %d: ReadBlocks(%d) returned other data than the disk holds", round, r.lba)
			}
		}
	}
	for i := range 130 {
		reread(i)
	}
	if !bytes.Equal(hdr[:8], []byte("EFI PART")) {
		t.Fatalf("LBA 1 starts %q; want the GPT signature", hdr[:8])
	}
	if reads, _ := f.counts(); reads != 1 {
		t.Errorf("130 GPT rereads made %d disk reads; want 1", reads)
	}
	// Stream 4 MiB through a cache of 8 chunks, then reread the GPT.
	buf := make([]byte, 32<<10)
	for lba := uint64(2048); lba < 2048+8192; lba += 64 {
		if err := c.ReadBlocks(lba, buf); err != nil {
			t.Fatalf("ReadBlocks(%d) = %v", lba, err)
		}
	}
	c.wg.Wait() // read-ahead still under way
	before, _ := f.counts()
	reread(130)
	if after, _ := f.counts(); after != before {
		t.Errorf("GPT reread after streaming made %d disk reads; want 0 (pinned)", after-before)
	}
	if s := c.Stats(); s.Recycled == 0 {
		t.Errorf("Recycled = 0 after streaming 4 MiB through 8 chunks; want the stream's chunks reused: %v", s)
	}
}

// TestStreamRecycles: a file streamed once through a cache with room for
// all of it keeps about two read-ahead windows of chunks in memory (the
// window in flight, and the read-ahead past the file's end that nobody
// read; the stream's chunks are reused once read past), while a chunk read out of
// sequence before the stream (file system metadata) stays cached, and
// rereading the file still returns the disk's data.
func TestStreamRecycles(t *testing.T) {
	const bs, file, start = 512, 16 << 20, 8192 // LBA
	f := newFake(start+file/bs+2048, bs, 9)
	img := f.data
	c := mustNew(t, f, Config{PinBlocks: -1}) // 64 MiB budget
	meta := make([]byte, 4096)
	if err := c.ReadBlocks(100, meta); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32<<10)
	for pass := range 2 {
		for off := 0; off < file; off += len(buf) {
			lba := uint64(start + off/bs)
			if err := c.ReadBlocks(lba, buf); err != nil {
				t.Fatalf("pass %d: ReadBlocks(%d) = %v", pass, lba, err)
			}
			if !bytes.Equal(buf, img[lba*bs:][:len(buf)]) {
				t.Fatalf("pass %d: ReadBlocks(%d) returned other data than the disk holds", pass, lba)
			}
		}
		c.wg.Wait()
	}
	s := c.Stats()
	if max := int64(2*DefaultMaxReadAhead+4) * DefaultChunkSize; s.BufferBytes > max || s.Recycled == 0 {
		t.Errorf("after streaming 16 MiB twice: %d bytes buffered, %d recycled; want at most %d bytes (two read-ahead windows) and recycling: %v", s.BufferBytes, s.Recycled, max, s)
	}
	before, _ := f.counts()
	if err := c.ReadBlocks(100, meta); err != nil {
		t.Fatal(err)
	}
	if after, _ := f.counts(); after != before || !bytes.Equal(meta, img[100*bs:][:len(meta)]) {
		t.Errorf("rereading the block read before the stream made %d disk reads; want 0 (still cached)", after-before)
	}
}

var errInjected = errors.New("injected fault")

func TestReadErrors(t *testing.T) {
	const bs = 512
	cpb := uint64(DefaultChunkSize / bs)

	t.Run("demand fetch fails, is not cached", func(t *testing.T) {
		f := newFake(2048, bs, 4)
		var fail atomic.Bool
		fail.Store(true)
		f.readErr = func(lba uint64, n int) error {
			if fail.Load() && lba <= 5*cpb && 5*cpb < lba+uint64(n/bs) {
				return errInjected
			}
			return nil
		}
		c := mustNew(t, f, Config{MaxReadAhead: -1})
		buf := make([]byte, 3*DefaultChunkSize)
		err := c.ReadBlocks(4*cpb, buf)
		if !errors.Is(err, errInjected) {
			t.Fatalf("ReadBlocks over a failing chunk = %v; want %v", err, errInjected)
		}
		if want := fmt.Sprintf("blocks %d-%d", 5*cpb, 6*cpb-1); !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name the failed %s", err, want)
		}
		fail.Store(false)
		before, _ := f.counts()
		if err := c.ReadBlocks(4*cpb, buf); err != nil {
			t.Fatalf("ReadBlocks after the fault cleared = %v", err)
		}
		if w := f.snapshot()[4*cpb*bs:][:len(buf)]; !bytes.Equal(buf, w) {
			t.Fatalf("ReadBlocks after the fault returned other data than the disk holds: %s", firstDiff(buf, w))
		}
		if after, _ := f.counts(); after-before != 1 {
			t.Errorf("read after the fault made %d disk reads; want 1 (the failed chunk, not cached)", after-before)
		}
		if s := c.Stats(); s.FetchErrors != 1 {
			t.Errorf("FetchErrors = %d; want 1", s.FetchErrors)
		}
	})

	t.Run("failed read-ahead is dropped and retried", func(t *testing.T) {
		f := newFake(4096, bs, 5)
		var failed atomic.Int32
		f.readErr = func(lba uint64, n int) error {
			if lba == 3*cpb && failed.Add(1) == 1 {
				return errInjected
			}
			return nil
		}
		c := mustNew(t, f, Config{})
		want := f.snapshot()
		buf := make([]byte, 32<<10)
		for lba := uint64(0); lba < 8*cpb; lba += 64 {
			if err := c.ReadBlocks(lba, buf); err != nil {
				t.Fatalf("ReadBlocks(%d) = %v; want the failed read-ahead retried", lba, err)
			}
			if w := want[lba*bs:][:len(buf)]; !bytes.Equal(buf, w) {
				t.Fatalf("ReadBlocks(%d) returned other data than the disk holds: %s", lba, firstDiff(buf, w))
			}
		}
		c.Close()
		if s := c.Stats(); s.Dropped != 1 || failed.Load() < 2 {
			t.Errorf("Dropped = %d, chunk 3 read %d times; want 1 dropped read-ahead and a retry", s.Dropped, failed.Load())
		}
	})

	t.Run("no media passes through", func(t *testing.T) {
		f := newFake(1024, bs, 6)
		f.readErr = func(uint64, int) error { return blockio.ErrNoMedia }
		c := mustNew(t, f, Config{})
		if err := c.ReadBlocks(7, make([]byte, bs)); !errors.Is(err, blockio.ErrNoMedia) {
			t.Errorf("ReadBlocks = %v; want it to wrap blockio.ErrNoMedia", err)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		f := newFake(1024, bs, 6)
		c := mustNew(t, f, Config{})
		for _, tt := range []struct {
			lba  uint64
			n    int
			want string
		}{
			{1024, bs, "past the end"},
			{1020, 8 * bs, "past the end"},
			{^uint64(0), bs, "past the end"},
			{0, 100, "not a multiple of the block size"},
		} {
			if err := c.ReadBlocks(tt.lba, make([]byte, tt.n)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ReadBlocks(%d, %d bytes) = %v; want an error containing %q", tt.lba, tt.n, err, tt.want)
			}
			if err := c.WriteBlocks(tt.lba, make([]byte, tt.n)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("WriteBlocks(%d, %d bytes) = %v; want an error containing %q", tt.lba, tt.n, err, tt.want)
			}
		}
		if reads, _ := f.counts(); reads != 0 || f.writes != 0 {
			t.Errorf("bad requests reached the disk: %d reads, %d writes", reads, f.writes)
		}
	})
}

// TestWriteError: a write that fails half-way leaves the disk partly
// written; the cache must show what the disk holds, not what it held.
func TestWriteError(t *testing.T) {
	const bs = 512
	f := newFake(1024, bs, 8)
	c := mustNew(t, f, Config{ChunkSize: 4096})
	buf := make([]byte, 64*bs)
	if err := c.ReadBlocks(0, buf); err != nil { // cache it
		t.Fatal(err)
	}
	f.writeErr = func(lba uint64, n int) (int, error) { return n / 2, errInjected }
	w := make([]byte, 16*bs)
	fillRandom(w, 99)
	if err := c.WriteBlocks(20, w); !errors.Is(err, errInjected) {
		t.Fatalf("WriteBlocks = %v; want %v", err, errInjected)
	}
	if err := c.ReadBlocks(0, buf); err != nil {
		t.Fatal(err)
	}
	if want := f.snapshot()[:len(buf)]; !bytes.Equal(buf, want) {
		t.Errorf("after a failed write the cache returned other data than the disk holds: %s", firstDiff(buf, want))
	}
}

// TestWritePrefetchRace stops a read-ahead fetch after it has read a chunk
// and lets a write to that chunk complete before the fetch returns: no
// read that starts after the write may see the old data.
func TestWritePrefetchRace(t *testing.T) {
	const (
		bs  = 512
		cs  = 4096
		cpb = cs / bs
	)
	f := newFake(256, bs, 10)
	stalled, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	f.afterCopy = func(lba uint64, n int) {
		if lba == 2*cpb && first.CompareAndSwap(false, true) {
			close(stalled)
			<-release
		}
	}
	c := mustNew(t, f, Config{ChunkSize: cs})
	buf := make([]byte, cs)
	// Two sequential chunk reads start read-ahead of chunks 2 and 3.
	for i := range 2 {
		if err := c.ReadBlocks(uint64(i*cpb), buf); err != nil {
			t.Fatal(err)
		}
	}
	<-stalled // the fetch of chunk 2 holds the old data
	old := f.snapshot()[2*cs : 3*cs]

	// A reader that joins the fetch before the write.
	early := make(chan []byte)
	go func() {
		b := make([]byte, cs)
		if err := c.ReadBlocks(2*cpb, b); err != nil {
			t.Errorf("early ReadBlocks = %v", err)
		}
		early <- b
	}()
	for c.Stats().Waits == 0 {
		time.Sleep(time.Millisecond)
	}

	w := make([]byte, 2*bs)
	fillRandom(w, 77)
	if err := c.WriteBlocks(2*cpb+3, w); err != nil {
		t.Fatalf("WriteBlocks = %v", err)
	}
	want := f.snapshot()[2*cs : 3*cs]
	if bytes.Equal(old, want) {
		t.Fatal("the write did not change the chunk")
	}
	// While the stale fetch is still stalled.
	after := make(chan error, 1)
	go func() { after <- c.ReadBlocks(2*cpb, buf) }()
	select {
	case err := <-after:
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, want) {
			t.Errorf("read after the write, during the stale fetch, returned old data: %s", firstDiff(buf, want))
		}
		close(release)
	case <-time.After(5 * time.Second):
		t.Errorf("read after the write still waits for the fetch that began before the write")
		close(release)
		<-after
	}
	if got := <-early; !bytes.Equal(got, want) && !bytes.Equal(got, old) {
		t.Errorf("read concurrent with the write returned a mix of old and new data")
	}
	c.Close() // the stale fetch has finished
	if err := c.ReadBlocks(2*cpb, buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, want) {
		t.Errorf("read after the stale fetch finished returned old data: %s", firstDiff(buf, want))
	}
}

// TestBoundedMemory streams and jumps over a disk 64 times the budget with
// several readers: chunk buffers never exceed the budget, they are reused
// rather than allocated per miss, and cache hits allocate nothing.
func TestBoundedMemory(t *testing.T) {
	const (
		bs     = 512
		cs     = 16 << 10
		budget = 8 * cs
		blocks = 64 * budget / bs
	)
	f := newFake(blocks, bs, 12)
	c := mustNew(t, f, Config{ChunkSize: cs, Budget: budget})
	var (
		wg   sync.WaitGroup
		done = make(chan struct{})
		peak atomic.Int64
	)
	go func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			peak.Store(max(peak.Load(), c.Stats().BufferBytes))
			runtime.Gosched()
		}
	}()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 3))
			buf := make([]byte, 64<<10)
			for range 30 {
				lba := r.Uint64N(blocks - 1024)
				for range 8 {
					n := (1 + r.IntN(64)) * bs
					if err := c.ReadBlocks(lba, buf[:n]); err != nil {
						t.Errorf("ReadBlocks(%d) = %v", lba, err)
						return
					}
					lba += uint64(n / bs)
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	c.Close()
	runtime.ReadMemStats(&ms1)
	s := c.Stats()
	if p := max(peak.Load(), s.BufferBytes); p > budget {
		t.Errorf("chunk buffers reached %d bytes; want <= budget %d", p, budget)
	}
	misses := s.Misses + s.Prefetched
	if perMiss := (ms1.TotalAlloc - ms0.TotalAlloc) / max(misses, 1); perMiss > cs/4 {
		t.Errorf("allocated %d bytes per fetched chunk over %d fetches; want far less than the %d-byte chunk (buffers reused)",
			perMiss, misses, cs)
	}
	t.Log(s)

	// Hits allocate nothing.
	buf := make([]byte, 4*bs)
	if err := c.ReadBlocks(0, buf); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() { c.ReadBlocks(0, buf) }); a != 0 {
		t.Errorf("a cache hit allocates %v times; want 0", a)
	}
}

func TestPassThrough(t *testing.T) {
	f := newFake(100, 4096, 1)
	f.ro = true
	c := mustNew(t, f, Config{})
	if c.BlockSize() != 4096 || c.NumBlocks() != 100 || !c.ReadOnly() {
		t.Errorf("BlockSize, NumBlocks, ReadOnly = %d, %d, %v; want 4096, 100, true", c.BlockSize(), c.NumBlocks(), c.ReadOnly())
	}
	if err := c.Flush(); err != nil || f.flushes != 1 {
		t.Errorf("Flush = %v with %d disk flushes; want nil and 1", err, f.flushes)
	}
	if err := c.ReadBlocks(3, nil); err != nil {
		t.Errorf("zero-length ReadBlocks = %v; want nil", err)
	}
}

// TestCloseStopsReadAhead: after Close, sequential reads start no more
// background fetches but still work.
func TestCloseStopsReadAhead(t *testing.T) {
	f := newFake(4096, 512, 13)
	c := mustNew(t, f, Config{})
	c.Close()
	buf := make([]byte, 32<<10)
	for lba := uint64(0); lba < 1024; lba += 64 {
		if err := c.ReadBlocks(lba, buf); err != nil {
			t.Fatal(err)
		}
	}
	if s := c.Stats(); s.Prefetched != 0 {
		t.Errorf("Prefetched = %d after Close; want 0", s.Prefetched)
	}
}
