package vlan

import (
	"bytes"
	"context"
	stdnet "net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"

	"github.com/snp-go/snp-go/net/dhcp"
	"github.com/snp-go/snp-go/net/ipstack"
	"github.com/snp-go/snp-go/net/nettest"
)

func TestTagRoundTrip(t *testing.T) {
	frame := append(bytes.Repeat([]byte{0xaa}, 6), 1, 2, 3, 4, 5, 6, 0x08, 0x00, 'p', 'a', 'y')
	for _, tc := range []struct {
		vid uint16
		pcp uint8
	}{{1, 0}, {5, 3}, {4094, 7}} {
		tagged := Insert(nil, frame, tc.vid, tc.pcp)
		if len(tagged) != len(frame)+4 || tagged[12] != 0x81 || tagged[13] != 0x00 {
			t.Fatalf("Insert(vid %d) = %x; want TPID 8100 after the MACs", tc.vid, tagged)
		}
		got, err := Parse(tagged)
		if err != nil || got != (Frame{Tagged: true, VID: tc.vid, PCP: tc.pcp}) {
			t.Errorf("Parse(Insert(vid %d pcp %d)) = %+v, %v", tc.vid, tc.pcp, got, err)
		}
		if back := Strip(append([]byte(nil), tagged...)); !bytes.Equal(back, frame) {
			t.Errorf("Strip(Insert(frame)) = %x; want %x", back, frame)
		}
	}
	if f, err := Parse(frame); err != nil || f.Tagged {
		t.Errorf("Parse(untagged) = %+v, %v", f, err)
	}
	for _, bad := range [][]byte{frame[:10], append(frame[:12:12], 0x81, 0x00, 0)} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%x) = nil error; want truncation error", bad)
		}
	}
}

// sniffer records every frame on the wire.
type sniffer struct {
	mu     sync.Mutex
	frames [][]byte
}

func (s *sniffer) opts() ipstack.PortOptions {
	return ipstack.PortOptions{Promiscuous: true, Drop: func(f []byte) bool {
		s.mu.Lock()
		s.frames = append(s.frames, append([]byte(nil), f...))
		s.mu.Unlock()
		return true
	}}
}

// count returns how many frames from src carried tag vid (0: untagged).
func (s *sniffer) count(src stdnet.HardwareAddr, vid uint16) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.frames {
		tag, err := Parse(f)
		if err != nil || !bytes.Equal(f[6:12], src) {
			continue
		}
		if (vid == 0 && !tag.Tagged) || (tag.Tagged && tag.VID == vid) {
			n++
		}
	}
	return n
}

type vhost struct {
	stack  *ipstack.Stack
	mux    *Mux
	native *ipstack.Interface
	vlan   *ipstack.Interface
	mac    stdnet.HardwareAddr
}

