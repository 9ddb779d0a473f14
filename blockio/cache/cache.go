// Package cache puts a bounded read cache with read-ahead in front of a
// blockio.Disk, for the way firmware boots from a SAN disk.
//
// U-Boot, Grub and the Linux EFI stub read through EFI_BLOCK_IO_PROTOCOL
// (UEFI 2.10 §13.9) in small pieces: U-Boot re-reads the GPT (§5.3) many
// times while it connects a disk and re-reads FAT sectors, Grub reads files
// 32 KiB at a time, and every request to an iSCSI disk is a network round
// trip. A Cache turns that into few, large, concurrent requests:
//
//   - The disk is cached in aligned chunks (Config.ChunkSize, 64 KiB by
//     default); a miss fetches the whole chunk. Chunks live in an LRU list
//     bounded by Config.Budget bytes; the chunks holding the first
//     Config.PinBlocks blocks (the GPT) are never evicted once read.
//   - A read that continues where an earlier one ended (a few streams are
//     tracked) starts read-ahead: once a stream has read a chunk's worth,
//     the next chunks are fetched in background goroutines, the window
//     doubling up to Config.MaxReadAhead chunks, so the disk underneath (an
//     iSCSI session pipelines concurrent calls) has several commands in
//     flight. A read of several chunks fetches the missing ones
//     concurrently; one longer than MaxChunkFetches chunks reads what it
//     covers whole straight from the disk, uncached.
//   - A stream's chunks, once it has read past them, are recycled before
//     any new buffer is allocated: a file streamed once (Grub loading a
//     kernel and an initrd) keeps about a read-ahead window in memory
//     rather than filling the budget with data nobody reads again, while
//     the GPT, file system metadata and anything read out of sequence stay
//     cached. Fresh buffers are zeroed memory that has to be touched for the
//     first time (costly under QEMU TCG: TLB misses, host page faults).
//   - Each chunk is fetched once: a read that needs a chunk already in
//     flight waits for that fetch.
//   - Writes go straight to the disk, then update the cached chunks they
//     touch; a fetch that was in flight during a write is discarded, so
//     the cache never serves data older than a completed write.
//   - A failed fetch is returned to the readers that need it and is not
//     cached; a failed read-ahead fetch is dropped and the read that needs
//     the chunk reads it again.
//
// Cache is safe for concurrent use and pure Go (it builds for GOOS=tamago).
//
//	c, err := cache.New(lun, cache.Config{}) // lun: a blockio.Disk
//	dev := blockio.New(c, mediaID)           // install dev as Block IO
//	...
//	logf("%v", c.Stats())                    // one line of counters
//	c.Close()                                // sanunhook, ExitBootServices
//
// Close stops read-ahead and waits for the background fetches; call it
// before the firmware is left. A disk that reports 0 blocks (unhooked) gets
// blockio.ErrNoMedia from the Cache too, never cached data.
package cache

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/snp-go/snp-go/blockio"
)

// Defaults for zero Config fields.
const (
	DefaultChunkSize    = 64 << 10
	DefaultBudget       = 64 << 20
	DefaultMaxReadAhead = 16 // chunks: 1 MiB with the default chunk size
	// DefaultPinBlocks covers the protective MBR (LBA 0), the GPT header
	// (LBA 1) and the minimum 16 KiB partition entry array (LBA 2-33) on
	// a disk with 512-byte blocks (UEFI 2.10 §5.3.1, §5.3.2).
	DefaultPinBlocks = 34
)

// MaxChunkFetches is the most chunks one read fetches into the cache; a
// longer read reads the chunks it covers whole straight from the disk.
const MaxChunkFetches = 16

// numStreams is how many sequential readers are told apart (Grub reading a
// file while its FAT driver reads the FAT, for example).
const numStreams = 4

