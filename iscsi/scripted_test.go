package iscsi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/snp-go/snp-go/iscsi/pdu"
	"github.com/snp-go/snp-go/iscsi/scsi"
)

// scriptedTarget is an in-process iSCSI target on 127.0.0.1 for what tgtd
// never does: Reject, Async Messages, Data-In out of order, R2T floods,
// StatSN jumps, a CmdSN window that closes. By default it is a plain,
// correct target for one 512-byte-block LUN held in memory (login without
// authentication, INQUIRY, READ CAPACITY, MODE SENSE, READ, WRITE with
// immediate data and R2Ts); a test changes what it does through the hooks
// and the tconn send helpers. It records every PDU it receives (events) and
// every rule the initiator breaks (violations).
type scriptedTarget struct {
	t  testing.TB
	ln net.Listener

	// Hooks, called on the connection's goroutine; set them before the
	// initiator connects.
	//
	// ready runs once the connection enters the full feature phase.
	ready func(tc *tconn)
	// command sees every SCSI Command first; it returns true when it
	// answered the command itself.
	command func(tc *tconn, cmd *tcmd) bool
	// window returns the MaxCmdSN to advertise (default ExpCmdSN+31).
	window func(tc *tconn) uint32

	// Negotiation answers (defaults in newScriptedTarget).
	maxRecvDSL    int // our MaxRecvDataSegmentLength declaration
	maxBurst      int
	immediateData bool // InitialR2T is always Yes: no unsolicited Data-Out

	mu         sync.Mutex
	disk       []byte
	conns      []*tconn
	events     []event
	violations []string
}

// event is one PDU the target received.
type event struct {
	conn      int // 1-based connection number
	op        pdu.Opcode
	immediate bool
	flags     byte
	itt, ttt  uint32
	cmdSN     uint32 // SCSI Command, NOP-Out, Logout
	expStatSN uint32
	cdb0      byte
	dataLen   int
}

const (
	scriptedBlockSize = 512
	scriptedIQN       = "iqn.2025-01.dev.snp-go:scripted"
)

// newScriptedTarget listens on 127.0.0.1 and serves a LUN of size bytes
// holding pattern(0, size).
func newScriptedTarget(t testing.TB, size int) *scriptedTarget {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg := &scriptedTarget{t: t, ln: ln, disk: pattern(0, size),
		maxRecvDSL: 8192, maxBurst: 64 << 10, immediateData: true}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		tg.mu.Lock()
		for _, tc := range tg.conns {
			tc.nc.Close()
		}
		tg.mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			tg.mu.Lock()
			tc := &tconn{tg: tg, n: len(tg.conns) + 1, nc: nc, statSN: 0x1000,
				writes: map[uint32]*twrite{}}
			tg.conns = append(tg.conns, tc)
			tg.mu.Unlock()
			wg.Go(func() {
				defer nc.Close()
				if err := tc.serve(); err != nil && !errors.Is(err, net.ErrClosed) {
					tc.logf("connection %d: %v", tc.n, err)
				}
			})
		}
	})
	return tg
}

// config is an initiator Config for this target: no keepalive, fast
// reconnects, the given queue depth.
func (tg *scriptedTarget) config(depth int) Config {
	return Config{Portal: tg.ln.Addr().String(), Target: scriptedIQN, LUN: LUN{0, 1},
		InitiatorName: testIQN, QueueDepth: depth, Keepalive: -1,
		ReconnectDelay: time.Millisecond, CommandTimeout: 5 * time.Second}
}

// open opens the target's LUN (which needs the default command handling
// for the probe on connection 1).
func (tg *scriptedTarget) open(depth int) *Disk {
	tg.t.Helper()
	d, err := Open(testContext(tg.t), tg.config(depth))
	if err != nil {
		tg.t.Fatalf("Open(scripted target) = %v", err)
	}
	tg.t.Cleanup(func() { d.Close() })
	return d
}

// Events returns the PDUs received so far.
func (tg *scriptedTarget) Events() []event {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]event(nil), tg.events...)
}

// Violations returns the rules the initiator broke.
func (tg *scriptedTarget) Violations() []string {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]string(nil), tg.violations...)
}

// Conns is the number of connections accepted.
func (tg *scriptedTarget) Conns() int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return len(tg.conns)
}

// Disk returns a copy of the LUN's contents.
func (tg *scriptedTarget) Disk() []byte {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]byte(nil), tg.disk...)
}

