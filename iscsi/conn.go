package iscsi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/snp-go/snp-go/iscsi/pdu"
	"github.com/snp-go/snp-go/iscsi/scsi"
)

// Reserved task tags. Command tags are slot | generation<<16 with slot <
// maxQueueDepth, so these never collide with them.
const (
	pingITT   = 0x0000fffe
	logoutITT = 0x0000fffd
)

// errConnLost is wrapped by errors meaning "this connection is gone; the
// command may be retried on a new one".
var errConnLost = errors.New("iSCSI connection lost")

// connError is a failure of the connection (I/O, protocol, timeout): the
// command did not complete and may be retried on a new session.
type connError struct{ err error }

func (e *connError) Error() string   { return e.err.Error() }
func (e *connError) Unwrap() error   { return e.err }
func (e *connError) Is(t error) bool { return t == errConnLost }

// task is one SCSI command in flight. Slots are preallocated per
// connection so that the data path allocates nothing per command.
type task struct {
	slot int
	itt  uint32
	gen  uint32
	lun  LUN

	bhs   pdu.BHS // the command PDU (built by the submitter)
	read  bool
	write bool
	exact bool   // a read must return len(buf) bytes
	buf   []byte // Data-In destination or Data-Out source
	timer *time.Timer

	// Written by the reader goroutine until done is signalled.
	received   int
	nextDataSN uint32
	status     byte
	response   byte
	senseLen   int
	sense      [252]byte
	err        error

	done chan struct{} // capacity 1
}

// txItem is work for the sender goroutine.
type txItem struct {
	kind   byte // 'r': R2T Data-Out, 'n': NOP-Out reply
	t      *task
	ttt    uint32
	offset uint32
	length uint32
	lun    [8]byte
	data   []byte
}

// conn is one logged-in iSCSI connection (a single-connection session).
type conn struct {
	s      *settings
	portal string
	nc     net.Conn
	r      *pdu.Reader
	bw     *bufio.Writer
	w      *pdu.Writer
	p      params

	loginITT uint32
	txtBuf   []byte

	cmdMu   sync.Mutex // serializes command submission (CmdSN order)
	writeMu sync.Mutex // serializes PDUs on the wire
	// submitters counts goroutines inside submit. The last one out flushes,
	// so commands issued together leave in one write.
	submitters atomic.Int32

	mu       sync.Mutex // protects the fields below
	cmdSN    uint32     // next CmdSN
	expCmdSN uint32
	maxCmdSN uint32
	statSN   uint32 // last StatSN seen
	err      error
	active   int // commands in flight

	dead       chan struct{} // closed by fail
	readerDone chan struct{}
	txDone     chan struct{}
	winCh      chan struct{} // capacity 1: the CmdSN window may have opened
	logoutCh   chan struct{} // capacity 1
	txq        chan txItem

	slots    []task
	free     chan int
	lastRecv atomic.Int64 // unix nanoseconds
	pingSent atomic.Int64 // unix nanoseconds of an unanswered ping, or 0
	failOnce sync.Once
}

// dialAndLogin opens a connection to portal and logs in.
func dialAndLogin(ctx context.Context, s *settings, portal string) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.CommandTimeout)
	defer cancel()
	nc, err := s.Dial(ctx, "tcp", portal)
	if err != nil {
		return nil, &connError{fmt.Errorf("iscsi: connecting to %s: %w", portal, err)}
	}
	c := &conn{
		s: s, portal: portal, nc: nc,
		bw:       bufio.NewWriterSize(nc, 64<<10),
		cmdSN:    1,
		loginITT: 0x0000fffc,
	}
	// A small read buffer: headers and small PDUs are batched, while large
	// data segments bypass it and land straight in the caller's buffer.
	c.r = pdu.NewReader(bufio.NewReaderSize(nc, 8<<10))
	c.r.MaxDataLen = s.MaxRecvDataSegmentLength
	c.w = pdu.NewWriter(c.bw)
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	err = c.login()
	stop()
	if err != nil {
		nc.Close()
		var rd *redirect
		var pe permanentError
		var le *LoginError
		var af *algFallback
		if errors.As(err, &rd) || errors.As(err, &pe) || errors.As(err, &le) || errors.As(err, &af) {
			return nil, err
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (login timed out after %v)", err, s.CommandTimeout)
		}
		return nil, &connError{err}
	}
	nc.SetDeadline(time.Time{})
	c.start()
	return c, nil
}