// newVHost builds a stack with net0 (untagged) and net0-<vid> on one port.
func newVHost(t *testing.T, w *ipstack.Wire, n byte, vid uint16, native, tagged string) *vhost {
	t.Helper()
	port := w.NewPort(nettest.MAC(n), ipstack.PortOptions{})
	m := NewMux(port)
	t.Cleanup(func() { m.Close() })
	s, err := ipstack.NewStack(ipstack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h := &vhost{stack: s, mux: m, mac: port.MAC()}
	if h.native, err = s.AddInterface("net0", m.Native()); err != nil {
		t.Fatal(err)
	}
	vn, err := m.VLAN(vid, 0)
	if err != nil {
		t.Fatal(err)
	}
	if h.vlan, err = s.AddInterface("net0-5", vn); err != nil {
		t.Fatal(err)
	}
	for ifc, p := range map[*ipstack.Interface]string{h.native: native, h.vlan: tagged} {
		if p != "" {
			if err := ifc.Configure(ipstack.Config{Address: netip.MustParsePrefix(p)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return h
}

func ping(s *ipstack.Stack, dst string) error {
	_, err := s.Ping(context.Background(), netip.MustParseAddr(dst), ipstack.PingOptions{Count: 1, Timeout: 300 * time.Millisecond})
	return err
}

func TestVLANTrafficAndIsolation(t *testing.T) {
	w := ipstack.NewWire()
	var sn sniffer
	w.NewPort(nettest.MAC(99), sn.opts())
	a := newVHost(t, w, 1, 5, "10.0.0.1/24", "10.5.0.1/24")
	b := newVHost(t, w, 2, 5, "10.0.0.2/24", "10.5.0.2/24")
	// c is VLAN-unaware and claims VLAN 5's subnet on the untagged LAN.
	c := nettest.AddHost(t, w, 3, nettest.HostOptions{Prefix: netip.MustParsePrefix("10.5.0.9/24")})

	if err := ping(a.stack, "10.5.0.2"); err != nil {
		t.Fatalf("ping over VLAN 5: %v", err)
	}
	if err := ping(a.stack, "10.0.0.2"); err != nil {
		t.Fatalf("ping untagged: %v", err)
	}
	for _, h := range []*vhost{a, b} {
		if n := sn.count(h.mac, 5); n < 2 { // ARP + ICMP at least
			t.Errorf("host %v sent %d frames tagged VID 5; want >= 2", h.mac, n)
		}
	}
	if n := sn.count(a.mac, 0); n < 2 {
		t.Errorf("host a sent %d untagged frames; want >= 2", n)
	}
	// Isolation: the untagged host in the same subnet is unreachable from
	// VLAN 5 and cannot reach it.
	if err := ping(a.stack, "10.5.0.9"); err == nil {
		t.Error("VLAN 5 reached an untagged host; want isolation")
	}
	if err := ping(c.Stack, "10.5.0.1"); err == nil {
		t.Error("untagged host reached VLAN 5; want isolation")
	}
	// A tag nobody registered is counted and dropped.
	other := w.NewPort(nettest.MAC(4), ipstack.PortOptions{})
	bcast := append(bytes.Repeat([]byte{0xff}, 6), nettest.MAC(4)...)
	other.Transmit(Insert(nil, append(bcast, 0x08, 0x06, 0, 0), 7, 0))
	time.Sleep(50 * time.Millisecond)
	if st := a.mux.Stats(); st.UnknownVLAN == 0 {
		t.Errorf("mux stats %+v; want an unknown-VLAN drop for VID 7", st)
	}
}

// TestDHCPPerVLAN: each interface gets its lease from the server on its own
// VLAN.
func TestDHCPPerVLAN(t *testing.T) {
	w := ipstack.NewWire()
	a := newVHost(t, w, 1, 5, "", "")
	b := newVHost(t, w, 2, 5, "10.0.0.2/24", "10.5.0.2/24")
	serve(t, b.stack, b.native, "10.0.0.100", "10.0.0.2")
	serve(t, b.stack, b.vlan, "10.5.0.100", "10.5.0.2")
	ctx := context.Background()
	opts := dhcp.Options{InitialTimeout: 200 * time.Millisecond, Attempts: 4}
	lv, err := dhcp.Run(ctx, a.vlan, opts)
	if err != nil {
		t.Fatalf("DHCP on net0-5: %v", err)
	}
	ln, err := dhcp.Run(ctx, a.native, opts)
	if err != nil {
		t.Fatalf("DHCP on net0: %v", err)
	}
	if lv.ClientIP != netip.MustParseAddr("10.5.0.100") || ln.ClientIP != netip.MustParseAddr("10.0.0.100") {
		t.Errorf("leases: net0-5 %v, net0 %v; want 10.5.0.100, 10.0.0.100", lv.ClientIP, ln.ClientIP)
	}
	if err := ping(a.stack, "10.5.0.2"); err != nil {
		t.Errorf("ping over VLAN after DHCP: %v", err)
	}
}

// serve runs a one-address DHCP server on ifc.
func serve(t *testing.T, s *ipstack.Stack, ifc *ipstack.Interface, lease, self string) {
	conn, err := s.ListenUDPBroadcast(ifc, netip.MustParseAddrPort("0.0.0.0:67"))
	if err != nil {
		t.Fatal(err)
	}
	srvIP := stdnet.ParseIP(self).To4()
	h := func(c stdnet.PacketConn, peer stdnet.Addr, m *dhcpv4.DHCPv4) {
		typ := dhcpv4.MessageTypeOffer
		if m.MessageType() == dhcpv4.MessageTypeRequest {
			typ = dhcpv4.MessageTypeAck
		} else if m.MessageType() != dhcpv4.MessageTypeDiscover {
			return
		}
		r, err := dhcpv4.NewReplyFromRequest(m, dhcpv4.WithMessageType(typ), dhcpv4.WithYourIP(stdnet.ParseIP(lease)),
			dhcpv4.WithNetmask(stdnet.CIDRMask(24, 32)), dhcpv4.WithServerIP(srvIP),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(srvIP)))
		if err == nil {
			c.WriteTo(r.ToBytes(), peer)
		}
	}
	srv, err := server4.NewServer("", nil, h, server4.WithConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() { srv.Close() })
}

// FuzzMux pushes arbitrary frames through the demultiplexer.
func FuzzMux(f *testing.F) {
	frame := append(bytes.Repeat([]byte{0xff}, 6), 2, 0, 0, 0, 0, 1, 0x08, 0x06, 1, 2)
	f.Add(frame)
	f.Add(Insert(nil, frame, 5, 1))
	f.Add(Insert(nil, frame, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 9000 {
			return // larger than any frame a NIC delivers
		}
		p := &fakeNIC{frames: [][]byte{b}}
		m := NewMux(p)
		native, v5 := m.Native(), mustVLAN(t, m, 5)
		buf := make([]byte, 9000)
		n1, _ := native.Receive(buf)
		n2, _ := v5.Receive(buf)
		if n1 > 0 && n2 > 0 {
			t.Fatalf("frame %x delivered to two VLANs", b)
		}
		if n2 > 0 && n2 != len(b)-4 {
			t.Fatalf("VLAN frame length %d; want %d", n2, len(b)-4)
		}
	})
}

func mustVLAN(t *testing.T, m *Mux, vid uint16) ipstack.NIC {
	n, err := m.VLAN(vid, 0)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type fakeNIC struct{ frames, sent [][]byte }

func (f *fakeNIC) MAC() stdnet.HardwareAddr { return nettest.MAC(1) }
func (f *fakeNIC) MTU() int                 { return 1500 }
func (f *fakeNIC) Transmit(b []byte) error {
	f.sent = append(f.sent, append([]byte(nil), b...))
	return nil
}

// TestVLANPriority: the priority given to VLAN (vcreate --priority) is the
// PCP of every frame the VLAN NIC transmits.
func TestVLANPriority(t *testing.T) {
	frame := append(bytes.Repeat([]byte{0xff}, 6), 2, 0, 0, 0, 0, 1, 0x08, 0x06, 1, 2, 3)
	for _, pcp := range []uint8{0, 3, 7} {
		p := &fakeNIC{}
		n, err := NewMux(p).VLAN(42, pcp)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Transmit(frame); err != nil {
			t.Fatal(err)
		}
		got, err := Parse(p.sent[0])
		if err != nil || got.VID != 42 || got.PCP != pcp {
			t.Errorf("Parse(VLAN(42, %d) frame) = %+v, %v; want VID 42 PCP %d", pcp, got, err, pcp)
		}
	}
	if _, err := NewMux(&fakeNIC{}).VLAN(42, 8); err == nil {
		t.Errorf("VLAN(42, 8) = nil error; want priority out of range")
	}
}
func (f *fakeNIC) Receive(b []byte) (int, error) {
	if len(f.frames) == 0 {
		return 0, nil
	}
	n := copy(b, f.frames[0])
	f.frames = f.frames[1:]
	return n, nil
}

// TestNativeOnly covers the native NIC's direct path (no VLAN created):
// untagged frames pass as they are, priority-tagged (VID 0) ones are
// stripped, frames of other VLANs are dropped — the same outcomes as the
// queued path once a VLAN exists.
func TestNativeOnly(t *testing.T) {
	frame := append(bytes.Repeat([]byte{0xff}, 6), 2, 0, 0, 0, 0, 1, 0x08, 0x06, 1, 2, 3)
	for _, withVLAN := range []bool{false, true} {
		p := &fakeNIC{frames: [][]byte{Insert(nil, frame, 5, 0), frame, Insert(nil, frame, 0, 3), {1, 2}, frame}}
		m := NewMux(p)
		if withVLAN {
			mustVLAN(t, m, 7)
		}
		native := m.Native()
		buf := make([]byte, 2000)
		var got [][]byte
		for {
			n, err := native.Receive(buf)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			got = append(got, append([]byte(nil), buf[:n]...))
		}
		if len(got) != 3 {
			t.Fatalf("withVLAN=%v: native received %d frames; want 3", withVLAN, len(got))
		}
		for i, g := range got {
			if !bytes.Equal(g, frame) {
				t.Errorf("withVLAN=%v: frame %d = %x; want %x", withVLAN, i, g, frame)
			}
		}
		if st := m.Stats(); st.UnknownVLAN != 1 || st.Malformed != 1 || st.Delivered != 3 {
			t.Errorf("withVLAN=%v: Stats() = %+v; want 1 unknown VLAN, 1 malformed, 3 delivered", withVLAN, st)
		}
	}
}
