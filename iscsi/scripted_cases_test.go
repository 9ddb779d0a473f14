package iscsi

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-go/snp-go/iscsi/pdu"
	"github.com/snp-go/snp-go/iscsi/scsi"
)

// These tests run the initiator against scriptedTarget (scripted_test.go):
// no root, no tgtd. Each asserts what the initiator must do when the target
// does something tgtd never does.

const scriptedSize = 4 << 20

// clean fails the test if the initiator broke a rule the target checks
// (CmdSN order and window, Data-Out placement).
func (tg *scriptedTarget) clean(t *testing.T) {
	t.Helper()
	for _, v := range tg.Violations() {
		t.Errorf("initiator broke a rule: %s", v)
	}
}

// readBack reads n bytes at lba and compares them with the target's disk.
func readBack(t *testing.T, d *Disk, tg *scriptedTarget, lba uint64, n int) {
	t.Helper()
	buf := make([]byte, n)
	if err := d.ReadBlocks(testContext(t), lba, buf); err != nil {
		t.Fatalf("ReadBlocks(%d, %d bytes) = %v; want success", lba, n, err)
	}
	want := tg.Disk()[lba*scriptedBlockSize:][:n]
	if !bytes.Equal(buf, want) {
		t.Fatalf("ReadBlocks(%d, %d bytes) returned data that differs from the target's at byte %d", lba, n, firstDiff(buf, want))
	}
}

// connEvents returns the PDUs the target received on connection n.
func connEvents(tg *scriptedTarget, n int) []event {
	var out []event
	for _, e := range tg.Events() {
		if e.conn == n {
			out = append(out, e)
		}
	}
	return out
}

// once returns a function that reports true the first time only.
func once() func() bool {
	var done atomic.Bool
	return func() bool { return !done.Swap(true) }
}

func TestScriptedBaseline(t *testing.T) {
	tg := newScriptedTarget(t, scriptedSize)
	d := tg.open(4)
	if d.BlockSize() != scriptedBlockSize || d.Size() != scriptedSize {
		t.Errorf("geometry = %d blocks of %d; want %d bytes in 512-byte blocks", d.Blocks(), d.BlockSize(), scriptedSize)
	}
	if inq := d.Inquiry(); inq.Vendor != "SNP-GO" || inq.Serial != "SCRIPTED" {
		t.Errorf("Inquiry() = %+v; want vendor SNP-GO, serial SCRIPTED", inq)
	}
	readBack(t, d, tg, 3, 1<<20)
	data := pattern(77, 200<<10) // immediate data, then several R2Ts
	if err := d.WriteBlocks(testContext(t), 100, data); err != nil {
		t.Fatalf("WriteBlocks = %v", err)
	}
	if got := tg.Disk()[100*512:][:len(data)]; !bytes.Equal(got, data) {
		t.Errorf("target disk differs from the written data at byte %d", firstDiff(got, data))
	}
	if s := d.Stats(); s.Logins != 1 || s.Failures != 0 {
		t.Errorf("Stats() = %+v; want 1 login, no failures", s)
	}
	tg.clean(t)
}

