package iscsi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/snp-go/snp-go/iscsi/pdu"
	"github.com/snp-go/snp-go/iscsi/scsi"
)

// The connection is split the way iPXE's iscsi.c splits it: this file holds
// the connection state (setup, sequence numbers, the task table), tx.go
// sends (commands, Data-Out, NOP-Out, Logout) and rx.go receives, with one
// handler per opcode.

// Initiator Task Tags (RFC 7143 §11.2.1.8: the initiator picks them, unique
// within the session; 0xffffffff is reserved). A SCSI command's ITT is its
// slot | generation<<ittGenShift, and slots are < maxQueueDepth, so the
// tags of login, logout and pings below never collide with a command's.
const (
	ittSlotMask  = 0x0000ffff // slot number in the low 16 bits
	ittGenShift  = 16         // generation above it, so a reused slot gets a new tag
	ittGenMask   = 0x7fff     // 15 bits: the top bit is ittCompleted
	ittCompleted = 0x80000000 // set in a finished task's ITT: no incoming PDU matches it

	loginITT  = 0x0000fffc // every Login Request of a connection
	logoutITT = 0x0000fffd // the Logout Request
	pingITT   = 0x0000fffe // our keepalive NOP-Out (answered by a NOP-In with this ITT)
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

// txKind says what a txItem asks the sender goroutine to send.
type txKind uint8

const (
	// txDataOut: the Data-Out sequence an R2T solicits (RFC 7143 §11.8, §11.7).
	txDataOut txKind = iota + 1
	// txNOPReply: the NOP-Out a target's NOP-In ping asks for (RFC 7143 §11.18, §11.19).
	txNOPReply
	// txLogout: the Logout Request a target's Async logout request asks
	// for (RFC 7143 §11.9.1, §11.14); nothing is sent after it.
	txLogout
)

// txItem is work for the sender goroutine, queued by the reader (which must
// never block on the socket's send side).
type txItem struct {
	kind   txKind
	t      *task  // txDataOut
	ttt    uint32 // both: the target's Target Transfer Tag
	offset uint32 // txDataOut
	length uint32 // txDataOut
	lun    [8]byte
	data   []byte // txNOPReply: the ping data to echo
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

	txtBuf []byte // login text, reused across Login Requests

	cmdMu   sync.Mutex // serializes command submission (CmdSN order)
	writeMu sync.Mutex // serializes PDUs on the wire
	// txHdr is the header of the Data-Out or NOP-Out being written (held
	// under writeMu); a local one would escape to the heap via the
	// io.Writer under bufio.Writer, one allocation per Data-Out sequence.
	txHdr pdu.BHS
	// submitters counts goroutines inside submit. The last one out flushes,
	// so commands issued together leave in one write.
	submitters atomic.Int32

	mu       sync.Mutex // protects the fields below
	cmdSN    uint32     // next CmdSN
	expCmdSN uint32
	maxCmdSN uint32
	statSN   uint32 // last StatSN seen
	err      error
	// loggingOut: the target asked for a logout; no new command may be
	// sent on this connection.
	loggingOut bool

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
		bw:    bufio.NewWriterSize(nc, 64<<10),
		cmdSN: 1,
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
	c.fullFeature()
	go c.readLoop()
	go c.sendLoop()
}

// fullFeature sets up the full feature phase: digests as negotiated, the
// task slots and the channels (the fuzz test runs readOne on this alone).
func (c *conn) fullFeature() {
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
	// Room for one Data-Out sequence per outstanding R2T of every task
	// (MaxOutstandingR2T, RFC 7143 §13.17) plus a few NOP-Out replies; a
	// target that sends more is flooding us (rx.go).
	c.txq = make(chan txItem, depth*max(1, c.p.maxOutstandingR2T)+8)
	c.lastRecv.Store(time.Now().UnixNano())
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

// Serial number arithmetic on 32-bit sequence numbers (RFC 1982 §3.2,
// RFC 7143 §4.2.2.1): a < b when b is 1 to 2^31-1 ahead. Two numbers
// exactly 2^31 apart are not ordered (RFC 1982 leaves it undefined), so
// neither is less than the other.
func snLT(a, b uint32) bool { d := b - a; return d != 0 && d < 1<<31 }
func snLE(a, b uint32) bool { return a == b || snLT(a, b) }

// updateWindow applies ExpCmdSN/MaxCmdSN from a target PDU as RFC 7143
// §4.2.2.1 says: a pair with MaxCmdSN < ExpCmdSN-1 is ignored, and each
// field only ever moves forward. The window is closed while CmdSN >
// MaxCmdSN (a target closes it by letting ExpCmdSN reach MaxCmdSN+1).
// c.mu must be held.
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

// noteStatSN records a StatSN the target assigned; we acknowledge the
// highest one with ExpStatSN = StatSN+1 in every PDU we send (RFC 7143
// §4.2.2.2). c.mu must be held.
func (c *conn) noteStatSN(sn uint32) {
	if snLT(c.statSN, sn) {
		c.statSN = sn
	}
}

// complete finishes t (reader goroutine).
func (c *conn) complete(t *task) {
	c.mu.Lock()
	t.itt ^= ittCompleted // no longer matches incoming PDUs
	c.mu.Unlock()
	t.done <- struct{}{}
}

// lookup finds the task for itt; c.mu must be held.
func (c *conn) lookup(itt uint32) *task {
	slot := int(itt & ittSlotMask)
	if slot >= len(c.slots) || c.slots[slot].itt != itt || itt&ittCompleted != 0 {
		return nil
	}
	return &c.slots[slot]
}

func (c *conn) protocolError(format string, args ...any) error {
	return &connError{fmt.Errorf("iscsi: protocol error from %s: "+format, append([]any{c.portal}, args...)...)}
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