// Config tunes a Cache. Zero fields take the defaults.
type Config struct {
	// ChunkSize is the unit of caching and fetching, in bytes: a power of
	// two and a multiple of the disk's block size (default 64 KiB).
	ChunkSize int
	// Budget bounds the memory held in chunk buffers, in bytes (default
	// 64 MiB). It must hold the pinned chunks and two more.
	Budget int64
	// PinBlocks: the chunks holding blocks 0..PinBlocks-1 stay cached once
	// read (default DefaultPinBlocks). Negative pins nothing.
	PinBlocks int
	// MaxReadAhead is the largest read-ahead window, in chunks (default
	// 16). It is also the most read-ahead fetches in flight at once.
	// Negative turns read-ahead off.
	MaxReadAhead int
}

// Stats counts what a Cache did. A chunk lookup is one chunk a read
// touched: Hits+Waits+Misses+Bypassed is the number of lookups.
type Stats struct {
	Reads        uint64 // ReadBlocks calls
	BytesRead    uint64 // bytes returned by ReadBlocks
	Hits         uint64 // lookups served from cached data
	Waits        uint64 // lookups that waited for a fetch already in flight
	Misses       uint64 // lookups that fetched the chunk
	Bypassed     uint64 // lookups read straight from the disk, uncached (long reads, no room, superseded or failed read-ahead)
	Prefetched   uint64 // chunks fetched by read-ahead
	PrefetchHits uint64 // read-ahead chunks that a read then used
	Dropped      uint64 // read-ahead fetches that failed and were dropped
	Evictions    uint64 // chunks evicted to make room
	Recycled     uint64 // chunks a stream had read past, reused before a new buffer was allocated
	Fetches      uint64 // ReadBlocks calls made on the disk underneath
	BytesFetched uint64 // bytes read from the disk underneath
	FetchErrors  uint64 // failed ReadBlocks calls on the disk underneath
	MaxInFlight  int64  // most concurrent ReadBlocks calls on the disk
	Writes       uint64 // WriteBlocks calls
	BytesWritten uint64
	BufferBytes  int64 // memory in chunk buffers now (at most Config.Budget)
}

// String is a one-line summary for logs and the closing note.
func (s Stats) String() string {
	lookups := s.Hits + s.Waits + s.Misses + s.Bypassed
	pct := 0.0
	if lookups > 0 {
		pct = 100 * float64(s.Hits+s.Waits) / float64(lookups)
	}
	return fmt.Sprintf("cache: %d reads (%d bytes), %d chunk lookups %.1f%% without a fetch of their own "+
		"(%d hits, %d waits, %d misses, %d bypassed), %d read-ahead (%d used, %d dropped), "+
		"%d fetches (%d bytes, %d errors, max %d in flight), %d evictions, %d recycled, %d writes, %d bytes buffered",
		s.Reads, s.BytesRead, lookups, pct, s.Hits, s.Waits, s.Misses, s.Bypassed,
		s.Prefetched, s.PrefetchHits, s.Dropped, s.Fetches, s.BytesFetched, s.FetchErrors,
		s.MaxInFlight, s.Evictions, s.Recycled, s.Writes, s.BufferBytes)
}

// chunk is one aligned ChunkSize piece of the disk. A chunk in c.chunks is
// loading (a fetch fills data, nobody else touches it) or ready. A ready
// chunk with no waiters is in the LRU list unless pinned. A chunk that left
// c.chunks while someone still refers to it is "gone"; its buffer returns
// to the free list when the last reference is released.
type chunk struct {
	idx  uint64
	buf  []byte // ChunkSize bytes, reused
	data []byte // buf[:bytes of this chunk] (shorter at the end of the disk)

	refs       int  // readers waiting for or about to copy from this chunk
	loading    bool // a fetch is filling data
	gone       bool // no longer in c.chunks
	superseded bool // a write or Invalidate happened while loading: data may be old
	pinned     bool
	prefetch   bool  // fetched by read-ahead
	unused     bool  // fetched by read-ahead and not read yet
	streamed   bool  // a sequential stream has read past it: recycled first
	err        error // the fetch failed

	prev, next *chunk // LRU list
}

type stream struct {
	end    uint64 // LBA after the last read of the stream
	bytes  int64  // bytes read in sequence so far
	window int    // read-ahead window in chunks
	used   uint64 // clock of the last read, to replace the oldest stream
}