// TestScriptedReject: a Reject of a SCSI Command fails that command and
// nothing else (RFC 7143 §11.17); a Reject of any other PDU, or of a
// command whose data the target dropped for a digest error (§7.8) or
// because it waits for our Logout, ends the connection and the command is
// redone on a new one.
func TestScriptedReject(t *testing.T) {
	t.Run("command refused", func(t *testing.T) {
		tg := newScriptedTarget(t, scriptedSize)
		first := once()
		tg.command = func(tc *tconn, cmd *tcmd) bool {
			if cmd.isRead() && cmd.length() == 4096 && first() {
				tc.Reject(pdu.RejectInvalidPDUField, &cmd.h)
				return true
			}
			return false
		}
		d := tg.open(4)
		err := d.ReadBlocks(testContext(t), 0, make([]byte, 4096))
		if err == nil || !strings.Contains(err.Error(), "rejected command 0x28") {
			t.Errorf("ReadBlocks on a rejected command = %v; want an error naming the rejected command 0x28", err)
		}
		if errors.Is(err, errConnLost) {
			t.Errorf("ReadBlocks error %v is a connection loss; a refused command is not retried", err)
		}
		readBack(t, d, tg, 0, 4096)
		if s := d.Stats(); s.Logins != 1 || s.Failures != 0 || tg.Conns() != 1 {
			t.Errorf("Stats() = %+v, %d connections; want the connection kept (1 login, no failures)", s, tg.Conns())
		}
		tg.clean(t)
	})
	for _, tc := range []struct {
		name   string
		reason byte
	}{
		{"data digest error", pdu.RejectDataDigest},
		{"waiting for logout", pdu.RejectWaitingForLogout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := newScriptedTarget(t, scriptedSize)
			tg.command = func(c *tconn, cmd *tcmd) bool {
				if c.n == 1 && cmd.isRead() && cmd.length() == 8192 {
					c.Reject(tc.reason, &cmd.h)
					return true
				}
				return false
			}
			d := tg.open(4)
			readBack(t, d, tg, 8, 8192)
			if s := d.Stats(); s.Logins != 2 || s.Failures != 1 {
				t.Errorf("Stats() = %+v; want the command redone after a new login (2 logins, 1 failure)", s)
			}
			tg.clean(t)
		})
	}
	t.Run("Data-Out refused", func(t *testing.T) {
		tg := newScriptedTarget(t, scriptedSize)
		tg.command = func(tc *tconn, cmd *tcmd) bool {
			if tc.n == 1 && cmd.isWrite() {
				var dout pdu.BHS
				dout.SetOpcode(pdu.OpDataOut, false)
				dout.SetITT(cmd.itt())
				tc.Reject(pdu.RejectProtocolError, &dout)
				return true
			}
			return false
		}
		d := tg.open(4)
		data := pattern(5, 16<<10)
		if err := d.WriteBlocks(testContext(t), 40, data); err != nil {
			t.Fatalf("WriteBlocks after a rejected Data-Out = %v; want success on a new connection", err)
		}
		if got := tg.Disk()[40*512:][:len(data)]; !bytes.Equal(got, data) {
			t.Errorf("target disk differs from the written data at byte %d", firstDiff(got, data))
		}
		if s := d.Stats(); s.Logins != 2 || s.Failures != 1 {
			t.Errorf("Stats() = %+v; want 2 logins, 1 failure", s)
		}
		tg.clean(t)
	})
}

