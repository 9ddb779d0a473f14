package iscsi

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/snp-go/snp-go/iscsi/pdu"
)

// readLoop receives PDUs in the full feature phase until the connection
// fails; any error from a handler ends the connection (ERL 0: session
// recovery, RFC 7143 §7.1.5 and §7.14).
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

// readOne reads one PDU header and hands the PDU to its opcode's handler
// (as iPXE's iscsi_rx_data does). A handler consumes the data segment
// (ReadData, Data or Discard) and returns an error only to end the
// connection.
func (c *conn) readOne() error {
	if err := c.r.Next(); err != nil {
		return err
	}
	c.lastRecv.Store(time.Now().UnixNano())
	h := &c.r.BHS
	switch h.Opcode() {
	case pdu.OpDataIn:
		return c.rxDataIn(h)
	case pdu.OpSCSIResp:
		return c.rxSCSIResponse(h)
	case pdu.OpR2T:
		return c.rxR2T(h)
	case pdu.OpNOPIn:
		return c.rxNOPIn(h)
	case pdu.OpAsync:
		return c.rxAsync(h)
	case pdu.OpReject:
		return c.rxReject(h)
	case pdu.OpLogoutResp:
		return c.rxLogoutResponse(h)
	}
	if err := c.r.Discard(); err != nil {
		return err
	}
	return c.protocolError("unexpected %v in full feature phase", h.Opcode())
}

// rxDataIn reads a Data-In segment (RFC 7143 §11.7) straight into its
// task's buffer. We negotiate DataPDUInOrder=Yes and DataSequenceInOrder=Yes
// (§13.18, §13.19) at ERL 0, so segments must come in order, without gaps
// or repeats, with DataSN counting from 0 (§11.7.5); anything else ends the
// connection and the command is retried on a new one. The S bit (§11.7.3)
// says the PDU carries the command's status, and only then a valid StatSN,
// instead of a separate SCSI Response ("phase collapse").
func (c *conn) rxDataIn(h *pdu.BHS) error {
	status := h.Flags()&pdu.FlagStatus != 0
	c.mu.Lock()
	c.updateWindow(h.ExpCmdSN(), h.MaxCmdSN())
	if status {
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
	if status {
		t.status = h.Status()
		c.complete(t)
	}
	return nil
}

// rxSCSIResponse completes a task with its iSCSI response, SCSI status and
// sense data (RFC 7143 §11.4).
func (c *conn) rxSCSIResponse(h *pdu.BHS) error {
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
	// §11.4.7: SenseLength (2 bytes) then sense data.
	if len(d) >= 2 {
		n := min(int(d[0])<<8|int(d[1]), len(d)-2, len(t.sense))
		t.senseLen = copy(t.sense[:], d[2:2+n])
	}
	c.complete(t)
	return nil
}

// rxR2T queues the Data-Out sequence an R2T asks for (RFC 7143 §11.8) for
// the sender goroutine. The solicited range must lie inside the write and
// be at most MaxBurstLength (§11.8.4, §13.13). The queue holds
// MaxOutstandingR2T sequences per task (§13.17); a target that sends more
// is flooding us, and the reader must not block (the sender may be waiting
// for the socket, which waits for the target, which waits for us).
func (c *conn) rxR2T(h *pdu.BHS) error {
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
	case c.txq <- txItem{kind: txDataOut, t: t, ttt: h.TTT(), offset: off, length: n}:
		return nil
	default:
		return c.protocolError("too many outstanding R2Ts")
	}
}

// rxNOPIn handles a NOP-In (RFC 7143 §11.19): the answer to our keepalive
// ping, a target's ping that wants a NOP-Out back (TTT not 0xffffffff,
// §11.19.1), or just news of the CmdSN window.
func (c *conn) rxNOPIn(h *pdu.BHS) error {
	d, err := c.r.Data()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.updateWindow(h.ExpCmdSN(), h.MaxCmdSN())
	if h.ITT() == pdu.TagNone {
		// StatSN is the next one, not advanced by an unsolicited
		// NOP-In (§11.19.2).
		c.noteStatSN(h.StatSN() - 1)
	} else {
		c.noteStatSN(h.StatSN())
	}
	c.mu.Unlock()
	if h.ITT() == pingITT {
		c.pingSent.Store(0)
	}
	if h.TTT() == pdu.TagNone {
		return nil
	}
	select {
	case c.txq <- txItem{kind: txNOPReply, ttt: h.TTT(), lun: h.LUN(), data: append([]byte(nil), d...)}:
		return nil
	default:
		return c.protocolError("NOP-In flood")
	}
}