// start enters the full feature phase: digests on, goroutines running.
func (c *conn) start() {
	c.r.HeaderDigest, c.r.DataDigest = c.p.headerDigest, c.p.dataDigest
	c.w.HeaderDigest, c.w.DataDigest = c.p.headerDigest, c.p.dataDigest
	c.r.MaxDataLen = c.p.maxRecvDSL
	depth := c.s.QueueDepth
	c.slots = make([]task, depth)
	c.free = make(chan int, depth)
	for i := range c.slots {
		c.slots[i].slot = i
		c.slots[i].done = make(chan struct{}, 1)
		c.slots[i].timer = time.NewTimer(time.Hour)
		c.slots[i].timer.Stop()
		c.free <- i
	}
	c.dead = make(chan struct{})
	c.readerDone = make(chan struct{})
	c.txDone = make(chan struct{})
	c.winCh = make(chan struct{}, 1)
	c.logoutCh = make(chan struct{}, 1)
	c.txq = make(chan txItem, depth*max(1, c.p.maxOutstandingR2T)+8)
	c.lastRecv.Store(time.Now().UnixNano())
	go c.readLoop()
	go c.sendLoop()
}

// fail kills the connection once: records err, wakes every waiter and
// closes the socket so the goroutines stop.
func (c *conn) fail(err error) {
	c.failOnce.Do(func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.dead)
		c.nc.Close()
	})
}

// failure returns the error the connection died with.
func (c *conn) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		return &connError{errors.New("iscsi: connection closed")}
	}
	return c.err
}

// isDead reports whether fail was called.
func (c *conn) isDead() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

// quiesce waits until neither goroutine can touch a caller's buffer again.
func (c *conn) quiesce() {
	<-c.readerDone
	<-c.txDone
}

// serial arithmetic on 32-bit sequence numbers (RFC 1982, RFC 7143 §4.2.2.1).
func snLT(a, b uint32) bool { return int32(a-b) < 0 }
func snLE(a, b uint32) bool { return int32(a-b) <= 0 }

// updateWindow applies ExpCmdSN/MaxCmdSN from a target PDU (RFC 7143
// §4.2.2.1); c.mu must be held.
func (c *conn) updateWindow(exp, maxSN uint32) {
	if snLT(maxSN, exp-1) {
		return // invalid pair: ignore both
	}
	changed := false
	if snLT(c.expCmdSN, exp) {
		c.expCmdSN = exp
	}
	if snLT(c.maxCmdSN, maxSN) {
		c.maxCmdSN = maxSN
		changed = true
	}
	if changed {
		select {
		case c.winCh <- struct{}{}:
		default:
		}
	}
}

func (c *conn) noteStatSN(sn uint32) {
	if snLT(c.statSN, sn) {
		c.statSN = sn
	}
}

// command describes one SCSI command to submit.
type command struct {
	cdb   scsi.CDB
	read  bool
	write bool
	exact bool // READ: short data is an error (not for INQUIRY & co.)
	buf   []byte
}