// TestScriptedAsync: Async Messages (RFC 7143 §11.9.1).
func TestScriptedAsync(t *testing.T) {
	// A READ is in flight when the target sends the event instead of data.
	asyncOnRead := func(tg *scriptedTarget, ev byte, data []byte) {
		tg.command = func(tc *tconn, cmd *tcmd) bool {
			if tc.n == 1 && cmd.isRead() && cmd.length() == 64<<10 {
				tc.Async(ev, 5, data)
				return true
			}
			return false
		}
	}
	t.Run("logout requested", func(t *testing.T) {
		// The initiator must answer with a Logout (§11.9.1: "MUST honor
		// this request by issuing a Logout as early as possible"), send no
		// new command on that connection, and redo the READ on a new one.
		tg := newScriptedTarget(t, scriptedSize)
		asyncOnRead(tg, pdu.AsyncLogoutRequest, nil)
		d := tg.open(4)
		readBack(t, d, tg, 16, 64<<10)
		ev := connEvents(tg, 1)
		logout := -1
		for i, e := range ev {
			if e.op == pdu.OpLogoutReq {
				logout = i
			}
		}
		if logout < 0 {
			t.Fatalf("connection 1 PDUs = %v; want a Logout Request after the Async logout request", ops(ev))
		}
		if ev[logout].flags&0x7f != pdu.LogoutCloseSession || !ev[logout].immediate {
			t.Errorf("Logout Request flags 0x%02x, immediate %t; want reason 0 (close the session), immediate", ev[logout].flags, ev[logout].immediate)
		}
		for _, e := range ev[logout+1:] {
			t.Errorf("connection 1 carried a %v after the Logout Request", e.op)
		}
		if s := d.Stats(); s.Logins != 2 {
			t.Errorf("Stats() = %+v; want 2 logins", s)
		}
		tg.clean(t)
	})
	for _, c := range []struct {
		name string
		ev   byte
	}{{"connection dropped", pdu.AsyncDropConnection}, {"all connections dropped", pdu.AsyncDropAllConnections}} {
		t.Run(c.name, func(t *testing.T) {
			tg := newScriptedTarget(t, scriptedSize)
			asyncOnRead(tg, c.ev, nil)
			d := tg.open(4)
			readBack(t, d, tg, 16, 64<<10)
			if s := d.Stats(); s.Logins != 2 || s.Failures != 1 {
				t.Errorf("Stats() = %+v; want the READ redone after a new login (2 logins, 1 failure)", s)
			}
			tg.clean(t)
		})
	}
	for _, c := range []struct {
		name string
		ev   byte
		data []byte
	}{
		{"SCSI event", pdu.AsyncSCSIEvent, []byte{0, 18, 0x70, 0, 6, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x3f, 0x0e, 0, 0, 0, 0}},
		{"vendor event", pdu.AsyncVendorSpecific, []byte("vendor")},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Events that need no action: the connection stays, and
			// the READ (answered after the event) completes on it.
			tg := newScriptedTarget(t, scriptedSize)
			tg.command = func(tc *tconn, cmd *tcmd) bool {
				if cmd.isRead() && cmd.length() == 64<<10 {
					tc.Async(c.ev, 0, c.data)
				}
				return false
			}
			d := tg.open(4)
			readBack(t, d, tg, 16, 64<<10)
			if s := d.Stats(); s.Logins != 1 || s.Failures != 0 {
				t.Errorf("Stats() = %+v; want the connection kept (1 login, no failures)", s)
			}
			tg.clean(t)
		})
	}
}

func ops(ev []event) []string {
	var s []string
	for _, e := range ev {
		s = append(s, e.op.String())
	}
	return s
}

