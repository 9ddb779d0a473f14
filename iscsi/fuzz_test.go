package iscsi

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/snp-go/snp-go/chap"
	"github.com/snp-go/snp-go/iscsi/pdu"
	"github.com/snp-go/snp-go/iscsi/scsi"
)

// nopConn stands in for the socket of a conn driven by a fuzz test: fail
// only closes it.
type nopConn struct{ net.Conn }

func (nopConn) Close() error { return nil }

// Tasks registered by fuzzConn: a 16 KiB READ in slot 0 and a 16 KiB
// WRITE in slot 1, both of generation 1.
const (
	fuzzReadITT  = 0x00010000
	fuzzWriteITT = 0x00010001
)

// fuzzConn returns a conn in the full feature phase whose PDUs come from
// in, with a READ and a WRITE in flight and nothing running: the fuzz test
// calls readOne itself.
func fuzzConn(in []byte) (c *conn, rd, wr *task) {
	s, err := Config{Portal: "fuzz", Target: scriptedIQN, InitiatorName: testIQN, QueueDepth: 4,
		CommandTimeout: time.Millisecond}.resolve()
	if err != nil {
		panic(err)
	}
	c = &conn{s: s, portal: "fuzz", nc: nopConn{}, cmdSN: 1, maxCmdSN: 8,
		p: params{maxRecvDSL: 64 << 10, maxXmitDSL: 8192, maxBurst: 16 << 10, firstBurst: 8192,
			initialR2T: true, maxOutstandingR2T: 1}}
	c.r = pdu.NewReader(bytes.NewReader(in))
	c.bw = bufio.NewWriter(io.Discard)
	c.w = pdu.NewWriter(c.bw)
	c.fullFeature()
	for _, cmd := range []*command{
		{read: true, exact: true, buf: make([]byte, 16<<10)},
		{write: true, buf: make([]byte, 16<<10)},
	} {
		if cmd.read {
			scsi.Read(&cmd.cdb, 0, 32)
		} else {
			scsi.Write(&cmd.cdb, 0, 32)
		}
		t, err := c.claimTask(context.Background(), cmd)
		if err != nil {
			panic(err)
		}
		c.buildCommand(t, cmd)
		if cmd.read {
			rd = t
		} else {
			wr = t
		}
	}
	return c, rd, wr
}

// targetPDUs encodes PDUs as a target sends them.
func targetPDUs(pdus ...func(h *pdu.BHS) []byte) []byte {
	var b bytes.Buffer
	w := pdu.NewWriter(bufio.NewWriter(&b))
	for _, f := range pdus {
		var h pdu.BHS
		d := f(&h)
		w.Write(&h, d)
	}
	w.Flush()
	return b.Bytes()
}

func dataInPDU(itt uint32, off, sn uint32, n int, status bool, statSN uint32) func(*pdu.BHS) []byte {
	return func(h *pdu.BHS) []byte {
		h.SetOpcode(pdu.OpDataIn, false)
		if status {
			h.SetFlags(pdu.FlagFinal | pdu.FlagStatus)
		}
		h.SetITT(itt)
		h.SetTTT(pdu.TagNone)
		h.SetStatSN(statSN)
		h.SetExpCmdSN(3)
		h.SetMaxCmdSN(10)
		h.SetDataSN(sn)
		h.SetBufferOffset(off)
		return bytes.Repeat([]byte{byte(sn)}, n)
	}
}

func simplePDU(op pdu.Opcode, itt, ttt uint32, set func(h *pdu.BHS), data []byte) func(*pdu.BHS) []byte {
	return func(h *pdu.BHS) []byte {
		h.SetOpcode(op, false)
		h.SetFlags(pdu.FlagFinal)
		h.SetITT(itt)
		h.SetTTT(ttt)
		h.SetStatSN(5)
		h.SetExpCmdSN(3)
		h.SetMaxCmdSN(12)
		if set != nil {
			set(h)
		}
		return data
	}
}