// rxAsync handles an Async Message (RFC 7143 §11.9). A target that asks
// for a logout gets one (honorLogoutRequest); one that announces it drops
// the connection ends it here. Either way the commands in flight are
// retried on a new session. SCSI events (sense data in the segment),
// negotiation requests (we have nothing to renegotiate) and vendor events
// are ignored.
func (c *conn) rxAsync(h *pdu.BHS) error {
	if err := c.r.Discard(); err != nil {
		return err
	}
	c.mu.Lock()
	c.updateWindow(h.ExpCmdSN(), h.MaxCmdSN())
	c.noteStatSN(h.StatSN())
	c.mu.Unlock()
	switch ev := h.AsyncEvent(); ev {
	case pdu.AsyncLogoutRequest:
		return c.honorLogoutRequest()
	case pdu.AsyncDropConnection, pdu.AsyncDropAllConnections:
		return &connError{fmt.Errorf("iscsi: target %s is dropping the connection (async event %d)", c.portal, ev)}
	}
	return nil
}

// rxReject handles a Reject (RFC 7143 §11.17): its data segment is the
// header of the PDU the target refused. A refused SCSI Command fails that
// command; a refusal of anything else ends the connection.
func (c *conn) rxReject(h *pdu.BHS) error {
	d, err := c.r.Data()
	if err != nil {
		return err
	}
	reason := h.RejectReason()
	if len(d) < pdu.BHSLen {
		return c.protocolError("Reject (reason 0x%02x)", reason)
	}
	rej := (*pdu.BHS)(d[:pdu.BHSLen])
	c.mu.Lock()
	c.noteStatSN(h.StatSN())
	t := c.lookup(rej.ITT())
	c.mu.Unlock()
	if t != nil && rej.Opcode() == pdu.OpSCSICmd {
		err := fmt.Errorf("iscsi: target rejected command 0x%02x (reason 0x%02x)", rej.CDB()[0], reason)
		switch reason {
		case pdu.RejectDataDigest, pdu.RejectWaitingForLogout:
			// The target dropped the command for a digest error in its
			// immediate data, to be retried (§7.8), or takes no more
			// before we log out (§11.9.1). At ERL 0 a command is
			// redone on a new session.
			err = &connError{err}
		}
		t.err = err
		c.complete(t)
		return nil
	}
	return c.protocolError("target rejected our %v (reason 0x%02x)", rej.Opcode(), reason)
}

// rxLogoutResponse wakes logout (RFC 7143 §11.15), or ends the connection
// after a logout the target asked for.
func (c *conn) rxLogoutResponse(h *pdu.BHS) error {
	if err := c.r.Discard(); err != nil {
		return err
	}
	c.mu.Lock()
	requested := c.loggingOut
	c.mu.Unlock()
	if requested {
		return &connError{fmt.Errorf("iscsi: logged out of %s at its request", c.portal)}
	}
	select {
	case c.logoutCh <- struct{}{}:
	default:
	}
	return nil
}

// honorLogoutRequest answers a target's Async logout request (RFC 7143
// §11.9.1: the initiator MUST log out as early as possible, within
// Parameter3 seconds, and SHOULD NOT issue new commands on the connection).
// From now on no command gets a CmdSN on this connection; the sender
// writes a Logout Request (close the session) and then nothing more. The
// connection ends with the Logout Response (rxLogoutResponse), or after
// CommandTimeout without one; commands the target did not complete by then
// are retried on a new session.
func (c *conn) honorLogoutRequest() error {
	c.mu.Lock()
	already := c.loggingOut
	c.loggingOut = true
	c.mu.Unlock()
	if already {
		return nil
	}
	select {
	case c.txq <- txItem{kind: txLogout}:
	default:
		return &connError{fmt.Errorf("iscsi: target %s requested logout", c.portal)}
	}
	time.AfterFunc(c.s.CommandTimeout, func() {
		c.fail(&connError{fmt.Errorf("iscsi: %s requested logout but did not answer ours within %v", c.portal, c.s.CommandTimeout)})
	})
	return nil
}
