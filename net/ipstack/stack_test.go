package ipstack_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	stdnet "net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/snp-go/snp-go/net/ipstack"
	"github.com/snp-go/snp-go/net/nettest"
)

// serveSink accepts connections on h:port and, for each, writes size
// pseudo-random bytes followed by close.
func serveSource(t testing.TB, h *nettest.Host, port uint16, size int) {
	t.Helper()
	ln, err := h.Stack.ListenTCP(netip.AddrPortFrom(h.Addr, port))
	if err != nil {
		t.Fatalf("ListenTCP: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, io.LimitReader(newPattern(), int64(size)))
			}()
		}
	}()
}

// pattern is a deterministic byte stream for integrity checks.
type pattern struct{ x uint32 }

func newPattern() *pattern { return &pattern{x: 1} }
func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		p.x = p.x*1664525 + 1013904223
		b[i] = byte(p.x >> 24)
	}
	return len(b), nil
}

func patternSum(size int) [32]byte {
	h := sha256.New()
	io.Copy(h, io.LimitReader(newPattern(), int64(size)))
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

// fetchAll downloads everything from to; idle bounds the silence between
// two reads (a dead receive path looks like a silent connection).
func fetchAll(t testing.TB, h *nettest.Host, to netip.AddrPort, idle time.Duration) ([32]byte, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := h.Stack.DialTCP(ctx, netip.AddrPort{}, to)
	if err != nil {
		return [32]byte{}, 0, err
	}
	defer c.Close()
	sum := sha256.New()
	buf := make([]byte, 32<<10)
	n := 0
	for {
		c.SetReadDeadline(time.Now().Add(idle))
		var m int
		m, err = c.Read(buf)
		sum.Write(buf[:m])
		n += m
		if err != nil {
			break
		}
	}
	if err == io.EOF {
		err = nil
	}
	var s [32]byte
	copy(s[:], sum.Sum(nil))
	return s, int(n), err
}

func TestTCPTransferIntegrity(t *testing.T) {
	a, b := nettest.Pair(t, nettest.HostOptions{}, nettest.HostOptions{})
	const size = 3 << 20
	serveSource(t, b, 8080, size)
	start := time.Now()
	sum, n, err := fetchAll(t, a, netip.AddrPortFrom(b.Addr, 8080), 20*time.Second)
	if err != nil {
		t.Fatalf("download: %v after %d bytes", err, n)
	}
	if n != size || sum != patternSum(size) {
		t.Fatalf("download got %d bytes sha256 %x; want %d bytes sha256 %x", n, sum, size, patternSum(size))
	}
	t.Logf("%d bytes in %v (%.1f MB/s)", n, time.Since(start), float64(n)/time.Since(start).Seconds()/1e6)
}

func TestDialRefused(t *testing.T) {
	a, b := nettest.Pair(t, nettest.HostOptions{}, nettest.HostOptions{})
	_, err := a.Stack.DialTCP(context.Background(), netip.AddrPort{}, netip.AddrPortFrom(b.Addr, 9))
	var op *stdnet.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Fatalf("DialTCP to closed port = %v; want *net.OpError dial (connection refused)", err)
	}
}

func TestReceiveBudgetSplit(t *testing.T) {
	a, b := nettest.Pair(t, nettest.HostOptions{}, nettest.HostOptions{})
	ln, err := b.Stack.ListenTCP(netip.AddrPortFrom(b.Addr, 7))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	dial := func() *ipstack.TCPConn {
		c, err := a.Stack.DialTCP(context.Background(), netip.AddrPort{}, netip.AddrPortFrom(b.Addr, 7))
		if err != nil {
			t.Fatalf("DialTCP: %v", err)
		}
		return c
	}
	c1 := dial()
	if got, want := c1.ReceiveBuffer(), ipstack.DefaultReceiveBuffer; got != want {
		t.Errorf("one connection: ReceiveBuffer() = %d; want %d", got, want)
	}
	c2 := dial()
	for _, c := range []*ipstack.TCPConn{c1, c2} {
		if got, want := c.ReceiveBuffer(), ipstack.DefaultReceiveBudget/2; got != want {
			t.Errorf("two connections: ReceiveBuffer() = %d; want %d", got, want)
		}
	}
	c2.Close()
	if got, want := c1.ReceiveBuffer(), ipstack.DefaultReceiveBuffer; got != want {
		t.Errorf("after closing one: ReceiveBuffer() = %d; want %d", got, want)
	}
	c1.Close()
}

