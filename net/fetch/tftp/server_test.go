package tftp

import (
	"encoding/binary"
	stdnet "net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer is a small RFC 1350/2347/2348/2349 read-only server used to
// exercise the client: each request is served from a fresh socket (a new
// transfer ID), with knobs to misbehave.
type testServer struct {
	t      testing.TB
	listen func(netip.AddrPort) (stdnet.PacketConn, error)
	conn   stdnet.PacketConn
	addr   netip.AddrPort
	files  map[string][]byte

	maxBlock   int           // cap on the granted blksize (0: as asked)
	ignoreOpts bool          // behave like a pure RFC 1350 server
	refuseOpts bool          // answer option requests with ERROR 8
	sameTID    bool          // answer from the listening port (as slirp does)
	mute       bool          // never answer
	stopAfter  int           // stop answering after sending this block (0: never)
	dropOnce   map[int]bool  // DATA blocks whose first transmission is lost
	delay      time.Duration // pause before each DATA block
	stranger   bool          // inject a DATA block from another port after block 2
	resend     time.Duration // retransmission timeout (default 100 ms)
	tsizeDelta int           // added to the announced tsize

	mu        sync.Mutex
	requests  []string // file names asked for
	reqOpts   []map[string]string
	clientErr []uint16    // ERROR codes the client sent
	strangerG chan []byte // what the stranger socket got back
	ackCh     chan []byte // sameTID: client packets seen by the listener
	wg        sync.WaitGroup
}

func newTestServer(t testing.TB, listen func(netip.AddrPort) (stdnet.PacketConn, error), bind netip.AddrPort, files map[string][]byte) *testServer {
	s := &testServer{t: t, listen: listen, files: files, resend: 100 * time.Millisecond, strangerG: make(chan []byte, 1), ackCh: make(chan []byte, 16)}
	c, err := listen(bind)
	if err != nil {
		t.Fatal(err)
	}
	s.conn = c
	s.addr = addrPort(c.LocalAddr())
	if !s.addr.Addr().IsValid() || s.addr.Addr().IsUnspecified() {
		s.addr = netip.AddrPortFrom(bind.Addr(), s.addr.Port())
	}
	return s
}

// start serves until the test ends.
func (s *testServer) start() *testServer {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		buf := make([]byte, 2048)
		for {
			n, from, err := s.conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if s.sameTID && n >= 2 && binary.BigEndian.Uint16(buf) != opRRQ {
				s.note(buf[:n])
				continue // for the transfer goroutine
			}
			if n < 2 || binary.BigEndian.Uint16(buf) != opRRQ || s.mute {
				continue
			}
			f := strings.Split(string(buf[2:n]), "\x00")
			opts := map[string]string{}
			for i := 2; i+1 < len(f); i += 2 {
				opts[strings.ToLower(f[i])] = f[i+1]
			}
			s.mu.Lock()
			s.requests = append(s.requests, f[0])
			s.reqOpts = append(s.reqOpts, opts)
			s.mu.Unlock()
			s.wg.Add(1)
			go s.serve(addrPort(from), f[0], opts)
		}
	}()
	s.t.Cleanup(func() { s.conn.Close(); s.wg.Wait() })
	return s
}

func (s *testServer) note(b []byte) {
	select {
	case s.ackCh <- append([]byte(nil), b...):
	default:
	}
}