// Cache is a blockio.Disk that caches another one.
type Cache struct {
	disk      blockio.Disk
	bs        int    // block size
	cs        int    // chunk size in bytes
	cpb       uint64 // blocks per chunk
	nblocks   uint64 // disk size when the Cache was made
	pinChunks uint64 // chunks 0..pinChunks-1 are pinned
	maxBufs   int    // Budget / ChunkSize
	maxRA     int    // read-ahead window limit in chunks, 0: off

	wmu sync.Mutex // serialises writes so the cache follows the disk's order

	mu          sync.Mutex
	cond        *sync.Cond // broadcast when a fetch completes
	chunks      map[uint64]*chunk
	lru         chunk // sentinel: lru.next is the most recently used
	free        []*chunk
	nbufs       int // buffers allocated (in chunks and in free)
	prefetching int // read-ahead fetches in flight
	streams     [numStreams]stream
	clock       uint64
	closed      bool
	stats       Stats

	inflight atomic.Int64
	maxIn    atomic.Int64
	wg       sync.WaitGroup // read-ahead fetches
	// ahead feeds the maxRA prefetcher goroutines. Long-lived workers
	// instead of a goroutine per chunk: a new goroutine grows its stack
	// (a copy and a frame walk each time) down the disk's read path,
	// which under QEMU TCG cost ~5 % of snp-go's instructions per frame
	// in a bulk SAN read.
	ahead     chan *chunk
	closeOnce sync.Once
}

var _ blockio.Disk = (*Cache)(nil)

// New returns a Cache in front of d.
func New(d blockio.Disk, cfg Config) (*Cache, error) {
	bs := d.BlockSize()
	if bs <= 0 || bs&(bs-1) != 0 {
		return nil, fmt.Errorf("cache: disk block size %d is not a power of two", bs)
	}
	if cfg.ChunkSize == 0 {
		cfg.ChunkSize = DefaultChunkSize
	}
	if cfg.Budget == 0 {
		cfg.Budget = DefaultBudget
	}
	if cfg.PinBlocks == 0 {
		cfg.PinBlocks = DefaultPinBlocks
	}
	if cfg.MaxReadAhead == 0 {
		cfg.MaxReadAhead = DefaultMaxReadAhead
	}
	cs := cfg.ChunkSize
	if cs < bs || cs&(cs-1) != 0 {
		return nil, fmt.Errorf("cache: chunk size %d must be a power of two and at least the block size %d", cs, bs)
	}
	c := &Cache{
		disk:    d,
		bs:      bs,
		cs:      cs,
		cpb:     uint64(cs / bs),
		nblocks: d.NumBlocks(),
		chunks:  make(map[uint64]*chunk),
	}
	if cfg.PinBlocks > 0 {
		c.pinChunks = (uint64(cfg.PinBlocks) + c.cpb - 1) / c.cpb
	}
	if cfg.Budget/int64(cs) > 1<<30 {
		cfg.Budget = int64(cs) << 30
	}
	c.maxBufs = int(cfg.Budget / int64(cs))
	if uint64(c.maxBufs) < c.pinChunks+2 {
		return nil, fmt.Errorf("cache: budget %d bytes holds %d chunks of %d bytes; "+
			"it needs at least %d (the %d pinned chunks and two more): raise Budget or lower PinBlocks",
			cfg.Budget, c.maxBufs, cs, c.pinChunks+2, c.pinChunks)
	}
	if cfg.MaxReadAhead > 0 {
		// Leave room so that read-ahead cannot evict what is being read.
		c.maxRA = min(cfg.MaxReadAhead, (c.maxBufs-int(c.pinChunks))/2)
	}
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	c.cond = sync.NewCond(&c.mu)
	if c.maxRA > 0 {
		// At most maxRA read-aheads are in flight (readAhead), so a send
		// never blocks.
		c.ahead = make(chan *chunk, c.maxRA)
		for range c.maxRA {
			go c.prefetcher()
		}
	}
	return c, nil
}