// FuzzReadPDUs feeds arbitrary target PDUs to the full-feature receive
// path (readOne and its per-opcode handlers) with a READ and a WRITE in
// flight. Whatever arrives, it must not panic or block, data must stay
// inside the READ's buffer, and the sequence numbers must only move
// forward (RFC 7143 §4.2.2.1).
func FuzzReadPDUs(f *testing.F) {
	var rejected pdu.BHS
	rejected.SetOpcode(pdu.OpSCSICmd, false)
	rejected.SetITT(fuzzReadITT)
	f.Add(targetPDUs(
		dataInPDU(fuzzReadITT, 0, 0, 8192, false, 0),
		dataInPDU(fuzzReadITT, 8192, 1, 8192, true, 1),
		simplePDU(pdu.OpR2T, fuzzWriteITT, 7, func(h *pdu.BHS) { h.PutU32(44, 8192) }, nil),
		simplePDU(pdu.OpSCSIResp, fuzzWriteITT, 0, nil, []byte{0, 4, 0x70, 0, 6, 0}),
	))
	f.Add(targetPDUs(
		simplePDU(pdu.OpNOPIn, pdu.TagNone, 0x1234, nil, nil),
		simplePDU(pdu.OpNOPIn, pingITT, pdu.TagNone, nil, []byte("ping")),
		simplePDU(pdu.OpAsync, pdu.TagNone, 0, func(h *pdu.BHS) { h[36] = pdu.AsyncSCSIEvent }, []byte{0, 2, 0x70, 0}),
		simplePDU(pdu.OpReject, pdu.TagNone, 0, func(h *pdu.BHS) { h[2] = pdu.RejectDataDigest }, rejected[:]),
		simplePDU(pdu.OpAsync, pdu.TagNone, 0, func(h *pdu.BHS) { h[36] = pdu.AsyncLogoutRequest }, nil),
		simplePDU(pdu.OpLogoutResp, logoutITT, 0, nil, nil),
	))
	f.Add(targetPDUs(
		dataInPDU(fuzzReadITT, 8192, 0, 8192, false, 0),
		simplePDU(pdu.OpR2T, fuzzWriteITT, 7, func(h *pdu.BHS) { h.PutU32(40, 16000); h.PutU32(44, 8192) }, nil),
	))
	f.Fuzz(func(t *testing.T, in []byte) {
		c, rd, wr := fuzzConn(in)
		sentinel := bytes.Repeat([]byte{0xa5}, 4)
		rdBuf := rd.buf[:cap(rd.buf)]
		full := append(rdBuf, sentinel...) // bytes past the buffer must stay
		rd.buf = full[:len(rdBuf)]
		for i := 0; i < 256; i++ {
			c.mu.Lock()
			stat, exp, maxSN := c.statSN, c.expCmdSN, c.maxCmdSN
			c.mu.Unlock()
			err := c.readOne()
			c.mu.Lock()
			if snLT(c.statSN, stat) || snLT(c.expCmdSN, exp) || snLT(c.maxCmdSN, maxSN) {
				t.Fatalf("PDU %d moved StatSN %d->%d, ExpCmdSN %d->%d or MaxCmdSN %d->%d backwards",
					i, stat, c.statSN, exp, c.expCmdSN, maxSN, c.maxCmdSN)
			}
			c.mu.Unlock()
			for _, tk := range []*task{rd, wr} {
				if tk.received > len(tk.buf) || len(tk.done) > 1 {
					t.Fatalf("PDU %d: task 0x%x received %d of %d bytes, done %d", i, tk.itt, tk.received, len(tk.buf), len(tk.done))
				}
			}
			if !bytes.Equal(full[len(rdBuf):], sentinel) {
				t.Fatalf("PDU %d wrote past the READ's buffer", i)
			}
			if err != nil {
				return
			}
		}
	})
}