func (s *testServer) serve(client netip.AddrPort, name string, opts map[string]string) {
	defer s.wg.Done()
	var conn stdnet.PacketConn
	if s.sameTID {
		conn = s.conn
	} else {
		c, err := s.listen(netip.AddrPortFrom(s.addr.Addr(), 0))
		if err != nil {
			s.t.Error(err)
			return
		}
		defer c.Close()
		conn = c
	}
	to := stdnet.UDPAddrFromAddrPort(client)
	send := func(b []byte) { conn.WriteTo(b, to) }
	// recv waits for a packet from the client; ok false on timeout.
	buf := make([]byte, 2048)
	recv := func(d time.Duration) ([]byte, bool) {
		if s.sameTID {
			select {
			case b := <-s.ackCh:
				return b, true
			case <-time.After(d):
				return nil, false
			}
		}
		conn.SetReadDeadline(time.Now().Add(d))
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return nil, false
			}
			if addrPort(from) == client {
				return buf[:n], true
			}
		}
	}
	data, ok := s.files[name]
	if !ok {
		send(errPacket(ErrFileNotFound, "File not found"))
		return
	}
	blk := 512
	if len(opts) > 0 && !s.ignoreOpts {
		if s.refuseOpts {
			send(errPacket(ErrOptionRefused, "options refused"))
			return
		}
		var oack []byte
		oack = binary.BigEndian.AppendUint16(oack, opOACK)
		if v, ok := opts["blksize"]; ok {
			blk, _ = strconv.Atoi(v)
			if s.maxBlock > 0 && blk > s.maxBlock {
				blk = s.maxBlock
			}
			oack = append(oack, "blksize\x00"+strconv.Itoa(blk)+"\x00"...)
		}
		if _, ok := opts["tsize"]; ok {
			oack = append(oack, "tsize\x00"+strconv.Itoa(len(data)+s.tsizeDelta)+"\x00"...)
		}
		if !s.waitAck(send, recv, oack, 0) {
			return
		}
	}
	for b := 1; ; b++ {
		off := (b - 1) * blk
		chunk := data[min(off, len(data)):min(off+blk, len(data))]
		pkt := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, opDATA), uint16(b))
		pkt = append(pkt, chunk...)
		if s.delay > 0 {
			time.Sleep(s.delay)
		}
		first := pkt
		if s.dropOnce[b] {
			first = nil
		}
		if !s.waitAck(send, recv, first, uint16(b), pkt) {
			return
		}
		if b == 2 && s.stranger {
			s.injectStranger(client, pkt)
		}
		if s.stopAfter > 0 && b >= s.stopAfter {
			return
		}
		if len(chunk) < blk {
			return
		}
	}
}

// waitAck sends pkt (or nothing when pkt is nil, then retry[0] on
// retransmission) until the client acknowledges block; false when the
// client gave up, sent an ERROR or never answered.
func (s *testServer) waitAck(send func([]byte), recv func(time.Duration) ([]byte, bool), pkt []byte, block uint16, retry ...[]byte) bool {
	re := pkt
	if len(retry) > 0 {
		re = retry[0]
	}
	if pkt != nil {
		send(pkt)
	}
	for tries := 0; tries < 20; {
		b, ok := recv(s.resend)
		if !ok {
			tries++
			send(re)
			continue
		}
		if len(b) >= 4 && binary.BigEndian.Uint16(b) == opERROR {
			s.mu.Lock()
			s.clientErr = append(s.clientErr, binary.BigEndian.Uint16(b[2:]))
			s.mu.Unlock()
			return false
		}
		if len(b) == 4 && binary.BigEndian.Uint16(b) == opACK {
			switch binary.BigEndian.Uint16(b[2:]) {
			case block:
				return true
			case block - 1:
				send(re) // duplicate ACK: the client missed our packet
			}
		}
	}
	return false
}

// injectStranger sends a copy of pkt with garbage from a third port and
// records the client's answer.
func (s *testServer) injectStranger(client netip.AddrPort, pkt []byte) {
	c, err := s.listen(netip.AddrPortFrom(s.addr.Addr(), 0))
	if err != nil {
		s.t.Error(err)
		return
	}
	defer c.Close()
	bad := append([]byte(nil), pkt[:4]...)
	binary.BigEndian.PutUint16(bad[2:], binary.BigEndian.Uint16(pkt[2:])+1)
	bad = append(bad, strings.Repeat("X", len(pkt)-4)...)
	c.WriteTo(bad, stdnet.UDPAddrFromAddrPort(client))
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 600)
	n, _, err := c.ReadFrom(buf)
	if err == nil {
		s.strangerG <- append([]byte(nil), buf[:n]...)
	}
}

func (s *testServer) errsFromClient() []uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint16(nil), s.clientErr...)
}