// stallNIC emulates a firmware app that is busy now and then: during a pause
// Receive reports nothing pending, so frames pile up in the port's ring.
type stallNIC struct {
	ipstack.NIC
	run, pause time.Duration
	mu         sync.Mutex
	next       time.Time
	until      time.Time
}

func (s *stallNIC) Receive(b []byte) (int, error) {
	s.mu.Lock()
	now := time.Now()
	if s.next.IsZero() {
		s.next = now.Add(s.run)
	}
	if now.After(s.next) {
		s.until = now.Add(s.pause)
		s.next = s.until.Add(s.run)
	}
	paused := now.Before(s.until)
	s.mu.Unlock()
	if paused {
		return 0, nil
	}
	return s.NIC.Receive(b)
}

// TestRingNeverOverflows is the U-Boot 32-frame ring rule: with the default
// receive budget a download through a receiver that pauses polling for 5 ms
// at a time never queues more than 32 frames; with a 1 MiB receive buffer the same
// download overflows the ring and the link dies (so the test can fail).
func TestRingNeverOverflows(t *testing.T) {
	for _, tc := range []struct {
		name     string
		stack    ipstack.Options
		conns    int
		size     int
		overflow bool
	}{
		{name: "default-1conn", conns: 1, size: 2 << 20},
		{name: "default-3conns", conns: 3, size: 2 << 20},
		{name: "1MiB-rcvbuf", stack: ipstack.Options{ReceiveBuffer: 1 << 20, ReceiveBudget: 1 << 20}, conns: 1, size: 16 << 20, overflow: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring := ipstack.PortOptions{RingLimit: 32, DieOnOverflow: true}
			stall := func(n ipstack.NIC) ipstack.NIC {
				return &stallNIC{NIC: n, run: 3 * time.Millisecond, pause: 5 * time.Millisecond}
			}
			a, b := nettest.Pair(t, nettest.HostOptions{Port: ring, Stack: tc.stack, NIC: stall}, nettest.HostOptions{})
			size := tc.size
			serveSource(t, b, 80, size)
			// The idle limit is generous for loaded CI machines; with the
			// ring dead a connection stays silent forever.
			idle := 5 * time.Second
			if tc.overflow {
				idle = time.Second
			}
			var wg sync.WaitGroup
			errs := make([]error, tc.conns)
			for i := range tc.conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sum, n, err := fetchAll(t, a, netip.AddrPortFrom(b.Addr, 80), idle)
					if err == nil && (n != size || sum != patternSum(size)) {
						err = errors.New("corrupt download")
					}
					errs[i] = err
				}()
			}
			wg.Wait()
			st := a.Port.Stats()
			t.Logf("ring high water %d frames, overflows %d, dead %v", st.HighWater, st.Overflows, st.Dead)
			if tc.overflow {
				if st.Overflows == 0 {
					t.Fatalf("1 MiB receive buffer: ring never overflowed (high water %d); the emulation is not exercising the limit", st.HighWater)
				}
				return
			}
			for i, err := range errs {
				if err != nil {
					t.Errorf("connection %d: %v", i, err)
				}
			}
			if st.Overflows != 0 || st.HighWater > 32 {
				t.Errorf("ring: high water %d, overflows %d; want <= 32 and 0", st.HighWater, st.Overflows)
			}
		})
	}
}

func TestPing(t *testing.T) {
	a, b := nettest.Pair(t, nettest.HostOptions{}, nettest.HostOptions{})
	var replies []ipstack.PingReply
	st, err := a.Stack.Ping(context.Background(), b.Addr, ipstack.PingOptions{
		Count: 3, Interval: 10 * time.Millisecond, Size: 100,
		OnReply: func(r ipstack.PingReply) { replies = append(replies, r) },
	})
	if err != nil {
		t.Fatalf("Ping(%v) = %v", b.Addr, err)
	}
	if st.Sent != 3 || st.Received != 3 || len(replies) != 3 {
		t.Fatalf("Ping stats = %+v, %d replies; want 3 sent, 3 received", st, len(replies))
	}
	for i, r := range replies {
		if r.Seq != i+1 || r.From != b.Addr || r.Size != 100 || r.RTT <= 0 {
			t.Errorf("reply %d = %+v; want seq %d from %v size 100", i, r, i+1, b.Addr)
		}
	}
	// Nobody at .9: ARP fails, no reply.
	_, err = a.Stack.Ping(context.Background(), netip.MustParseAddr("10.0.0.9"), ipstack.PingOptions{Count: 1, Timeout: 200 * time.Millisecond})
	if err == nil {
		t.Fatal("Ping(10.0.0.9) with no host = nil error; want no reply error")
	}
}