// tconn is one connection of the scripted target.
type tconn struct {
	tg *scriptedTarget
	n  int
	nc net.Conn
	r  *pdu.Reader

	// sendMu serializes PDUs: a script may send from another goroutine.
	sendMu sync.Mutex
	bw     *bufio.Writer
	w      *pdu.Writer

	// Under tg.mu.
	statSN     uint32 // next StatSN
	expCmdSN   uint32
	advertised uint32 // highest MaxCmdSN sent
	initMRDSL  int    // the initiator's MaxRecvDataSegmentLength
	writes     map[uint32]*twrite
	nextTTT    uint32
}

// tcmd is a SCSI Command as received.
type tcmd struct {
	h   pdu.BHS
	imm []byte // immediate data (a copy)
}

func (c *tcmd) itt() uint32  { return c.h.ITT() }
func (c *tcmd) op() byte     { return c.h.CDB()[0] }
func (c *tcmd) length() int  { return int(c.h.ExpectedDataLen()) }
func (c *tcmd) isRead() bool { return c.op() == scsi.OpRead10 || c.op() == scsi.OpRead16 }
func (c *tcmd) isWrite() bool {
	return c.op() == scsi.OpWrite10 || c.op() == scsi.OpWrite16
}

// lba returns the command's starting block (READ/WRITE(10) and (16)).
func (c *tcmd) lba() int {
	cdb := c.h.CDB()
	switch c.op() {
	case scsi.OpRead10, scsi.OpWrite10:
		return int(binary.BigEndian.Uint32(cdb[2:]))
	}
	return int(binary.BigEndian.Uint64(cdb[2:]))
}

// twrite is a WRITE waiting for Data-Out.
type twrite struct {
	cmd      *tcmd
	got      int    // bytes received
	burstEnd int    // end of the current solicited burst
	ttt      uint32 // of the current R2T
	r2tSN    uint32
	buf      []byte
}

func (tc *tconn) logf(format string, args ...any) { tc.tg.t.Logf("scripted target: "+format, args...) }

func (tc *tconn) violation(format string, args ...any) {
	msg := fmt.Sprintf("connection %d: ", tc.n) + fmt.Sprintf(format, args...)
	tc.tg.mu.Lock()
	tc.tg.violations = append(tc.tg.violations, msg)
	tc.tg.mu.Unlock()
}

func (tc *tconn) serve() error {
	tc.r = pdu.NewReader(bufio.NewReader(tc.nc))
	tc.r.MaxDataLen = tc.tg.maxRecvDSL
	tc.bw = bufio.NewWriter(tc.nc)
	tc.w = pdu.NewWriter(tc.bw)
	if err := tc.login(); err != nil {
		return err
	}
	if tc.tg.ready != nil {
		tc.tg.ready(tc)
	}
	for {
		if err := tc.r.Next(); err != nil {
			return err
		}
		h := tc.r.BHS
		d, err := tc.r.Data()
		if err != nil {
			return err
		}
		tc.record(&h, len(d))
		switch h.Opcode() {
		case pdu.OpSCSICmd:
			tc.checkCmdSN(&h)
			cmd := &tcmd{h: h, imm: append([]byte(nil), d...)}
			if tc.tg.command == nil || !tc.tg.command(tc, cmd) {
				tc.Serve(cmd)
			}
		case pdu.OpDataOut:
			tc.dataOut(&h, d)
		case pdu.OpNOPOut:
			if h.ITT() != pdu.TagNone { // a ping: answer it with a NOP-In (RFC 7143 §11.18.1)
				tc.NOPIn(h.ITT(), pdu.TagNone, d, true)
			}
		case pdu.OpLogoutReq:
			var r pdu.BHS
			r.SetOpcode(pdu.OpLogoutResp, false)
			r.SetFlags(pdu.FlagFinal)
			r.SetITT(h.ITT())
			tc.Send(&r, nil, true)
			return nil
		default:
			tc.violation("unexpected %v", h.Opcode())
		}
	}
}

func (tc *tconn) record(h *pdu.BHS, n int) {
	e := event{conn: tc.n, op: h.Opcode(), immediate: h.Immediate(), flags: h.Flags(),
		itt: h.ITT(), ttt: h.TTT(), expStatSN: h.ExpStatSN(), dataLen: n}
	switch h.Opcode() {
	case pdu.OpSCSICmd:
		e.cdb0, e.cmdSN, e.ttt = h.CDB()[0], h.CmdSN(), 0
	case pdu.OpNOPOut, pdu.OpLogoutReq:
		e.cmdSN = h.CmdSN()
	}
	tc.tg.mu.Lock()
	tc.tg.events = append(tc.tg.events, e)
	tc.tg.mu.Unlock()
}

