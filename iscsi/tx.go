package iscsi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/snp-go/snp-go/iscsi/pdu"
	"github.com/snp-go/snp-go/iscsi/scsi"
)

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
	t, err := c.claimTask(ctx, cmd)
	if err != nil {
		return nil, err
	}
	immediate, unsolicited := c.buildCommand(t, cmd)

	c.submitters.Add(1)
	c.cmdMu.Lock()
	if err := c.takeCmdSN(ctx, &t.bhs); err != nil {
		if c.submitters.Add(-1) == 0 {
			c.flushPending()
		}
		c.cmdMu.Unlock()
		c.free <- t.slot
		return nil, err
	}
	c.sendCommand(t, immediate, unsolicited)
	c.cmdMu.Unlock()
	return t, nil
}

// claimTask takes a free slot for cmd and resets its task.
func (c *conn) claimTask(ctx context.Context, cmd *command) (*task, error) {
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
	t.itt = uint32(slot) | (t.gen&ittGenMask)<<ittGenShift
	t.read, t.write, t.exact, t.buf = cmd.read, cmd.write, cmd.exact, cmd.buf
	t.received, t.nextDataSN, t.status, t.response, t.senseLen, t.err = 0, 0, 0, 0, 0, nil
	select {
	case <-t.done: // stale signal from a task abandoned on a dead conn
	default:
	}
	return t, nil
}

// buildCommand fills t's SCSI Command PDU (RFC 7143 §11.3) except CmdSN and
// ExpStatSN, and returns the immediate data to send in it and how many
// bytes from the start of the buffer go unsolicited (immediate data plus
// unsolicited Data-Out, RFC 7143 §4.2.5.2: up to FirstBurstLength, the
// Data-Out only when InitialR2T=No).
func (c *conn) buildCommand(t *task, cmd *command) (immediate []byte, unsolicited int) {
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
	return immediate, unsolicited
}