// submit sends a SCSI command and returns its task; the caller must call
// wait. It blocks for a free slot and for the CmdSN window.
func (c *conn) submit(ctx context.Context, cmd *command) (*task, error) {
	var slot int
	select {
	case slot = <-c.free:
	case <-c.dead:
		return nil, c.failure()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	t := &c.slots[slot]
	t.gen++
	t.itt = uint32(slot) | (t.gen&0x7fff)<<16
	t.read, t.write, t.exact, t.buf = cmd.read, cmd.write, cmd.exact, cmd.buf
	t.received, t.nextDataSN, t.status, t.response, t.senseLen, t.err = 0, 0, 0, 0, 0, nil
	select {
	case <-t.done: // stale signal from a task abandoned on a dead conn
	default:
	}

	h := &t.bhs
	h.Reset()
	h.SetOpcode(pdu.OpSCSICmd, false)
	flags := byte(pdu.FlagFinal | pdu.AttrSimple)
	if cmd.read {
		flags |= pdu.FlagRead
	}
	if cmd.write {
		flags |= pdu.FlagWrite
	}
	h.SetLUN(c.s.LUN)
	h.SetITT(t.itt)
	h.SetExpectedDataLen(uint32(len(cmd.buf)))
	copy(h.CDB(), cmd.cdb[:])

	// Unsolicited data (RFC 7143 §4.2.5.2): immediate data in the command
	// PDU, then unsolicited Data-Out, up to FirstBurstLength.
	var immediate []byte
	unsolicited := 0
	if cmd.write {
		if c.p.immediateData {
			immediate = cmd.buf[:min(len(cmd.buf), c.p.firstBurst, c.p.maxXmitDSL)]
		}
		unsolicited = len(immediate)
		if !c.p.initialR2T {
			unsolicited = min(len(cmd.buf), c.p.firstBurst)
		}
		if unsolicited > len(immediate) {
			flags &^= pdu.FlagFinal // unsolicited Data-Out follow (§11.3.1)
		}
	}
	h.SetFlags(flags)

	c.submitters.Add(1)
	c.cmdMu.Lock()
	sent := false
	defer func() {
		if !sent && c.submitters.Add(-1) == 0 {
			c.flushPending()
		}
		c.cmdMu.Unlock()
	}()
	for {
		c.mu.Lock()
		if c.err != nil {
			c.mu.Unlock()
			c.free <- slot
			return nil, c.err
		}
		if snLE(c.cmdSN, c.maxCmdSN) {
			h.SetCmdSN(c.cmdSN)
			c.cmdSN++
			h.SetExpStatSN(c.statSN + 1)
			c.active++
			c.mu.Unlock()
			break
		}
		c.mu.Unlock()
		c.flushPending() // commands buffered by others must leave before we wait
		select {
		case <-c.winCh:
		case <-c.dead:
		case <-ctx.Done():
			c.free <- slot
			return nil, ctx.Err()
		}
	}
	c.writeMu.Lock()
	err := c.w.Write(h, immediate)
	if err == nil && unsolicited > len(immediate) {
		err = c.writeDataOut(t, pdu.TagNone, uint32(len(immediate)), uint32(unsolicited-len(immediate)))
	}
	sent = true
	if c.submitters.Add(-1) == 0 && err == nil {
		err = c.w.Flush()
	}
	c.writeMu.Unlock()
	if err != nil {
		c.fail(&connError{fmt.Errorf("iscsi: sending command: %w", err)})
		// The task stays registered; wait reports the failure.
	}
	return t, nil
}

// flushPending sends buffered PDUs, if any.
func (c *conn) flushPending() {
	c.writeMu.Lock()
	var err error
	if c.bw.Buffered() > 0 {
		err = c.w.Flush()
	}
	c.writeMu.Unlock()
	if err != nil {
		c.fail(&connError{fmt.Errorf("iscsi: sending to %s: %w", c.portal, err)})
	}
}

// writeDataOut writes one Data-Out sequence for t: length bytes from
// offset, in PDUs of at most the target's MaxRecvDataSegmentLength
// (RFC 7143 §11.7). c.writeMu must be held.
func (c *conn) writeDataOut(t *task, ttt, offset, length uint32) error {
	var h pdu.BHS
	var dataSN uint32
	for length > 0 {
		n := min(length, uint32(c.p.maxXmitDSL))
		h.Reset()
		h.SetOpcode(pdu.OpDataOut, false)
		if n == length {
			h.SetFlags(pdu.FlagFinal)
		}
		h.SetLUN(c.s.LUN)
		h.SetITT(t.itt)
		h.SetTTT(ttt)
		c.mu.Lock()
		h.SetExpStatSN(c.statSN + 1)
		c.mu.Unlock()
		h.SetDataSN(dataSN)
		h.SetBufferOffset(offset)
		if err := c.w.Write(&h, t.buf[offset:offset+n]); err != nil {
			return err
		}
		dataSN++
		offset += n
		length -= n
	}
	return nil
}

// wait waits for t to complete, releases its slot and returns the number
// of bytes received. On timeout or cancellation the connection is dropped
// (ERL 0 has no finer recovery) and wait returns only once no goroutine
// can touch t.buf any more.
func (c *conn) wait(ctx context.Context, t *task) (int, error) {
	t.timer.Reset(c.s.CommandTimeout)
	defer t.timer.Stop()
	select {
	case <-t.done:
		n, err := t.received, t.result()
		c.free <- t.slot
		return n, err
	case <-c.dead:
	case <-t.timer.C:
		c.fail(&connError{fmt.Errorf("iscsi: command 0x%02x timed out after %v", t.bhs.CDB()[0], c.s.CommandTimeout)})
	case <-ctx.Done():
		c.fail(&connError{fmt.Errorf("iscsi: command abandoned: %w", ctx.Err())})
		c.quiesce()
		return 0, ctx.Err()
	}
	c.quiesce()
	// The reader may have completed the task just before dying.
	select {
	case <-t.done:
		return t.received, t.result()
	default:
	}
	return 0, c.failure()
}

// result turns a completed task into an error (nil: success).
func (t *task) result() error {
	if t.err != nil {
		return t.err
	}
	if t.response != 0 {
		return &connError{fmt.Errorf("iscsi: target failed command 0x%02x (iSCSI response 0x%02x)", t.bhs.CDB()[0], t.response)}
	}
	if t.status != scsi.StatusGood {
		e := &scsi.StatusError{Op: t.bhs.CDB()[0], Status: t.status}
		if t.senseLen > 0 {
			if s, err := scsi.ParseSense(t.sense[:t.senseLen]); err == nil {
				e.Sense = &s
			}
		}
		return e
	}
	if t.read && t.exact && t.received != len(t.buf) {
		return &shortError{op: t.bhs.CDB()[0], got: t.received, want: len(t.buf)}
	}
	return nil
}

// shortError is a read that completed with less data than asked for.
type shortError struct {
	op        byte
	got, want int
}

func (e *shortError) Error() string {
	return fmt.Sprintf("iscsi: command 0x%02x returned %d of %d bytes", e.op, e.got, e.want)
}

// complete finishes t (reader goroutine).
func (c *conn) complete(t *task) {
	c.mu.Lock()
	c.active--
	t.itt ^= 0x80000000 // no longer matches incoming PDUs
	c.mu.Unlock()
	t.done <- struct{}{}
}

// lookup finds the task for itt; c.mu must be held.
func (c *conn) lookup(itt uint32) *task {
	slot := int(itt & 0xffff)
	if slot >= len(c.slots) || c.slots[slot].itt != itt || itt&0x80000000 != 0 {
		return nil
	}
	return &c.slots[slot]
}

func (c *conn) protocolError(format string, args ...any) error {
	return &connError{fmt.Errorf("iscsi: protocol error from %s: "+format, append([]any{c.portal}, args...)...)}
}

// readLoop receives PDUs in the full feature phase.
func (c *conn) readLoop() {
	defer close(c.readerDone)
	for {
		err := c.readOne()
		if err != nil {
			if _, ok := err.(*connError); !ok {
				if errors.Is(err, io.EOF) {
					err = fmt.Errorf("iscsi: %s closed the connection", c.portal)
				}
				err = &connError{err}
			}
			c.fail(err)
			return
		}
	}
}

func (c *conn) readOne() error {
	if err := c.r.Next(); err != nil {
		return err
	}
	c.lastRecv.Store(time.Now().UnixNano())
	h := &c.r.BHS
	switch h.Opcode() {
	case pdu.OpDataIn:
		c.mu.Lock()
		c.updateWindow(h.ExpCmdSN(), h.MaxCmdSN())
		final := h.Flags()&pdu.FlagStatus != 0
		if final {
			c.noteStatSN(h.StatSN())
		}
		t := c.lookup(h.ITT())
		c.mu.Unlock()
		if t == nil || !t.read {
			return c.protocolError("Data-In for unknown task 0x%x", h.ITT())
		}
		n := c.r.DataLen()
		off := int(h.BufferOffset())
		if off != t.received || off+n > len(t.buf) || h.DataSN() != t.nextDataSN {
			return c.protocolError("Data-In out of order or too long (offset %d len %d DataSN %d; expected offset %d DataSN %d, buffer %d)",
				off, n, h.DataSN(), t.received, t.nextDataSN, len(t.buf))
		}
		if err := c.r.ReadData(t.buf[off : off+n]); err != nil {
			return err
		}
		t.received += n
		t.nextDataSN++
		if final {
			t.status = h.Status()
			c.complete(t)
		}
	case pdu.OpSCSIResp:
		d, err := c.r.Data()
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.updateWindow(h.ExpCmdSN(), h.MaxCmdSN())
		c.noteStatSN(h.StatSN())
		t := c.lookup(h.ITT())
		c.mu.Unlock()
		if t == nil {
			return c.protocolError("SCSI Response for unknown task 0x%x", h.ITT())
		}
		t.response, t.status = h.Response(), h.Status()
		// RFC 7143 §11.4.7: SenseLength (2 bytes) then sense data.
		if len(d) >= 2 {
			n := min(int(d[0])<<8|int(d[1]), len(d)-2, len(t.sense))
			t.senseLen = copy(t.sense[:], d[2:2+n])
		}
		c.complete(t)
	case pdu.OpR2T:
		c.mu.Lock()
		c.updateWindow(h.ExpCmdSN(), h.MaxCmdSN())
		t := c.lookup(h.ITT())
		c.mu.Unlock()
		if err := c.r.Discard(); err != nil {
			return err
		}
		if t == nil || !t.write {
			return c.protocolError("R2T for unknown task 0x%x", h.ITT())
		}
		off, n := h.BufferOffset(), h.DesiredDataLen()
		if uint64(off)+uint64(n) > uint64(len(t.buf)) || n == 0 || int(n) > c.p.maxBurst {
			return c.protocolError("R2T for offset %d length %d outside the %d-byte write (MaxBurstLength %d)", off, n, len(t.buf), c.p.maxBurst)
		}
		select {
		case c.txq <- txItem{kind: 'r', t: t, ttt: h.TTT(), offset: off, length: n}:
		default:
			return c.protocolError("too many outstanding R2Ts")
		}
	case pdu.OpNOPIn:
		d, err := c.r.Data()
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.updateWindow(h.ExpCmdSN(), h.MaxCmdSN())
		if h.ITT() == pdu.TagNone {
			c.noteStatSN(h.StatSN() - 1) // StatSN is the next one, not advanced (§11.19.3)
		} else {
			c.noteStatSN(h.StatSN())
		}
		c.mu.Unlock()
		if h.ITT() == pingITT {
			c.pingSent.Store(0)
		}
		if h.TTT() != pdu.TagNone { // the target pings us: answer (§11.18)
			select {
			case c.txq <- txItem{kind: 'n', ttt: h.TTT(), lun: h.LUN(), data: append([]byte(nil), d...)}:
			default:
				return c.protocolError("NOP-In flood")
			}
		}
	case pdu.OpAsync:
		if err := c.r.Discard(); err != nil {
			return err
		}
		c.mu.Lock()
		c.updateWindow(h.ExpCmdSN(), h.MaxCmdSN())
		c.noteStatSN(h.StatSN())
		c.mu.Unlock()
		// RFC 7143 §11.9.1 AsyncEvent.
		switch h.AsyncEvent() {
		case 1:
			return &connError{fmt.Errorf("iscsi: target %s requested logout", c.portal)}
		case 2, 3:
			return &connError{fmt.Errorf("iscsi: target %s is dropping the connection (async event %d)", c.portal, h.AsyncEvent())}
		}
	case pdu.OpReject:
		d, err := c.r.Data()
		if err != nil {
			return err
		}
		reason := h.RejectReason()
		if len(d) >= pdu.BHSLen {
			var rej pdu.BHS
			copy(rej[:], d)
			c.mu.Lock()
			c.noteStatSN(h.StatSN())
			t := c.lookup(rej.ITT())
			c.mu.Unlock()
			if t != nil && rej.Opcode() == pdu.OpSCSICmd {
				t.err = fmt.Errorf("iscsi: target rejected command 0x%02x (reason 0x%02x)", rej.CDB()[0], reason)
				c.complete(t)
				return nil
			}
			return c.protocolError("target rejected our %v (reason 0x%02x)", rej.Opcode(), reason)
		}
		return c.protocolError("Reject (reason 0x%02x)", reason)
	case pdu.OpLogoutResp:
		if err := c.r.Discard(); err != nil {
			return err
		}
		select {
		case c.logoutCh <- struct{}{}:
		default:
		}
	default:
		if err := c.r.Discard(); err != nil {
			return err
		}
		return c.protocolError("unexpected %v in full feature phase", h.Opcode())
	}
	return nil
}

// sendLoop answers R2Ts and NOP-Ins and sends keepalive pings.
func (c *conn) sendLoop() {
	defer close(c.txDone)
	var tick <-chan time.Time
	if c.s.Keepalive > 0 {
		tk := time.NewTicker(c.s.Keepalive / 2)
		defer tk.Stop()
		tick = tk.C
	}
	for {
		var err error
		select {
		case <-c.dead:
			return
		case it := <-c.txq:
			c.writeMu.Lock()
			switch it.kind {
			case 'r':
				err = c.writeDataOut(it.t, it.ttt, it.offset, it.length)
			case 'n':
				err = c.writeNOP(pdu.TagNone, it.ttt, it.lun, it.data)
			}
			if err == nil && len(c.txq) == 0 {
				err = c.w.Flush()
			}
			c.writeMu.Unlock()
		case now := <-tick:
			idle := now.Sub(time.Unix(0, c.lastRecv.Load()))
			if ps := c.pingSent.Load(); ps != 0 {
				if now.Sub(time.Unix(0, ps)) > c.s.CommandTimeout {
					c.fail(&connError{fmt.Errorf("iscsi: %s does not answer NOP-Out pings", c.portal)})
					return
				}
			} else if idle >= c.s.Keepalive {
				c.pingSent.Store(now.UnixNano())
				c.writeMu.Lock()
				err = c.writeNOP(pingITT, pdu.TagNone, [8]byte{}, nil)
				if err == nil {
					err = c.w.Flush()
				}
				c.writeMu.Unlock()
			}
		}
		if err != nil {
			c.fail(&connError{fmt.Errorf("iscsi: sending to %s: %w", c.portal, err)})
			return
		}
	}
}

// writeNOP writes an immediate NOP-Out (RFC 7143 §11.18); writeMu held.
func (c *conn) writeNOP(itt, ttt uint32, lun [8]byte, data []byte) error {
	var h pdu.BHS
	h.SetOpcode(pdu.OpNOPOut, true)
	h.SetFlags(pdu.FlagFinal)
	h.SetLUN(lun)
	h.SetITT(itt)
	h.SetTTT(ttt)
	c.mu.Lock()
	h.SetCmdSN(c.cmdSN) // immediate: CmdSN not advanced
	h.SetExpStatSN(c.statSN + 1)
	c.mu.Unlock()
	return c.w.Write(&h, data)
}

// logout closes the session politely (RFC 7143 §11.14), waiting at most
// timeout for the answer, then closes the connection.
func (c *conn) logout(timeout time.Duration) error {
	defer func() {
		c.fail(&connError{errors.New("iscsi: session closed")})
		c.quiesce()
	}()
	if c.isDead() {
		return nil
	}
	var h pdu.BHS
	h.SetOpcode(pdu.OpLogoutReq, true)
	h.SetFlags(pdu.FlagFinal | 0) // reason 0: close the session
	h.SetITT(logoutITT)
	c.cmdMu.Lock()
	c.mu.Lock()
	h.SetCmdSN(c.cmdSN)
	h.SetExpStatSN(c.statSN + 1)
	c.mu.Unlock()
	c.writeMu.Lock()
	err := c.w.Write(&h, nil)
	if err == nil {
		err = c.w.Flush()
	}
	c.writeMu.Unlock()
	c.cmdMu.Unlock()
	if err != nil {
		return err
	}
	select {
	case <-c.logoutCh:
		return nil
	case <-c.dead:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("iscsi: no Logout Response from %s within %v", c.portal, timeout)
	}
}