// FuzzLogin plays an arbitrary target against the login phase (text
// parsing, stage transitions, CHAP, operational negotiation). It must end
// with an error or with parameters inside what RFC 7143 §13 allows.
func FuzzLogin(f *testing.F) {
	resp := func(transit bool, csg, nsg uint8, text string) func(*pdu.BHS) []byte {
		return func(h *pdu.BHS) []byte {
			h.SetOpcode(pdu.OpLoginResp, false)
			h.SetLogin(transit, false, csg, nsg)
			h.SetITT(loginITT)
			h.SetTSIH(7)
			return []byte(text)
		}
	}
	ok := targetPDUs(
		resp(true, stageSecurity, stageOperational, "AuthMethod=None\x00TargetPortalGroupTag=1\x00"),
		resp(true, stageOperational, stageFullFeature, "HeaderDigest=None\x00DataDigest=None\x00InitialR2T=Yes\x00"+
			"ImmediateData=Yes\x00MaxRecvDataSegmentLength=8192\x00MaxBurstLength=65536\x00FirstBurstLength=16384\x00"+
			"DefaultTime2Wait=0\x00DefaultTime2Retain=0\x00MaxOutstandingR2T=1\x00DataPDUInOrder=Yes\x00"+
			"DataSequenceInOrder=Yes\x00ErrorRecoveryLevel=0\x00MaxConnections=1\x00Foo=Bar\x00"),
	)
	f.Add(ok, uint8(0))
	f.Add(targetPDUs(
		resp(false, stageSecurity, stageOperational, "AuthMethod=CHAP\x00"),
		resp(false, stageSecurity, stageOperational, "CHAP_A=5\x00CHAP_I=3\x00CHAP_C=0x0102030405060708\x00"),
		resp(true, stageSecurity, stageOperational, "CHAP_N=tgt\x00CHAP_R=0x00\x00"),
	), uint8(2))
	f.Add(targetPDUs(resp(true, stageSecurity, stageFullFeature, "TargetAddress=10.0.0.1:3260,1\x00")), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, auth uint8) {
		cfg := Config{Portal: "fuzz", Target: scriptedIQN, InitiatorName: testIQN}
		switch auth % 3 {
		case 1:
			cfg.Credentials = chap.Credentials{Username: "ini", Password: chap.NewSecret("initiator-secret")}
		case 2:
			cfg.Credentials = chap.Credentials{Username: "ini", Password: chap.NewSecret("initiator-secret"),
				ReverseUsername: "tgt", ReversePassword: chap.NewSecret("target-secret")}
		}
		s, err := cfg.resolve()
		if err != nil {
			t.Fatal(err)
		}
		c := &conn{s: s, portal: "fuzz", nc: nopConn{}, cmdSN: 1}
		c.r = pdu.NewReader(bytes.NewReader(in))
		c.r.MaxDataLen = s.MaxRecvDataSegmentLength
		c.bw = bufio.NewWriter(io.Discard)
		c.w = pdu.NewWriter(c.bw)
		if err := c.login(); err != nil {
			return
		}
		p := c.p
		if p.maxXmitDSL < 512 || p.maxXmitDSL > pdu.MaxDataSegmentLength || p.maxBurst < 512 ||
			p.maxBurst > s.MaxTransferLength || p.firstBurst > p.maxBurst || p.maxOutstandingR2T != 1 {
			t.Fatalf("login accepted parameters outside the offers: %+v", p)
		}
	})
}

func TestSerialNumbers(t *testing.T) {
	for _, c := range []struct {
		a, b   uint32
		lt, le bool
	}{
		{1, 2, true, true},
		{2, 1, false, false},
		{5, 5, false, true},
		{0xffffffff, 0, true, true}, // wraps
		{0, 0xffffffff, false, false},
		{0, 1<<31 - 1, true, true},
		{0, 1 << 31, false, false}, // exactly 2^31 apart: not ordered
		{1 << 31, 0, false, false},
	} {
		if got := snLT(c.a, c.b); got != c.lt {
			t.Errorf("snLT(%#x, %#x) = %t; want %t", c.a, c.b, got, c.lt)
		}
		if got := snLE(c.a, c.b); got != c.le {
			t.Errorf("snLE(%#x, %#x) = %t; want %t", c.a, c.b, got, c.le)
		}
	}
}