// TestScriptedDataIn: we negotiate DataPDUInOrder=Yes and ERL 0, so Data-In
// out of order, repeated, with a DataSN gap or past the buffer is a
// protocol error: the initiator drops the connection, never hands the
// caller misplaced data, and redoes the READ on a new connection.
func TestScriptedDataIn(t *testing.T) {
	const size = 32 << 10 // four 8 KiB segments
	type seg struct{ off, sn int }
	for _, c := range []struct {
		name string
		segs []seg // segment offsets (in 8 KiB units) and DataSNs, last one with status
	}{
		{"out of order", []seg{{0, 0}, {2, 1}, {1, 2}, {3, 3}}},
		{"duplicate", []seg{{0, 0}, {1, 1}, {1, 1}, {2, 2}, {3, 3}}},
		{"DataSN gap", []seg{{0, 0}, {1, 2}, {2, 3}, {3, 4}}},
		{"past the buffer", []seg{{0, 0}, {1, 1}, {2, 2}, {3, 3}, {4, 4}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tg := newScriptedTarget(t, scriptedSize+8192)
			tg.command = func(tc *tconn, cmd *tcmd) bool {
				if tc.n != 1 || !cmd.isRead() || cmd.length() != size {
					return false
				}
				// Data beyond the command's end comes from the disk too.
				data := tg.Disk()[cmd.lba()*512:][:size+8192]
				for i, s := range c.segs {
					off := s.off * 8192
					tc.DataIn(cmd.itt(), data[off:off+8192], uint32(off), uint32(s.sn), i == len(c.segs)-1)
				}
				return true
			}
			d := tg.open(4)
			readBack(t, d, tg, 24, size)
			if s := d.Stats(); s.Logins != 2 || s.Failures != 1 {
				t.Errorf("Stats() = %+v; want the READ redone after a new login (2 logins, 1 failure)", s)
			}
			tg.clean(t)
		})
	}
	t.Run("always", func(t *testing.T) {
		// A target that never gets it right: the READ fails after
		// MaxReconnects new logins, with an error that says why.
		tg := newScriptedTarget(t, scriptedSize)
		tg.command = func(tc *tconn, cmd *tcmd) bool {
			if !cmd.isRead() || cmd.length() != size {
				return false
			}
			data := tg.ReadData(cmd)
			tc.DataIn(cmd.itt(), data[8192:16384], 8192, 0, false)
			return true
		}
		cfg := tg.config(4)
		cfg.MaxReconnects = 2
		d, err := Open(testContext(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		err = d.ReadBlocks(testContext(t), 0, make([]byte, size))
		if err == nil || !strings.Contains(err.Error(), "out of order") || !strings.Contains(err.Error(), "giving up after 2") {
			t.Errorf("ReadBlocks = %v; want an error after 2 reconnects naming Data-In out of order", err)
		}
		if n := tg.Conns(); n != 3 {
			t.Errorf("target saw %d connections; want 3 (1 + MaxReconnects)", n)
		}
	})
}

// TestScriptedR2T: R2Ts the initiator must refuse. A flood of R2Ts
// (far more than MaxOutstandingR2T=1, RFC 7143 §13.17) must end the
// connection rather than block the reader or queue without bound; an R2T
// outside the write, of length 0 or for a task we do not know is a
// protocol error. The WRITE is then
// redone on a new connection and the target ends up with the right data.
func TestScriptedR2T(t *testing.T) {
	const size = 64 << 10
	for _, c := range []struct {
		name string
		why  string // in the reconnect log line
		r2t  func(tc *tconn, cmd *tcmd)
	}{
		{"flood", "too many outstanding R2Ts", func(tc *tconn, cmd *tcmd) {
			// The target does not read while it floods, so the
			// initiator's sender soon blocks on a full socket.
			for i := range 1000 {
				tc.R2T(cmd.itt(), uint32(i+1), uint32(i), 0, size)
			}
		}},
		{"beyond the write", "outside the 65536-byte write", func(tc *tconn, cmd *tcmd) { tc.R2T(cmd.itt(), 1, 0, size-512, 1024) }},
		{"zero length", "length 0 outside", func(tc *tconn, cmd *tcmd) { tc.R2T(cmd.itt(), 1, 0, 0, 0) }},
		{"unknown task", "R2T for unknown task", func(tc *tconn, cmd *tcmd) { tc.R2T(cmd.itt()^1, 1, 0, 0, 512) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			tg := newScriptedTarget(t, scriptedSize)
			tg.immediateData = false
			tg.command = func(tc *tconn, cmd *tcmd) bool {
				if tc.n == 1 && cmd.isWrite() {
					c.r2t(tc, cmd)
					return true
				}
				return false
			}
			var mu sync.Mutex
			var logs []string
			cfg := tg.config(4)
			cfg.Logf = func(f string, a ...any) { mu.Lock(); logs = append(logs, sprintf(f, a...)); mu.Unlock() }
			d, err := Open(testContext(t), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			data := pattern(9, size)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := d.WriteBlocks(ctx, 64, data); err != nil {
				t.Fatalf("WriteBlocks = %v; want success on a new connection", err)
			}
			if got := tg.Disk()[64*512:][:size]; !bytes.Equal(got, data) {
				t.Errorf("target disk differs from the written data at byte %d", firstDiff(got, data))
			}
			if s := d.Stats(); s.Logins != 2 || s.Failures != 1 {
				t.Errorf("Stats() = %+v; want 2 logins, 1 failure", s)
			}
			mu.Lock()
			joined := strings.Join(logs, "\n")
			mu.Unlock()
			if !strings.Contains(joined, c.why) {
				t.Errorf("initiator log = %q; want the reconnect reason %q", joined, c.why)
			}
		})
	}
}

// TestScriptedStatSN: the initiator acknowledges the highest StatSN it has
// seen with ExpStatSN = StatSN+1 in every PDU (RFC 7143 §4.2.2.2), follows
// a forward jump, and never moves back for an older StatSN.
func TestScriptedStatSN(t *testing.T) {
	tg := newScriptedTarget(t, scriptedSize)
	var reads atomic.Int32
	var jumped, stale atomic.Uint32 // the target writes them, the test reads them
	tg.command = func(tc *tconn, cmd *tcmd) bool {
		if !cmd.isRead() || cmd.length() != 4096 {
			return false
		}
		data := tg.ReadData(cmd)
		switch reads.Add(1) {
		case 1: // StatSN jumps by 1000
			tc.JumpStatSN(1000)
			jumped.Store(tc.StatSN())
			tc.SendRead(cmd, data)
		case 2: // an older StatSN
			var h pdu.BHS
			h.SetOpcode(pdu.OpDataIn, false)
			h.SetFlags(pdu.FlagFinal | pdu.FlagStatus)
			h.SetITT(cmd.itt())
			h.SetTTT(pdu.TagNone)
			tc.Stamp(&h, true)
			stale.Store(jumped.Load() - 500)
			h.SetStatSN(stale.Load())
			tc.SendRaw(&h, data)
		default:
			tc.SendRead(cmd, data)
		}
		return true
	}
	d := tg.open(1)
	for range 3 {
		readBack(t, d, tg, 0, 4096)
	}
	var cmds []event
	for _, e := range tg.Events() {
		if e.op == pdu.OpSCSICmd && e.cdb0 == scsi.OpRead10 {
			cmds = append(cmds, e)
		}
	}
	if len(cmds) != 3 {
		t.Fatalf("target saw %d READs; want 3", len(cmds))
	}
	if j := jumped.Load(); cmds[1].expStatSN != j+1 {
		t.Errorf("ExpStatSN after StatSN jumped to %d = %d; want %d", j, cmds[1].expStatSN, j+1)
	}
	if j := jumped.Load(); cmds[2].expStatSN != j+1 {
		t.Errorf("ExpStatSN after an older StatSN %d = %d; want %d (unchanged)", stale.Load(), cmds[2].expStatSN, j+1)
	}
	if s := d.Stats(); s.Logins != 1 || s.Failures != 0 {
		t.Errorf("Stats() = %+v; want 1 login, no failures", s)
	}
	tg.clean(t)
}

// TestScriptedCmdSNWindow: the initiator sends a command only while CmdSN
// <= MaxCmdSN (RFC 7143 §4.2.2.1). The target closes the window
// (MaxCmdSN = ExpCmdSN-1) and reopens it later with a NOP-In; the target
// checks every command against the window it advertised.
func TestScriptedCmdSNWindow(t *testing.T) {
	const delay = 300 * time.Millisecond
	t.Run("closed at login", func(t *testing.T) {
		tg := newScriptedTarget(t, scriptedSize)
		var open atomic.Bool
		tg.window = func(tc *tconn) uint32 {
			if open.Load() {
				return tc.ExpCmdSN() + 31
			}
			return tc.ExpCmdSN() - 1
		}
		var wg sync.WaitGroup
		t.Cleanup(wg.Wait)
		tg.ready = func(tc *tconn) {
			wg.Go(func() {
				time.Sleep(delay)
				open.Store(true)
				tc.NOPIn(pdu.TagNone, pdu.TagNone, nil, true)
			})
		}
		start := time.Now()
		tg.open(4)
		if el := time.Since(start); el < delay {
			t.Errorf("Open took %v; want at least %v (no command before the window opens)", el, delay)
		}
		tg.clean(t)
	})
	t.Run("closes and reopens", func(t *testing.T) {
		// A window of four commands. At the third READ the target stops
		// moving MaxCmdSN, so the initiator uses up the window and then
		// sees MaxCmdSN = ExpCmdSN-1; an invalid pair (MaxCmdSN <
		// ExpCmdSN-1, to be ignored) seems to open it; a NOP-In opens it
		// for real after delay.
		tg := newScriptedTarget(t, scriptedSize)
		var frozen atomic.Int64 // MaxCmdSN+1 while frozen, else 0
		tg.window = func(tc *tconn) uint32 {
			if f := frozen.Load(); f != 0 {
				return uint32(f - 1)
			}
			return tc.ExpCmdSN() + 3
		}
		var reads atomic.Int32
		var wg sync.WaitGroup
		t.Cleanup(wg.Wait)
		var reopened atomic.Bool
		tg.command = func(tc *tconn, cmd *tcmd) bool {
			if !cmd.isRead() || reads.Add(1) != 3 {
				return false
			}
			frozen.Store(int64(tc.ExpCmdSN()+3) + 1)
			tc.SendRead(cmd, tg.ReadData(cmd))
			var h pdu.BHS
			h.SetOpcode(pdu.OpNOPIn, false)
			h.SetFlags(pdu.FlagFinal)
			h.SetITT(pdu.TagNone)
			h.SetTTT(pdu.TagNone)
			h.SetStatSN(tc.StatSN())
			h.SetExpCmdSN(tc.ExpCmdSN() + 1000)
			h.SetMaxCmdSN(tc.ExpCmdSN() + 900)
			tc.SendRaw(&h, nil)
			wg.Go(func() {
				time.Sleep(delay)
				reopened.Store(true)
				frozen.Store(0)
				tc.NOPIn(pdu.TagNone, pdu.TagNone, nil, true)
			})
			return true
		}
		d := tg.open(8)
		start := time.Now()
		// Sixteen 64 KiB READs (MaxBurstLength), up to eight in flight.
		readBack(t, d, tg, 0, 1<<20)
		if !reopened.Load() {
			t.Errorf("ReadBlocks completed before the window reopened")
		}
		if el := time.Since(start); el < delay {
			t.Errorf("ReadBlocks took %v; want at least %v (no command while the window is closed)", el, delay)
		}
		tg.clean(t)
	})
	t.Run("window of one", func(t *testing.T) {
		tg := newScriptedTarget(t, scriptedSize)
		tg.window = func(tc *tconn) uint32 { return tc.ExpCmdSN() }
		d := tg.open(16)
		readBack(t, d, tg, 0, 1<<20)
		tg.clean(t)
	})
}

// TestScriptedTargetPing: a NOP-In with a Target Transfer Tag asks for a
// NOP-Out with that tag, ITT 0xffffffff and the I bit (RFC 7143 §11.18).
func TestScriptedTargetPing(t *testing.T) {
	tg := newScriptedTarget(t, scriptedSize)
	tg.ready = func(tc *tconn) { tc.NOPIn(pdu.TagNone, 0x1234, nil, true) }
	d := tg.open(4)
	readBack(t, d, tg, 0, 4096)
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, e := range connEvents(tg, 1) {
			if e.op == pdu.OpNOPOut {
				if e.ttt != 0x1234 || e.itt != pdu.TagNone || !e.immediate {
					t.Errorf("NOP-Out answer: TTT 0x%x ITT 0x%x immediate %t; want TTT 0x1234, ITT 0xffffffff, immediate", e.ttt, e.itt, e.immediate)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no NOP-Out answered the target's ping; connection 1 PDUs = %v", ops(connEvents(tg, 1)))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