// checkCmdSN enforces RFC 7143 §4.2.2.1 on a non-immediate command: its
// CmdSN is the next one expected and within the advertised window.
func (tc *tconn) checkCmdSN(h *pdu.BHS) {
	tc.tg.mu.Lock()
	exp, adv := tc.expCmdSN, tc.advertised
	if h.CmdSN() == tc.expCmdSN {
		tc.expCmdSN++
	}
	tc.tg.mu.Unlock()
	if h.CmdSN() != exp {
		tc.violation("SCSI Command with CmdSN %d, expected %d", h.CmdSN(), exp)
	}
	if snLT(adv, h.CmdSN()) {
		tc.violation("SCSI Command with CmdSN %d beyond MaxCmdSN %d", h.CmdSN(), adv)
	}
}

// login answers Login Requests until the full feature phase: no
// authentication, the negotiation answers of tg.
func (tc *tconn) login() error {
	tg := tc.tg
	for {
		if err := tc.r.Next(); err != nil {
			return err
		}
		h := tc.r.BHS
		d, err := tc.r.Data()
		if err != nil {
			return err
		}
		if h.Opcode() != pdu.OpLoginReq {
			return fmt.Errorf("got %v during login", h.Opcode())
		}
		in, err := pdu.ParseText(d)
		if err != nil {
			return err
		}
		csg, nsg := h.LoginStages()
		transit := h.Flags()&pdu.FlagTransit != 0
		var out pdu.Text
		switch csg {
		case stageSecurity:
			out = pdu.Text{{Key: "AuthMethod", Value: "None"}, {Key: "TargetPortalGroupTag", Value: "1"}}
		case stageOperational:
			for _, kv := range in {
				v := kv.Value
				switch kv.Key {
				case "HeaderDigest", "DataDigest":
					v = "None"
				case "MaxRecvDataSegmentLength":
					n, _ := strconv.Atoi(kv.Value)
					tg.mu.Lock()
					tc.initMRDSL = n
					tg.mu.Unlock()
					v = strconv.Itoa(tg.maxRecvDSL)
				case "MaxBurstLength", "FirstBurstLength":
					n, _ := strconv.Atoi(kv.Value)
					v = strconv.Itoa(min(n, tg.maxBurst))
				case "InitialR2T":
					v = "Yes"
				case "ImmediateData":
					v = yesNoText(tg.immediateData && kv.Value == "Yes")
				}
				out = append(out, pdu.KV{Key: kv.Key, Value: v})
			}
		}
		var r pdu.BHS
		r.SetOpcode(pdu.OpLoginResp, false)
		r.SetLogin(transit, false, csg, nsg)
		r.SetISID(h.ISID())
		r.SetITT(h.ITT())
		if transit && nsg == stageFullFeature {
			r.SetTSIH(uint16(tc.n))
		}
		tg.mu.Lock()
		tc.expCmdSN = h.CmdSN() // login requests are immediate
		tg.mu.Unlock()
		tc.Send(&r, out.Append(nil), true)
		if transit && nsg == stageFullFeature {
			return nil
		}
	}
}

