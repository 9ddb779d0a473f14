package iscsi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/snp-go/snp-go/chap"
	"github.com/snp-go/snp-go/iscsi/scsi"
)

// ErrClosed is returned by operations on a closed Disk.
var ErrClosed = errors.New("iscsi: disk is closed")

// Disk is one iSCSI LUN opened for block I/O. It is safe for concurrent use
// by several goroutines: their commands share one session and are
// pipelined under the target's CmdSN window.
//
// When the connection drops, a command times out or the target misbehaves,
// Disk logs in again (a new session) and retries the unfinished commands,
// with at most Config.MaxReconnects consecutive attempts. Data handed back
// is always exactly what the target returned for a command that completed
// with GOOD status, or an error.
type Disk struct {
	s *settings

	dialMu sync.Mutex // one login at a time
	mu     sync.Mutex // protects the fields below
	cur    *conn
	portal string
	closed bool
	stats  Stats

	fellBack bool // CHAP algorithm fallback done (under dialMu)

	blockSize uint32
	blocks    uint64
	inquiry   scsi.InquiryData
	readOnly  bool
}

// Stats counts recovery events since Open.
type Stats struct {
	Logins   int // successful logins (1 after Open without trouble)
	Retries  int // commands retried after UNIT ATTENTION, BUSY and the like
	Failures int // connection failures (drops, timeouts, protocol errors)
}

// Open logs in to the target described by cfg and reads the LUN's
// geometry (TEST UNIT READY, INQUIRY, READ CAPACITY(10) then (16) when the
// LUN has 2^32 blocks or more, MODE SENSE for write protection).
func Open(ctx context.Context, cfg Config) (*Disk, error) {
	s, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	d := &Disk{s: s, portal: s.portal}
	if err := d.probe(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Disk) probe(ctx context.Context) error {
	// Log in first (with the usual retries) so that login errors are
	// reported as such.
	if err := d.run(ctx, func(*conn) (bool, error) { return false, nil }); err != nil {
		return err
	}
	var cdb scsi.CDB
	scsi.TestUnitReady(&cdb)
	if _, err := d.command(ctx, &command{cdb: cdb}); err != nil {
		return fmt.Errorf("iscsi: LUN %v of %s is not ready: %w", d.s.LUN, d.s.Target, err)
	}
	buf := make([]byte, 255)
	scsi.Inquiry(&cdb, false, 0, uint16(len(buf)))
	n, err := d.command(ctx, &command{cdb: cdb, read: true, buf: buf})
	if err != nil {
		return fmt.Errorf("iscsi: INQUIRY of LUN %v: %w", d.s.LUN, err)
	}
	if d.inquiry, err = scsi.ParseInquiry(buf[:n]); err != nil {
		return err
	}
	if d.inquiry.PeripheralQualifier != 0 {
		return fmt.Errorf("iscsi: target %s has no LUN %v (peripheral qualifier %d)", d.s.Target, d.s.LUN, d.inquiry.PeripheralQualifier)
	}
	if d.inquiry.PeripheralType != 0 {
		return fmt.Errorf("iscsi: LUN %v of %s is not a disk (SCSI peripheral type 0x%02x)", d.s.LUN, d.s.Target, d.inquiry.PeripheralType)
	}
	scsi.Inquiry(&cdb, true, scsi.VPDUnitSerial, uint16(len(buf)))
	if n, err := d.command(ctx, &command{cdb: cdb, read: true, buf: buf}); err == nil {
		d.inquiry.Serial, _ = scsi.ParseUnitSerial(buf[:n])
	} else if !isSCSIError(err) {
		return err
	}

	scsi.ReadCapacity10(&cdb)
	n, err = d.command(ctx, &command{cdb: cdb, read: true, buf: buf[:8]})
	if err != nil {
		return fmt.Errorf("iscsi: READ CAPACITY(10) of LUN %v: %w", d.s.LUN, err)
	}
	c, err := scsi.ParseCapacity10(buf[:n])
	if err != nil {
		return err
	}
	if c.LastLBA == 0xffffffff { // SBC-3 §5.15.2: use READ CAPACITY(16)
		scsi.ReadCapacity16(&cdb, 32)
		n, err = d.command(ctx, &command{cdb: cdb, read: true, buf: buf[:32]})
		if err != nil {
			return fmt.Errorf("iscsi: READ CAPACITY(16) of LUN %v: %w", d.s.LUN, err)
		}
		if c, err = scsi.ParseCapacity16(buf[:n]); err != nil {
			return err
		}
	}
	if c.BlockSize == 0 || c.BlockSize%512 != 0 || c.BlockSize > 1<<20 {
		return fmt.Errorf("iscsi: LUN %v reports an unusable block size of %d bytes", d.s.LUN, c.BlockSize)
	}
	d.blockSize, d.blocks = c.BlockSize, c.Blocks()

	scsi.ModeSense6(&cdb, 0x3f, 192)
	if n, err := d.command(ctx, &command{cdb: cdb, read: true, buf: buf[:192]}); err == nil {
		d.readOnly, _ = scsi.ModeSenseWriteProtected(buf[:n])
	} else if !isSCSIError(err) {
		return err
	}
	return nil
}

func isSCSIError(err error) bool {
	var se *scsi.StatusError
	return errors.As(err, &se)
}

// BlockSize is the logical block size in bytes (512 or 4096, typically).
func (d *Disk) BlockSize() uint32 { return d.blockSize }

// Blocks is the number of logical blocks.
func (d *Disk) Blocks() uint64 { return d.blocks }

// Size is the LUN's size in bytes.
func (d *Disk) Size() uint64 { return d.blocks * uint64(d.blockSize) }

// Inquiry is the LUN's INQUIRY data (vendor, product, revision, serial).
func (d *Disk) Inquiry() scsi.InquiryData { return d.inquiry }

// ReadOnly reports whether the LUN is write-protected (MODE SENSE WP bit).
func (d *Disk) ReadOnly() bool { return d.readOnly }

// Target is the target IQN, Portal the address last logged in to, and LUN
// the logical unit.
func (d *Disk) Target() string { return d.s.Target }
func (d *Disk) LUN() LUN       { return d.s.LUN }
func (d *Disk) Portal() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur != nil {
		return d.cur.portal
	}
	return d.portal
}