// prefetcher reads the chunks readAhead chose until Close.
func (c *Cache) prefetcher() {
	for ch := range c.ahead {
		c.fill(ch)
		c.wg.Done()
	}
}

// BlockSize, NumBlocks and ReadOnly are the disk's.
func (c *Cache) BlockSize() int    { return c.bs }
func (c *Cache) NumBlocks() uint64 { return c.disk.NumBlocks() }
func (c *Cache) ReadOnly() bool    { return c.disk.ReadOnly() }

// Flush flushes the disk; the cache holds no dirty data.
func (c *Cache) Flush() error { return c.disk.Flush() }

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	s := c.stats
	s.BufferBytes = int64(c.nbufs) * int64(c.cs)
	c.mu.Unlock()
	s.MaxInFlight = c.maxIn.Load()
	return s
}

// Close stops read-ahead and waits for the fetches running in the
// background. The Cache still serves reads and writes afterwards, without
// read-ahead. Call it before ExitBootServices so that nothing uses the
// disk behind the caller's back.
func (c *Cache) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.wg.Wait()
	// Every read-ahead counted in wg was sent before it was done, and none
	// is added once closed is set: nothing sends any more.
	c.closeOnce.Do(func() {
		if c.ahead != nil {
			close(c.ahead)
		}
	})
	return nil
}

// Invalidate forgets every cached chunk, for when the disk may have
// changed behind the Cache's back. Fetches in flight are not cached.
func (c *Cache) Invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.chunks {
		c.detach(ch)
	}
	c.streams = [numStreams]stream{}
}

func (c *Cache) checkRange(op string, lba uint64, n int) error {
	nb := c.disk.NumBlocks()
	switch {
	case nb == 0:
		return fmt.Errorf("cache: %s at LBA %d: %w", op, lba, blockio.ErrNoMedia)
	case n%c.bs != 0:
		return fmt.Errorf("cache: %s of %d bytes at LBA %d: not a multiple of the block size %d", op, n, lba, c.bs)
	case lba >= nb || uint64(n/c.bs) > nb-lba || lba+uint64(n/c.bs) > c.nblocks:
		return fmt.Errorf("cache: %s of %d blocks at LBA %d: past the end of the disk (%d blocks)", op, n/c.bs, lba, nb)
	}
	return nil
}

// piece is a part of a read that is read straight from the disk.
type piece struct {
	lba      uint64
	off, end int // in the caller's buffer
}