// takeCmdSN waits until the target's window admits the next CmdSN (RFC 7143
// §4.2.2.1: a non-immediate command may be sent only while CmdSN <=
// MaxCmdSN), then numbers h with it and acknowledges status with
// ExpStatSN. c.cmdMu must be held, so that commands leave in CmdSN order.
// After a target's logout request it waits for the connection to end.
func (c *conn) takeCmdSN(ctx context.Context, h *pdu.BHS) error {
	for {
		c.mu.Lock()
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return err
		}
		if snLE(c.cmdSN, c.maxCmdSN) && !c.loggingOut {
			h.SetCmdSN(c.cmdSN)
			c.cmdSN++
			h.SetExpStatSN(c.statSN + 1)
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
		c.flushPending() // commands buffered by others must leave before we wait
		select {
		case <-c.winCh:
		case <-c.dead:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// sendCommand writes t's command PDU and its unsolicited Data-Out, and
// flushes when it is the last submitter in (so that commands issued
// together leave in one write). c.cmdMu must be held. A failure kills the
// connection; the task stays registered and wait reports it.
func (c *conn) sendCommand(t *task, immediate []byte, unsolicited int) {
	c.writeMu.Lock()
	err := c.w.Write(&t.bhs, immediate)
	if err == nil && unsolicited > len(immediate) {
		err = c.writeDataOut(t, pdu.TagNone, uint32(len(immediate)), uint32(unsolicited-len(immediate)))
	}
	if c.submitters.Add(-1) == 0 && err == nil {
		err = c.w.Flush()
	}
	c.writeMu.Unlock()
	if err != nil {
		c.fail(&connError{fmt.Errorf("iscsi: sending command: %w", err)})
	}
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
// (RFC 7143 §11.7; DataSN counts from 0 in each sequence, §11.7.5).
// c.writeMu must be held.
func (c *conn) writeDataOut(t *task, ttt, offset, length uint32) error {
	h := &c.txHdr
	var dataSN uint32
	c.mu.Lock()
	expStatSN := c.statSN + 1 // one lock per sequence, not per PDU
	c.mu.Unlock()
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
		h.SetExpStatSN(expStatSN)
		h.SetDataSN(dataSN)
		h.SetBufferOffset(offset)
		if err := c.w.Write(h, t.buf[offset:offset+n]); err != nil {
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

// sendLoop sends what the reader queues (Data-Out for R2Ts, NOP-Out
// replies) and keepalive pings.
func (c *conn) sendLoop() {
	defer close(c.txDone)
	var tick <-chan time.Time
	if c.s.Keepalive > 0 {
		tk := time.NewTicker(c.s.Keepalive / 2)
		defer tk.Stop()
		tick = tk.C
	}
	loggedOut := false // a Logout Request was sent: nothing may follow it
	for {
		var err error
		select {
		case <-c.dead:
			return
		case it := <-c.txq:
			if !loggedOut {
				err = c.sendQueued(&it)
				loggedOut = it.kind == txLogout
			}
		case now := <-tick:
			if loggedOut {
				continue
			}
			if c.pingOverdue(now) {
				c.fail(&connError{fmt.Errorf("iscsi: %s does not answer NOP-Out pings", c.portal)})
				return
			}
			err = c.keepalive(now)
		}
		if err != nil {
			c.fail(&connError{fmt.Errorf("iscsi: sending to %s: %w", c.portal, err)})
			return
		}
	}
}

// sendQueued sends one txItem, flushing when no other is queued.
func (c *conn) sendQueued(it *txItem) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	var err error
	switch it.kind {
	case txDataOut:
		err = c.writeDataOut(it.t, it.ttt, it.offset, it.length)
	case txNOPReply:
		// RFC 7143 §11.18: ITT 0xffffffff (no answer wanted), the
		// NOP-In's TTT and LUN, its ping data echoed.
		err = c.writeNOP(pdu.TagNone, it.ttt, it.lun, it.data)
	case txLogout:
		err = c.writeLogout()
	}
	if err == nil && len(c.txq) == 0 {
		err = c.w.Flush()
	}
	return err
}

// pingOverdue reports whether our keepalive ping has gone unanswered for
// longer than CommandTimeout.
func (c *conn) pingOverdue(now time.Time) bool {
	ps := c.pingSent.Load()
	return ps != 0 && now.Sub(time.Unix(0, ps)) > c.s.CommandTimeout
}

// keepalive sends a NOP-Out ping (RFC 7143 §11.18, ITT pingITT so that the
// target answers) when nothing was received for Keepalive and no ping is
// outstanding.
func (c *conn) keepalive(now time.Time) error {
	if c.pingSent.Load() != 0 || now.Sub(time.Unix(0, c.lastRecv.Load())) < c.s.Keepalive {
		return nil
	}
	c.pingSent.Store(now.UnixNano())
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	err := c.writeNOP(pingITT, pdu.TagNone, [8]byte{}, nil)
	if err == nil {
		err = c.w.Flush()
	}
	return err
}

// writeNOP writes an immediate NOP-Out (RFC 7143 §11.18); writeMu held.
func (c *conn) writeNOP(itt, ttt uint32, lun [8]byte, data []byte) error {
	h := &c.txHdr
	h.Reset()
	h.SetOpcode(pdu.OpNOPOut, true)
	h.SetFlags(pdu.FlagFinal)
	h.SetLUN(lun)
	h.SetITT(itt)
	h.SetTTT(ttt)
	c.mu.Lock()
	h.SetCmdSN(c.cmdSN) // immediate: CmdSN not advanced
	h.SetExpStatSN(c.statSN + 1)
	c.mu.Unlock()
	return c.w.Write(h, data)
}

// writeLogout writes an immediate Logout Request that closes the session
// (RFC 7143 §11.14; immediate, so its CmdSN is not advanced); writeMu held.
func (c *conn) writeLogout() error {
	h := &c.txHdr
	h.Reset()
	h.SetOpcode(pdu.OpLogoutReq, true)
	h.SetFlags(pdu.FlagFinal | pdu.LogoutCloseSession)
	h.SetITT(logoutITT)
	h.SetTTT(0) // CID 0 and reserved bytes
	c.mu.Lock()
	h.SetCmdSN(c.cmdSN)
	h.SetExpStatSN(c.statSN + 1)
	c.mu.Unlock()
	return c.w.Write(h, nil)
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
	c.cmdMu.Lock()
	c.writeMu.Lock()
	err := c.writeLogout()
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