// Stats returns the recovery counters.
func (d *Disk) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Negotiated reports the session's negotiated parameters, for diagnostics.
func (d *Disk) Negotiated() string {
	d.mu.Lock()
	c := d.cur
	d.mu.Unlock()
	if c == nil {
		return "not connected"
	}
	p := c.p
	return fmt.Sprintf("HeaderDigest=%s DataDigest=%s MaxRecvDataSegmentLength=%d (target %d) MaxBurstLength=%d FirstBurstLength=%d ImmediateData=%t InitialR2T=%t TSIH=%d",
		onOff(p.headerDigest), onOff(p.dataDigest), p.maxRecvDSL, p.maxXmitDSL, p.maxBurst, p.firstBurst, p.immediateData, p.initialR2T, p.tsih)
}

func onOff(b bool) string {
	if b {
		return "CRC32C"
	}
	return "None"
}

// ReadBlocks reads len(buf)/BlockSize blocks starting at lba into buf,
// whose length must be a multiple of the block size. Large reads are split
// into several commands kept in flight together.
func (d *Disk) ReadBlocks(ctx context.Context, lba uint64, buf []byte) error {
	if err := d.checkRange(lba, len(buf)); err != nil {
		return err
	}
	return d.transfer(ctx, false, lba, buf)
}

// WriteBlocks writes buf (a multiple of the block size) starting at lba.
func (d *Disk) WriteBlocks(ctx context.Context, lba uint64, buf []byte) error {
	if d.readOnly {
		return fmt.Errorf("iscsi: LUN %v of %s is write-protected", d.s.LUN, d.s.Target)
	}
	if err := d.checkRange(lba, len(buf)); err != nil {
		return err
	}
	return d.transfer(ctx, true, lba, buf)
}

// Sync asks the target to write its cache to stable storage
// (SYNCHRONIZE CACHE).
func (d *Disk) Sync(ctx context.Context) error {
	var cdb scsi.CDB
	scsi.SynchronizeCache(&cdb, 0, 0)
	_, err := d.command(ctx, &command{cdb: cdb})
	return err
}