// ReadBlocks reads len(buf) bytes from lba, from the cache where it can.
//
// The chunks the read needs and nobody fetches yet are fetched
// concurrently, and cached. A read longer than MaxChunkFetches chunks
// (U-Boot loading a whole file in one request) reads the chunks it covers
// whole and that are not cached straight into buf, one disk request per
// run, rather than flushing the cache with data read once: the disk
// underneath splits and pipelines large requests itself.
func (c *Cache) ReadBlocks(lba uint64, buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	if err := c.checkRange("read", lba, len(buf)); err != nil {
		return err
	}
	start := lba * uint64(c.bs)
	end := start + uint64(len(buf))
	first, last := start/uint64(c.cs), (end-1)/uint64(c.cs)
	bulk := last-first+1 > MaxChunkFetches

	var (
		pending []*chunk // chunks to wait for
		fetch   []*chunk // chunks this call fetches
		direct  []piece  // parts to read uncached now
		late    []piece  // parts to read uncached after waiting
		ahead   []*chunk // read-ahead fetches started here
	)
	c.mu.Lock()
	c.stats.Reads++
	c.stats.BytesRead += uint64(len(buf))
	seq := c.inStream(lba)
	for idx := first; idx <= last; idx++ {
		ch := c.chunks[idx]
		switch {
		case ch != nil && !ch.loading:
			c.stats.Hits++
			c.use(ch, seq, end)
			c.copyOut(buf, start, ch)
			if !ch.pinned && ch.refs == 0 {
				c.lruRemove(ch)
				c.lruPush(ch)
			}
			continue
		case ch != nil:
			c.stats.Waits++
		case bulk && idx > first && idx < last:
			ch = nil
		default:
			ch = c.alloc(idx, false)
			if ch != nil {
				c.stats.Misses++
				fetch = append(fetch, ch)
			}
		}
		if ch == nil {
			c.stats.Bypassed++
			direct = c.addPiece(direct, buf, start, idx)
			continue
		}
		c.use(ch, seq, end)
		ch.refs++
		pending = append(pending, ch)
	}
	ahead = c.readAhead(lba, uint64(len(buf)/c.bs), last)
	// Counted under c.mu: Close sets closed under c.mu and then waits, so
	// no read-ahead is added once it waits. (Demand fetches are waited for
	// by their reader.)
	c.wg.Add(len(ahead))
	c.mu.Unlock()

	// Demand fetches go first so that they are ahead of read-ahead in the
	// disk's queue; this goroutine does the direct reads, or else one of
	// the fetches, itself.
	for i, ch := range fetch {
		if i > 0 || len(direct) > 0 {
			go c.fill(ch)
		}
	}
	for _, ch := range ahead {
		c.ahead <- ch
	}
	if len(fetch) > 0 && len(direct) == 0 {
		c.fill(fetch[0])
	}
	firstErr := c.readDirect(buf, direct)

	c.mu.Lock()
	for _, ch := range pending {
		for ch.loading {
			c.cond.Wait()
		}
		switch {
		case ch.superseded:
			// A write landed while this chunk was read: its data may
			// be older than the write. Read the disk again.
			c.stats.Bypassed++
			late = c.addPiece(late, buf, start, ch.idx)
		case ch.err != nil && ch.prefetch:
			// A failed read-ahead is not an error of this read: retry.
			c.stats.Bypassed++
			late = c.addPiece(late, buf, start, ch.idx)
		case ch.err != nil:
			if firstErr == nil {
				firstErr = ch.err
			}
		default:
			c.copyOut(buf, start, ch)
		}
		c.release(ch)
	}
	c.mu.Unlock()
	if firstErr != nil {
		return firstErr
	}
	return c.readDirect(buf, late)
}

// readDirect reads pieces of buf from the disk, uncached.
func (c *Cache) readDirect(buf []byte, ps []piece) error {
	for _, p := range ps {
		if err := c.read(p.lba, buf[p.off:p.end]); err != nil {
			return fmt.Errorf("cache: reading blocks %d-%d: %w", p.lba, p.lba+uint64(p.end-p.off)/uint64(c.bs)-1, err)
		}
	}
	return nil
}

// use notes a read of ch that ends at byte end of the disk, part of a
// sequential stream if seq: for the read-ahead statistics, and to recycle
// the chunk first once a stream has read to its end (another read puts it
// back among the others). c.mu is held.
func (c *Cache) use(ch *chunk, seq bool, end uint64) {
	if ch.unused {
		ch.unused = false
		c.stats.PrefetchHits++
	}
	_, hi := c.chunkRange(ch.idx)
	ch.streamed = seq && end >= hi
}

// stream returns the stream that a read at lba continues, or nil. c.mu
// is held.
func (c *Cache) stream(lba uint64) *stream {
	for i := range c.streams {
		if s := &c.streams[i]; s.bytes > 0 && s.end == lba {
			return s
		}
	}
	return nil
}

// inStream reports whether a read at lba continues a sequential stream:
// one that has read a chunk's worth, as readAhead requires. c.mu is held.
func (c *Cache) inStream(lba uint64) bool {
	s := c.stream(lba)
	return s != nil && s.bytes >= int64(c.cs)
}

// chunkRange returns the byte range of chunk idx on the disk.
func (c *Cache) chunkRange(idx uint64) (lo, hi uint64) {
	lo = idx * uint64(c.cs)
	hi = min(lo+uint64(c.cs), c.nblocks*uint64(c.bs))
	return lo, hi
}

// copyOut copies the part of ch that overlaps the read at byte offset
// start into buf.
func (c *Cache) copyOut(buf []byte, start uint64, ch *chunk) {
	lo, hi := c.chunkRange(ch.idx)
	a, b := max(lo, start), min(hi, start+uint64(len(buf)))
	copy(buf[a-start:b-start], ch.data[a-lo:b-lo])
}