func yesNoText(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// Stamp fills StatSN (advancing it when advance is set), ExpCmdSN and
// MaxCmdSN of a target PDU.
func (tc *tconn) Stamp(h *pdu.BHS, advance bool) {
	var maxSN uint32
	if tc.tg.window != nil {
		maxSN = tc.tg.window(tc)
	}
	tc.tg.mu.Lock()
	defer tc.tg.mu.Unlock()
	h.SetStatSN(tc.statSN)
	if advance {
		tc.statSN++
	}
	h.SetExpCmdSN(tc.expCmdSN)
	if tc.tg.window == nil {
		maxSN = tc.expCmdSN + 31
	}
	h.SetMaxCmdSN(maxSN)
	tc.noteWindow(tc.expCmdSN, maxSN)
}

// noteWindow records what the initiator may do with an ExpCmdSN/MaxCmdSN
// pair it receives (RFC 7143 §4.2.2.1: a valid pair only moves MaxCmdSN
// forward). tg.mu held.
func (tc *tconn) noteWindow(exp, maxSN uint32) {
	if !snLT(maxSN, exp-1) && snLT(tc.advertised, maxSN) {
		tc.advertised = maxSN
	}
}

// StatSN is the next StatSN.
func (tc *tconn) StatSN() uint32 {
	tc.tg.mu.Lock()
	defer tc.tg.mu.Unlock()
	return tc.statSN
}

// JumpStatSN advances the next StatSN by n.
func (tc *tconn) JumpStatSN(n uint32) {
	tc.tg.mu.Lock()
	defer tc.tg.mu.Unlock()
	tc.statSN += n
}

// ExpCmdSN is the next CmdSN the target expects.
func (tc *tconn) ExpCmdSN() uint32 {
	tc.tg.mu.Lock()
	defer tc.tg.mu.Unlock()
	return tc.expCmdSN
}

// Send stamps (unless stamp is false: the caller filled the sequence
// numbers) and sends one PDU, flushed.
func (tc *tconn) Send(h *pdu.BHS, data []byte, stamp bool) {
	if stamp {
		tc.Stamp(h, statusCarrying(h))
	}
	tc.SendRaw(h, data)
}

// SendRaw sends h as it is.
func (tc *tconn) SendRaw(h *pdu.BHS, data []byte) {
	tc.sendMu.Lock()
	defer tc.sendMu.Unlock()
	if err := tc.w.Write(h, data); err == nil {
		tc.w.Flush()
	}
}

// statusCarrying reports whether a target PDU consumes a StatSN
// (RFC 7143 §4.2.2.2): responses, Data-In with S, a NOP-In answering a
// ping, Reject, Async, Login and Logout Responses.
func statusCarrying(h *pdu.BHS) bool {
	switch h.Opcode() {
	case pdu.OpDataIn:
		return h.Flags()&pdu.FlagStatus != 0
	case pdu.OpNOPIn:
		return h.ITT() != pdu.TagNone
	case pdu.OpR2T:
		return false
	}
	return true
}

// DataIn sends one Data-In PDU; with status it carries GOOD status (S bit).
func (tc *tconn) DataIn(itt uint32, data []byte, offset, dataSN uint32, status bool) {
	var h pdu.BHS
	h.SetOpcode(pdu.OpDataIn, false)
	if status {
		h.SetFlags(pdu.FlagFinal | pdu.FlagStatus)
	}
	h.SetITT(itt)
	h.SetTTT(pdu.TagNone)
	h.SetDataSN(dataSN)
	h.SetBufferOffset(offset)
	tc.Send(&h, data, true)
}

// Response sends a SCSI Response with status and optional sense data.
func (tc *tconn) Response(itt uint32, status byte, sense []byte) {
	var h pdu.BHS
	h.SetOpcode(pdu.OpSCSIResp, false)
	h.SetFlags(pdu.FlagFinal)
	h[3] = status
	h.SetITT(itt)
	var d []byte
	if len(sense) > 0 {
		d = binary.BigEndian.AppendUint16(nil, uint16(len(sense)))
		d = append(d, sense...)
	}
	tc.Send(&h, d, true)
}

// R2T asks for length bytes at offset of the write itt.
func (tc *tconn) R2T(itt, ttt, r2tSN, offset, length uint32) {
	var h pdu.BHS
	h.SetOpcode(pdu.OpR2T, false)
	h.SetFlags(pdu.FlagFinal)
	h.SetITT(itt)
	h.SetTTT(ttt)
	h.SetDataSN(r2tSN)
	h.SetBufferOffset(offset)
	h.PutU32(44, length)
	tc.Send(&h, nil, true)
}

// NOPIn sends a NOP-In; stamp false leaves the sequence numbers to the caller
// (who then sends it with SendRaw).
func (tc *tconn) NOPIn(itt, ttt uint32, data []byte, stamp bool) {
	var h pdu.BHS
	h.SetOpcode(pdu.OpNOPIn, false)
	h.SetFlags(pdu.FlagFinal)
	h.SetITT(itt)
	h.SetTTT(ttt)
	tc.Send(&h, data, stamp)
}

// Async sends an Async Message with the given event and Parameter3.
func (tc *tconn) Async(ev byte, param3 uint16, data []byte) {
	var h pdu.BHS
	h.SetOpcode(pdu.OpAsync, false)
	h.SetFlags(pdu.FlagFinal)
	h.SetITT(pdu.TagNone)
	h[36] = ev
	binary.BigEndian.PutUint16(h[42:], param3)
	tc.Send(&h, data, true)
}

// Reject refuses the PDU whose header is rejected (RFC 7143 §11.17).
func (tc *tconn) Reject(reason byte, rejected *pdu.BHS) {
	var h pdu.BHS
	h.SetOpcode(pdu.OpReject, false)
	h.SetFlags(pdu.FlagFinal)
	h[2] = reason
	h.SetITT(pdu.TagNone)
	tc.Send(&h, rejected[:], true)
}

// Close drops the connection.
func (tc *tconn) Close() { tc.nc.Close() }

// ReadData returns the bytes a READ asks for.
func (tg *scriptedTarget) ReadData(cmd *tcmd) []byte {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	off := cmd.lba() * scriptedBlockSize
	return append([]byte(nil), tg.disk[off:off+cmd.length()]...)
}

// segment is the Data-In segment size: the initiator's declaration, at
// most 8 KiB.
func (tc *tconn) segment() int {
	tc.tg.mu.Lock()
	defer tc.tg.mu.Unlock()
	return min(tc.initMRDSL, 8192)
}

// SendRead answers a command with data in order, status in the last
// Data-In.
func (tc *tconn) SendRead(cmd *tcmd, data []byte) {
	seg := tc.segment()
	var sn uint32
	for off := 0; ; off += seg {
		n := min(seg, len(data)-off)
		tc.DataIn(cmd.itt(), data[off:off+n], uint32(off), sn, off+n == len(data))
		sn++
		if off+n == len(data) {
			return
		}
	}
}

// Serve answers cmd as a correct target does.
func (tc *tconn) Serve(cmd *tcmd) {
	tg := tc.tg
	cdb := cmd.h.CDB()
	in := func(b []byte) { tc.SendRead(cmd, b[:min(len(b), cmd.length())]) }
	switch cmd.op() {
	case scsi.OpTestUnitReady, scsi.OpSyncCache10, scsi.OpSyncCache16:
		tc.Response(cmd.itt(), scsi.StatusGood, nil)
	case scsi.OpInquiry:
		if cdb[1]&1 != 0 {
			in([]byte{0, scsi.VPDUnitSerial, 0, 8, 'S', 'C', 'R', 'I', 'P', 'T', 'E', 'D'})
			return
		}
		b := make([]byte, 36)
		b[2], b[4] = 5, 31
		copy(b[8:], "SNP-GO  SCRIPTED TARGET 0001")
		in(b)
	case scsi.OpReadCapacity10:
		tg.mu.Lock()
		blocks := len(tg.disk) / scriptedBlockSize
		tg.mu.Unlock()
		b := binary.BigEndian.AppendUint32(nil, uint32(blocks-1))
		in(binary.BigEndian.AppendUint32(b, scriptedBlockSize))
	case scsi.OpModeSense6:
		in([]byte{3, 0, 0, 0})
	case scsi.OpRead10, scsi.OpRead16:
		tc.SendRead(cmd, tg.ReadData(cmd))
	case scsi.OpWrite10, scsi.OpWrite16:
		tc.startWrite(cmd)
	default:
		// ILLEGAL REQUEST, invalid command operation code.
		tc.Response(cmd.itt(), scsi.StatusCheckCondition, []byte{0x70, 0, scsi.SenseIllegalRequest, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0})
	}
}

func (tc *tconn) startWrite(cmd *tcmd) {
	w := &twrite{cmd: cmd, buf: make([]byte, cmd.length())}
	w.got = copy(w.buf, cmd.imm)
	tc.tg.mu.Lock()
	tc.writes[cmd.itt()] = w
	tc.tg.mu.Unlock()
	tc.nextBurst(w)
}

// nextBurst sends the next R2T of w, or completes it.
func (tc *tconn) nextBurst(w *twrite) {
	if w.got == len(w.buf) {
		tc.tg.mu.Lock()
		delete(tc.writes, w.cmd.itt())
		off := w.cmd.lba() * scriptedBlockSize
		copy(tc.tg.disk[off:], w.buf)
		tc.tg.mu.Unlock()
		tc.Response(w.cmd.itt(), scsi.StatusGood, nil)
		return
	}
	n := min(tc.tg.maxBurst, len(w.buf)-w.got)
	tc.tg.mu.Lock()
	tc.nextTTT++
	w.ttt = tc.nextTTT
	tc.tg.mu.Unlock()
	w.burstEnd = w.got + n
	tc.R2T(w.cmd.itt(), w.ttt, w.r2tSN, uint32(w.got), uint32(n))
	w.r2tSN++
}

func (tc *tconn) dataOut(h *pdu.BHS, d []byte) {
	tc.tg.mu.Lock()
	w := tc.writes[h.ITT()]
	tc.tg.mu.Unlock()
	if w == nil {
		tc.violation("Data-Out for unknown task 0x%x", h.ITT())
		return
	}
	if int(h.BufferOffset()) != w.got || w.got+len(d) > len(w.buf) {
		tc.violation("Data-Out at offset %d (%d bytes), expected offset %d of %d", h.BufferOffset(), len(d), w.got, len(w.buf))
		return
	}
	w.got += copy(w.buf[w.got:], d)
	if h.Final() && w.got >= w.burstEnd {
		tc.nextBurst(w)
	}
}