// ReportLUNs lists the target's logical units (REPORT LUNS).
func (d *Disk) ReportLUNs(ctx context.Context) ([]LUN, error) {
	buf := make([]byte, 8+8*256)
	var cdb scsi.CDB
	scsi.ReportLUNs(&cdb, uint32(len(buf)))
	n, err := d.command(ctx, &command{cdb: cdb, read: true, buf: buf})
	if err != nil {
		return nil, err
	}
	raw, err := scsi.ParseReportLUNs(buf[:n])
	if err != nil {
		return nil, err
	}
	luns := make([]LUN, len(raw))
	for i, l := range raw {
		luns[i] = LUN(l)
	}
	return luns, nil
}

func (d *Disk) checkRange(lba uint64, n int) error {
	bs := int(d.blockSize)
	if n%bs != 0 {
		return fmt.Errorf("iscsi: buffer of %d bytes is not a multiple of the %d-byte block size", n, bs)
	}
	if lba > d.blocks || uint64(n/bs) > d.blocks-lba {
		return fmt.Errorf("iscsi: blocks %d..%d are beyond the end of the LUN (%d blocks)", lba, lba+uint64(n/bs), d.blocks)
	}
	return nil
}

// Close logs out and closes the connection. Later operations fail with
// ErrClosed.
func (d *Disk) Close() error {
	d.dialMu.Lock()
	defer d.dialMu.Unlock()
	d.mu.Lock()
	c := d.cur
	d.cur, d.closed = nil, true
	d.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.logout(2 * time.Second)
}

// conn returns a live connection, logging in again if needed.
func (d *Disk) conn(ctx context.Context) (*conn, error) {
	d.mu.Lock()
	c, closed := d.cur, d.closed
	d.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if c != nil && !c.isDead() {
		return c, nil
	}
	d.dialMu.Lock()
	defer d.dialMu.Unlock()
	d.mu.Lock()
	c, closed = d.cur, d.closed
	portal := d.portal
	d.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if c != nil && !c.isDead() {
		return c, nil
	}
	if c != nil {
		c.quiesce()
	}
	for redirects := 0; ; redirects++ {
		nc, err := dialAndLogin(ctx, d.s, portal)
		var af *algFallback
		if errors.As(err, &af) && !d.fellBack {
			d.fellBack = true
			algs := d.s.CHAPAlgorithms
			if len(algs) == 0 {
				algs = chap.DefaultAlgorithms
			}
			var rest []chap.Algorithm
			for _, a := range algs {
				if a != af.alg {
					rest = append(rest, a)
				}
			}
			if len(rest) == 0 {
				return nil, permanent(af.err)
			}
			d.s.logf("iscsi: %s chose CHAP %v but refused our response (%v); retrying without %v (tgt misnumbers CHAP_A=7 as SHA-1)",
				d.s.Target, af.alg, af.err, af.alg)
			d.s.CHAPAlgorithms = rest
			redirects--
			continue
		}
		var rd *redirect
		if errors.As(err, &rd) {
			if redirects == maxRedirects {
				return nil, permanent(fmt.Errorf("iscsi: more than %d login redirects (last to %s)", maxRedirects, rd.addr))
			}
			addr, perr := parseTargetAddress(rd.addr)
			if perr != nil {
				return nil, permanent(perr)
			}
			d.s.logf("iscsi: %s redirects login to %s", portal, addr)
			if rd.permanent {
				d.mu.Lock()
				d.portal = addr
				d.mu.Unlock()
			}
			portal = addr
			continue
		}
		if err != nil {
			return nil, err
		}
		d.mu.Lock()
		d.cur = nc
		d.stats.Logins++
		d.mu.Unlock()
		d.s.logf("iscsi: logged in to %s at %s (TSIH %d)", d.s.Target, portal, nc.p.tsih)
		return nc, nil
	}
}

// maxStatusRetries bounds retries of UNIT ATTENTION, BUSY and similar.
const maxStatusRetries = 16