// addPiece adds the part of chunk idx that overlaps the read to the
// pieces to read uncached, merging it with the previous piece when they
// touch.
func (c *Cache) addPiece(ps []piece, buf []byte, start uint64, idx uint64) []piece {
	lo, hi := c.chunkRange(idx)
	a, b := max(lo, start), min(hi, start+uint64(len(buf)))
	p := piece{lba: a / uint64(c.bs), off: int(a - start), end: int(b - start)}
	if n := len(ps); n > 0 && ps[n-1].end == p.off {
		ps[n-1].end = p.end
		return ps
	}
	return append(ps, p)
}

// readAhead follows the stream that a read of n blocks at lba belongs to
// and, when it is sequential, allocates the chunks after chunk last that
// are not cached and returns them, marked loading, for the caller to
// fetch. c.mu is held.
func (c *Cache) readAhead(lba, n, last uint64) []*chunk {
	c.clock++
	s := c.stream(lba)
	reqChunks := int((n*uint64(c.bs) + uint64(c.cs) - 1) / uint64(c.cs))
	if s == nil {
		s = &c.streams[0]
		for i := range c.streams {
			if c.streams[i].used < s.used {
				s = &c.streams[i]
			}
		}
		*s = stream{}
	}
	s.end = lba + n
	s.bytes += int64(n) * int64(c.bs)
	s.used = c.clock
	if c.maxRA == 0 || c.closed || s.bytes <= int64(n)*int64(c.bs) || s.bytes < int64(c.cs) {
		// Not (yet) a sequential stream: a first read, or less than a
		// chunk so far (U-Boot reading the GPT header then its entries).
		return nil
	}
	s.window = min(max(2*s.window, 2, 2*reqChunks), c.maxRA)
	lastChunk := (c.nblocks*uint64(c.bs) - 1) / uint64(c.cs)
	var out []*chunk
	for idx := last + 1; idx <= last+uint64(s.window) && idx <= lastChunk; idx++ {
		if c.prefetching >= c.maxRA {
			break
		}
		if c.chunks[idx] != nil {
			continue
		}
		ch := c.alloc(idx, true)
		if ch == nil {
			break
		}
		ch.prefetch, ch.unused = true, true
		c.prefetching++
		c.stats.Prefetched++
		out = append(out, ch)
	}
	return out
}

// alloc returns a new loading chunk for idx, in c.chunks, or nil when the
// budget is used up by chunks that cannot be evicted (or, for read-ahead,
// when it would evict read-ahead nobody has used yet). c.mu is held.
func (c *Cache) alloc(idx uint64, prefetch bool) *chunk {
	var ch *chunk
	switch {
	case len(c.free) > 0:
		ch = c.free[len(c.free)-1]
		c.free = c.free[:len(c.free)-1]
	case c.nbufs < c.maxBufs && !c.lru.prev.streamed: // the sentinel is never streamed
		c.nbufs++
		ch = &chunk{buf: make([]byte, c.cs)}
	default:
		// Evict the least recently used chunk; one a stream has read past
		// is reused before a new buffer is allocated (lruPush files those
		// last).
		v := c.lru.prev
		if v == &c.lru || (prefetch && v.unused) {
			return nil
		}
		c.lruRemove(v)
		delete(c.chunks, v.idx)
		if v.streamed {
			c.stats.Recycled++
		} else {
			c.stats.Evictions++
		}
		ch = v
	}
	lo, hi := c.chunkRange(idx)
	*ch = chunk{idx: idx, buf: ch.buf, data: ch.buf[:hi-lo], loading: true, pinned: idx < c.pinChunks}
	c.chunks[idx] = ch
	return ch
}

// release drops a reference taken by a reader. c.mu is held.
func (c *Cache) release(ch *chunk) {
	ch.refs--
	c.settle(ch)
}