func TestSocketTypes(t *testing.T) {
	a, b := nettest.Pair(t, nettest.HostOptions{}, nettest.HostOptions{})
	ctx := context.Background()
	l, err := b.Stack.Socket(ctx, "tcp", true, &stdnet.TCPAddr{Port: 5000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, ok := l.(stdnet.Listener)
	if !ok {
		t.Fatalf("Socket(tcp, laddr only) = %T; want net.Listener", l)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("hello"))
			c.Close()
		}
	}()
	c, err := a.Stack.Socket(ctx, "tcp", true, nil, &stdnet.TCPAddr{IP: b.Addr.AsSlice(), Port: 5000})
	if err != nil {
		t.Fatal(err)
	}
	conn, ok := c.(stdnet.Conn)
	if !ok {
		t.Fatalf("Socket(tcp, raddr) = %T; want net.Conn", c)
	}
	got, _ := io.ReadAll(conn)
	conn.Close()
	if string(got) != "hello" {
		t.Errorf("read %q; want hello", got)
	}

	p, err := b.Stack.Socket(ctx, "udp", false, &stdnet.UDPAddr{Port: 5353}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pc, ok := p.(stdnet.PacketConn)
	if !ok {
		t.Fatalf("Socket(udp, laddr only) = %T; want net.PacketConn", p)
	}
	defer pc.Close()
	u, err := a.Stack.Socket(ctx, "udp", false, nil, &stdnet.UDPAddr{IP: b.Addr.AsSlice(), Port: 5353})
	if err != nil {
		t.Fatal(err)
	}
	uc := u.(stdnet.Conn)
	defer uc.Close()
	uc.Write([]byte("ping"))
	buf := make([]byte, 16)
	pc.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, from, err := pc.ReadFrom(buf)
	if err != nil || !bytes.Equal(buf[:n], []byte("ping")) {
		t.Fatalf("ReadFrom = %q, %v; want ping", buf[:n], err)
	}
	if ua, ok := from.(*stdnet.UDPAddr); !ok || !ua.IP.Equal(a.Addr.AsSlice()) {
		t.Errorf("ReadFrom source = %v; want %v", from, a.Addr)
	}
}

func BenchmarkTCPThroughput(b *testing.B) {
	for _, rb := range []int{16 << 10, 32 << 10, 64 << 10} {
		b.Run(byteSize(rb), func(b *testing.B) {
			o := ipstack.Options{ReceiveBuffer: rb, ReceiveBudget: rb}
			x, y := nettest.Pair(b, nettest.HostOptions{Stack: o, Port: ipstack.PortOptions{RingLimit: 32}}, nettest.HostOptions{})
			const size = 8 << 20
			serveSource(b, y, 80, size)
			b.SetBytes(size)
			b.ResetTimer()
			for range b.N {
				_, n, err := fetchAll(b, x, netip.AddrPortFrom(y.Addr, 80), time.Minute)
				if err != nil || n != size {
					b.Fatalf("download: %d bytes, %v", n, err)
				}
			}
			b.ReportMetric(float64(x.Port.Stats().Overflows), "overflows")
		})
	}
}

func byteSize(n int) string {
	return map[int]string{16 << 10: "rcvbuf=16KiB", 32 << 10: "rcvbuf=32KiB", 64 << 10: "rcvbuf=64KiB"}[n]
}

// TestBootstrapBroadcast: an unconfigured interface sends from 0.0.0.0 to
// 255.255.255.255 and a configured peer (reconfigured once, which must not
// drop its limited-broadcast address) receives it and answers by broadcast.
func TestBootstrapBroadcast(t *testing.T) {
	w := ipstack.NewWire()
	client := nettest.AddHost(t, w, 1, nettest.HostOptions{})
	server := nettest.AddHost(t, w, 2, nettest.HostOptions{Prefix: netip.MustParsePrefix("10.0.0.2/24")})
	if err := server.If.Configure(ipstack.Config{Address: netip.MustParsePrefix("10.0.0.2/24")}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.Stack.ListenUDPBroadcast(server.If, netip.MustParseAddrPort("0.0.0.0:67"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := client.If.BootstrapUDP(68)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bcast := func(port int) *stdnet.UDPAddr { return &stdnet.UDPAddr{IP: stdnet.IPv4bcast, Port: port} }
	if _, err := c.WriteTo([]byte("discover"), bcast(67)); err != nil {
		t.Fatalf("bootstrap WriteTo broadcast: %v", err)
	}
	buf := make([]byte, 64)
	srv.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, from, err := srv.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "discover" || from.String() != "0.0.0.0:68" {
		t.Fatalf("server ReadFrom = %q from %v, %v; want discover from 0.0.0.0:68", buf[:n], from, err)
	}
	if _, err := srv.WriteTo([]byte("offer"), bcast(68)); err != nil {
		t.Fatalf("server broadcast reply: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err = c.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "offer" {
		t.Fatalf("bootstrap ReadFrom = %q, %v; want offer", buf[:n], err)
	}
}

func TestRemoveInterface(t *testing.T) {
	w := ipstack.NewWire()
	s, err := ipstack.NewStack(ipstack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.AddInterface("net0", w.NewPort(stdnet.HardwareAddr{2, 0, 0, 0, 0, byte(len(s.Interfaces()) + 1)}, ipstack.PortOptions{})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddInterface("net0-5", w.NewPort(stdnet.HardwareAddr{2, 0, 0, 0, 0, byte(len(s.Interfaces()) + 1)}, ipstack.PortOptions{})); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveInterface("net0-5"); err != nil {
		t.Fatalf("RemoveInterface(net0-5) = %v", err)
	}
	if s.Interface("net0-5") != nil || s.Interface("net0") == nil || len(s.Interfaces()) != 1 {
		t.Errorf("after removal interfaces = %v", s.Interfaces())
	}
	if err := s.RemoveInterface("net0-5"); err == nil {
		t.Errorf("RemoveInterface of a removed interface succeeded")
	}
	// The name can be used again.
	if _, err := s.AddInterface("net0-5", w.NewPort(stdnet.HardwareAddr{2, 0, 0, 0, 0, byte(len(s.Interfaces()) + 1)}, ipstack.PortOptions{})); err != nil {
		t.Errorf("re-adding net0-5: %v", err)
	}
}

// TestTCPConnReadWakeups: a Read blocked on a quiet connection returns at
// its deadline (also one set while it waits), returns io.EOF when the
// peer closes, and returns when its own connection is closed under it.
func TestTCPConnReadWakeups(t *testing.T) {
	a, b := nettest.Pair(t, nettest.HostOptions{}, nettest.HostOptions{})
	ln, err := b.Stack.ListenTCP(netip.AddrPortFrom(b.Addr, 7070))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan stdnet.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() (*ipstack.TCPConn, stdnet.Conn) {
		t.Helper()
		c, err := a.Stack.DialTCP(context.Background(), netip.AddrPort{}, netip.AddrPortFrom(b.Addr, 7070))
		if err != nil {
			t.Fatal(err)
		}
		return c, <-accepted
	}
	blockedRead := func(c stdnet.Conn) <-chan error {
		done := make(chan error, 1)
		go func() {
			_, err := c.Read(make([]byte, 16))
			done <- err
		}()
		time.Sleep(50 * time.Millisecond) // let it block
		return done
	}
	wait := func(what string, done <-chan error) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Read still blocked after 5 s", what)
			return nil
		}
	}

	c, peer := dial()
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if err := wait("deadline", blockedRead(c)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read past its deadline = %v; want os.ErrDeadlineExceeded", err)
	}
	c.SetReadDeadline(time.Time{})
	done := blockedRead(c)
	c.SetDeadline(time.Now().Add(50 * time.Millisecond)) // set while it waits
	if err := wait("deadline set while blocked", done); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read with a deadline set while it waited = %v; want os.ErrDeadlineExceeded", err)
	}
	c.SetDeadline(time.Time{})
	peer.Write([]byte("hi"))
	if buf := make([]byte, 16); true {
		if n, err := c.Read(buf); err != nil || string(buf[:n]) != "hi" {
			t.Errorf("Read after the deadline was cleared = %q, %v; want \"hi\"", buf[:n], err)
		}
	}
	done = blockedRead(c)
	peer.Close()
	if err := wait("peer closed", done); err != io.EOF {
		t.Errorf("Read when the peer closed = %v; want io.EOF", err)
	}
	c.Close()

	c, peer = dial()
	defer peer.Close()
	done = blockedRead(c)
	c.Close()
	if err := wait("own close", done); err == nil {
		t.Errorf("Read on a connection closed under it = nil error; want an error")
	}
}