// run runs op on a live connection until it succeeds, reconnecting after
// connection failures and retrying transient SCSI conditions. op reports
// whether it made progress, which resets the reconnect budget.
func (d *Disk) run(ctx context.Context, op func(c *conn) (progress bool, err error)) error {
	failures, statusRetries := 0, 0
	delay := d.s.ReconnectDelay
	for {
		c, err := d.conn(ctx)
		if err == nil {
			var progress bool
			progress, err = op(c)
			if err == nil {
				return nil
			}
			if progress {
				failures, delay = 0, d.s.ReconnectDelay
			}
		}
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("iscsi: %w (last error: %v)", cerr, err)
		}
		var se *scsi.StatusError
		var le *LoginError
		var short *shortError
		switch {
		case errors.Is(err, ErrClosed):
			return err
		case errors.As(err, &se) && se.Transient():
			statusRetries++
			if statusRetries > maxStatusRetries {
				return err
			}
			d.mu.Lock()
			d.stats.Retries++
			d.mu.Unlock()
			if !se.UnitAttention() {
				d.s.logf("%v; retrying", err)
				if err := sleep(ctx, 100*time.Millisecond); err != nil {
					return err
				}
			}
		case errors.Is(err, errConnLost) || errors.As(err, &short) || (errors.As(err, &le) && le.Temporary()):
			if c != nil {
				c.fail(&connError{err})
			}
			d.mu.Lock()
			d.stats.Failures++
			d.mu.Unlock()
			failures++
			if d.s.MaxReconnects < 0 || failures > d.s.MaxReconnects {
				return fmt.Errorf("iscsi: giving up after %d reconnect attempts: %w", failures-1, err)
			}
			d.s.logf("%v; reconnecting in %v (attempt %d of %d)", err, delay, failures, d.s.MaxReconnects)
			if err := sleep(ctx, delay); err != nil {
				return err
			}
			delay = min(2*delay, maxDelay)
		default:
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// command runs one small command with retries and returns the bytes received.
func (d *Disk) command(ctx context.Context, cmd *command) (int, error) {
	var n int
	err := d.run(ctx, func(c *conn) (bool, error) {
		t, err := c.submit(ctx, cmd)
		if err != nil {
			return false, err
		}
		n, err = c.wait(ctx, t)
		return false, err
	})
	return n, err
}

// transfer reads or writes buf at lba, pipelined, with retries. Only the
// part not yet completed is retried after a failure.
func (d *Disk) transfer(ctx context.Context, write bool, lba uint64, buf []byte) error {
	bs := int(d.blockSize)
	done := 0
	return d.run(ctx, func(c *conn) (bool, error) {
		chunk := min(d.s.MaxTransferLength, c.p.maxBurst) / bs * bs
		chunk = max(chunk, bs)
		n, err := c.pipeline(ctx, write, lba+uint64(done/bs), buf[done:], chunk, bs)
		done += n
		return n > 0, err
	})
}

// pipeline issues READ or WRITE commands of chunk bytes for buf, keeping up
// to QueueDepth in flight, and returns how many bytes from the start of
// buf completed (a prefix: later chunks that completed after an earlier one
// failed are redone on retry).
func (c *conn) pipeline(ctx context.Context, write bool, lba uint64, buf []byte, chunk, bs int) (int, error) {
	var ring [maxQueueDepth]*task
	var lens [maxQueueDepth]int
	depth := len(c.slots)
	head, count := 0, 0
	next, completed := 0, 0
	var firstErr error
	var cmd command
	for completed < len(buf) {
		for firstErr == nil && next < len(buf) && count < depth {
			n := min(chunk, len(buf)-next)
			cmd = command{read: !write, write: write, exact: true, buf: buf[next : next+n]}
			if write {
				scsi.Write(&cmd.cdb, lba+uint64(next/bs), uint32(n/bs))
			} else {
				scsi.Read(&cmd.cdb, lba+uint64(next/bs), uint32(n/bs))
			}
			t, err := c.submit(ctx, &cmd)
			if err != nil {
				firstErr = err
				break
			}
			i := (head + count) % depth
			ring[i], lens[i] = t, n
			count++
			next += n
		}
		if count == 0 {
			break
		}
		t, n := ring[head], lens[head]
		head = (head + 1) % depth
		count--
		if _, err := c.wait(ctx, t); err != nil {
			if firstErr == nil {
				firstErr = err
			}
		} else if firstErr == nil {
			completed += n
		}
	}
	return completed, firstErr
}