// settle files a chunk that nobody waits for and that is not loading: a
// gone chunk's buffer is freed, a cached one joins the LRU list.
func (c *Cache) settle(ch *chunk) {
	if ch.refs > 0 || ch.loading {
		return
	}
	if ch.gone {
		*ch = chunk{buf: ch.buf}
		c.free = append(c.free, ch)
		return
	}
	if !ch.pinned {
		c.lruPush(ch)
	}
}

// detach removes ch from the cache because its data may be stale. c.mu is
// held.
func (c *Cache) detach(ch *chunk) {
	delete(c.chunks, ch.idx)
	ch.gone = true
	if ch.loading || ch.refs > 0 {
		ch.superseded = true
		return
	}
	if !ch.pinned {
		c.lruRemove(ch)
	}
	c.settle(ch)
}

// fill fetches ch from the disk.
func (c *Cache) fill(ch *chunk) {
	err := c.read(ch.idx*c.cpb, ch.data)
	c.mu.Lock()
	ch.loading = false
	if ch.prefetch {
		c.prefetching--
	}
	if err != nil {
		ch.err = fmt.Errorf("cache: reading blocks %d-%d: %w", ch.idx*c.cpb, ch.idx*c.cpb+uint64(len(ch.data)/c.bs)-1, err)
		if ch.prefetch {
			c.stats.Dropped++
		}
		if !ch.gone {
			delete(c.chunks, ch.idx)
			ch.gone = true
		}
	}
	c.settle(ch)
	c.cond.Broadcast()
	c.mu.Unlock()
}

// read reads from the disk underneath, keeping count.
func (c *Cache) read(lba uint64, buf []byte) error {
	n := c.inflight.Add(1)
	for {
		m := c.maxIn.Load()
		if n <= m || c.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	err := c.disk.ReadBlocks(lba, buf)
	c.inflight.Add(-1)
	c.mu.Lock()
	c.stats.Fetches++
	if err != nil {
		c.stats.FetchErrors++
	} else {
		c.stats.BytesFetched += uint64(len(buf))
	}
	c.mu.Unlock()
	return err
}

// WriteBlocks writes buf at lba on the disk, then brings the cache up to
// date: cached chunks get the new data, fetches in flight are discarded.
// If the write fails, the chunks it touches are dropped, since the disk
// may hold part of it.
func (c *Cache) WriteBlocks(lba uint64, buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	if err := c.checkRange("write", lba, len(buf)); err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	err := c.disk.WriteBlocks(lba, buf)
	start := lba * uint64(c.bs)
	end := start + uint64(len(buf))
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Writes++
	if err == nil {
		c.stats.BytesWritten += uint64(len(buf))
	}
	for idx := start / uint64(c.cs); idx <= (end-1)/uint64(c.cs); idx++ {
		ch := c.chunks[idx]
		switch {
		case ch == nil:
		case ch.loading || err != nil:
			c.detach(ch)
		default:
			lo, hi := c.chunkRange(idx)
			a, b := max(lo, start), min(hi, end)
			copy(ch.data[a-lo:b-lo], buf[a-start:b-start])
		}
	}
	if err != nil {
		return fmt.Errorf("cache: write of %d blocks at LBA %d: %w", len(buf)/c.bs, lba, err)
	}
	return nil
}

// LRU list helpers; c.mu is held.

// lruPush files ch in the LRU list: most recently used first, or last
// (next to be reused) if a stream has read past it.
func (c *Cache) lruPush(ch *chunk) {
	if ch.streamed {
		ch.prev, ch.next = c.lru.prev, &c.lru
		c.lru.prev.next = ch
		c.lru.prev = ch
		return
	}
	c.lruPushFront(ch)
}

func (c *Cache) lruPushFront(ch *chunk) {
	ch.prev, ch.next = &c.lru, c.lru.next
	c.lru.next.prev = ch
	c.lru.next = ch
}

func (c *Cache) lruRemove(ch *chunk) {
	if ch.prev == nil {
		return
	}
	ch.prev.next, ch.next.prev = ch.next, ch.prev
	ch.prev, ch.next = nil, nil
}
