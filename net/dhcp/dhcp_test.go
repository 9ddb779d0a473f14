package dhcp

import (
	"bytes"
	"context"
	"errors"
	stdnet "net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"

	"github.com/snp-go/snp-go/net/ipstack"
	"github.com/snp-go/snp-go/net/nettest"
)

// testServer is a small DHCP server: insomniacslk's server4 loop on the
// peer stack's UDP port 67, with a handler that leases 10.0.0.100.
type testServer struct {
	mu       sync.Mutex
	got      []*dhcpv4.DHCPv4 // messages received
	drop     int              // DISCOVERs still to ignore
	nak      int              // REQUESTs still to refuse
	overload bool             // put options 66/67 in the file field (option 52)
	noFile   bool             // no boot file (a DHCP server beside a ProxyDHCP one)
	pxe      bool             // option 60 "PXEClient" (a PXE-aware DHCP server)
	// offerDelay holds back each OFFER, as a server's ping check of the
	// address does (dnsmasq's, up to 3 s): a ProxyDHCP offer comes first.
	offerDelay time.Duration
}

var (
	serverIP = netip.MustParseAddr("10.0.0.2")
	leaseIP  = netip.MustParseAddr("10.0.0.100")
	// Options the server hands out, raw, as the script engine will see them.
	serverOpts = map[uint8][]byte{
		1:   {255, 255, 255, 0},
		3:   {10, 0, 0, 1},
		6:   {10, 0, 0, 2, 10, 0, 0, 3},
		15:  []byte("example.test"),
		17:  []byte("iscsi:10.0.0.2::::iqn.2025-01.test:disk"),
		51:  {0, 0, 0x0e, 0x10},
		121: {24, 192, 168, 7, 10, 0, 0, 1, 0, 10, 0, 0, 1}, // 192.168.7.0/24 via .1, default via .1
		175: {190, 4, 'u', 's', 'e', 'r', 191, 6, 's', 'e', 'c', 'r', 'e', 't'},
		203: []byte("iqn.2025-01.test:initiator"),
	}
)

func (s *testServer) handle(conn stdnet.PacketConn, peer stdnet.Addr, m *dhcpv4.DHCPv4) {
	s.mu.Lock()
	s.got = append(s.got, m)
	var typ dhcpv4.MessageType
	switch m.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		if s.drop > 0 {
			s.drop--
			s.mu.Unlock()
			return
		}
		typ = dhcpv4.MessageTypeOffer
	case dhcpv4.MessageTypeRequest:
		typ = dhcpv4.MessageTypeAck
		if s.nak > 0 {
			s.nak--
			typ = dhcpv4.MessageTypeNak
		}
	default:
		s.mu.Unlock()
		return
	}
	overload := s.overload
	s.mu.Unlock()
	if typ == dhcpv4.MessageTypeOffer {
		time.Sleep(s.offerDelay)
	}
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithGeneric(dhcpv4.OptionServerIdentifier, serverIP.AsSlice()),
	}
	if typ != dhcpv4.MessageTypeNak {
		mods = append(mods, dhcpv4.WithYourIP(leaseIP.AsSlice()), dhcpv4.WithServerIP(serverIP.AsSlice()))
		for code, v := range serverOpts {
			mods = append(mods, dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(code), v))
		}
		if s.pxe {
			mods = append(mods, dhcpv4.WithGeneric(dhcpv4.OptionClassIdentifier, []byte("PXEClient")))
		}
		switch {
		case s.noFile:
		case overload:
			mods = append(mods, dhcpv4.WithGeneric(dhcpv4.OptionOptionOverload, []byte{1}))
		default:
			mods = append(mods, func(d *dhcpv4.DHCPv4) { d.BootFileName = "boot.ipxe" })
		}
	}
	resp, err := dhcpv4.NewReplyFromRequest(m, mods...)
	if err != nil {
		return
	}
	b := resp.ToBytes()
	if overload && typ != dhcpv4.MessageTypeNak {
		// file field: option 67 "boot.ipxe", option 66 "tftp", End.
		f := append([]byte{67, 9}, "boot.ipxe"...)
		f = append(append(f, 66, 4), "tftp"...)
		f = append(f, 255)
		copy(b[offFile:offFile+lenFile], f)
	}
	conn.WriteTo(b, peer)
}

func (s *testServer) messages(t dhcpv4.MessageType) []*dhcpv4.DHCPv4 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*dhcpv4.DHCPv4
	for _, m := range s.got {
		if m.MessageType() == t {
			out = append(out, m)
		}
	}
	return out
}

// setup returns an unconfigured client interface and a server on the wire.
func setup(t *testing.T, srv *testServer) (*nettest.Host, *nettest.Host) {
	t.Helper()
	c, s, _ := setupWire(t, srv)
	return c, s
}

// setupWire is setup that also returns the wire, for more hosts.
func setupWire(t *testing.T, srv *testServer) (*nettest.Host, *nettest.Host, *ipstack.Wire) {
	t.Helper()
	w := ipstack.NewWire()
	client := nettest.AddHost(t, w, 1, nettest.HostOptions{})
	server := nettest.AddHost(t, w, 2, nettest.HostOptions{Prefix: netip.PrefixFrom(serverIP, 24)})
	if srv != nil {
		conn, err := server.Stack.ListenUDPBroadcast(server.If, netip.AddrPortFrom(netip.IPv4Unspecified(), 67))
		if err != nil {
			t.Fatal(err)
		}
		s, err := server4.NewServer("", nil, srv.handle, server4.WithConn(conn))
		if err != nil {
			t.Fatal(err)
		}
		go s.Serve()
		t.Cleanup(func() { s.Close() })
	}
	return client, server, w
}

var fast = Options{InitialTimeout: 100 * time.Millisecond, MaxTimeout: 400 * time.Millisecond, Attempts: 4}

func TestLease(t *testing.T) {
	srv := &testServer{}
	client, server := setup(t, srv)
	l, err := Run(context.Background(), client.If, fast)
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if l.ClientIP != leaseIP || l.NextServer != serverIP || l.ServerID != serverIP {
		t.Errorf("lease yiaddr/siaddr/server-id = %v/%v/%v; want %v/%v/%v", l.ClientIP, l.NextServer, l.ServerID, leaseIP, serverIP, serverIP)
	}
	if l.BootFile != "boot.ipxe" {
		t.Errorf("BootFile = %q; want boot.ipxe", l.BootFile)
	}
	if l.LeaseTime != time.Hour {
		t.Errorf("LeaseTime = %v; want 1h", l.LeaseTime)
	}
	for code, want := range serverOpts {
		if got := l.Options[code]; !bytes.Equal(got, want) {
			t.Errorf("Options[%d] = %q; want %q", code, got, want)
		}
	}
	wantCfg := ipstack.Config{
		Address: netip.MustParsePrefix("10.0.0.100/24"),
		Gateway: netip.MustParseAddr("10.0.0.1"),
		Routes: []ipstack.Route{
			{Dst: netip.MustParsePrefix("192.168.7.0/24"), Gateway: netip.MustParseAddr("10.0.0.1")},
			{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.0.0.1")},
		},
		DNS:    []netip.Addr{serverIP, netip.MustParseAddr("10.0.0.3")},
		Domain: "example.test",
	}
	if got := client.If.Config(); !equalConfig(got, wantCfg) {
		t.Errorf("interface config = %+v; want %+v", got, wantCfg)
	}
	// The client's messages carry the PXE identity and request list.
	d := srv.messages(dhcpv4.MessageTypeDiscover)
	r := srv.messages(dhcpv4.MessageTypeRequest)
	if len(d) != 1 || len(r) != 1 {
		t.Fatalf("server saw %d DISCOVER, %d REQUEST; want 1, 1", len(d), len(r))
	}
	for _, m := range []*dhcpv4.DHCPv4{d[0], r[0]} {
		checkClientOptions(t, m, client.If.MAC())
	}
	if got := r[0].Options[50]; !bytes.Equal(got, leaseIP.AsSlice()) {
		t.Errorf("REQUEST option 50 = %v; want %v", got, leaseIP)
	}
	// The configured address works: the server can ping the client.
	if _, err := server.Stack.Ping(context.Background(), leaseIP, ipstack.PingOptions{Count: 1, Timeout: 2 * time.Second}); err != nil {
		t.Errorf("ping %v after lease: %v", leaseIP, err)
	}
	t.Logf("DHCP time to address: %v, %d messages", l.Elapsed, l.Sent)
}

func checkClientOptions(t *testing.T, m *dhcpv4.DHCPv4, mac stdnet.HardwareAddr) {
	t.Helper()
	want := map[uint8][]byte{
		93: {0x00, 0x0b},
		94: {1, 3, 16},
		60: []byte("PXEClient:Arch:00011:UNDI:003016"),
		77: []byte("iPXE"),
		61: append([]byte{1}, mac...),
	}
	for code, v := range want {
		if got := m.Options[code]; !bytes.Equal(got, v) {
			t.Errorf("%s option %d = %q; want %q", m.MessageType(), code, got, v)
		}
	}
	prl := m.Options[55]
	for _, c := range DefaultRequest {
		if !slices.Contains(prl, c) {
			t.Errorf("%s parameter request list %v lacks %d", m.MessageType(), prl, c)
		}
	}
	if !m.IsBroadcast() {
		t.Errorf("%s without the broadcast flag", m.MessageType())
	}
}

func equalConfig(a, b ipstack.Config) bool {
	return a.Address == b.Address && a.Gateway == b.Gateway && slices.Equal(a.Routes, b.Routes) &&
		slices.Equal(a.DNS, b.DNS) && a.Domain == b.Domain
}

func TestRetryAfterDroppedDiscover(t *testing.T) {
	srv := &testServer{drop: 2}
	client, _ := setup(t, srv)
	l, err := Run(context.Background(), client.If, fast)
	if err != nil {
		t.Fatalf("Run with 2 dropped DISCOVERs = %v", err)
	}
	if n := len(srv.messages(dhcpv4.MessageTypeDiscover)); n != 3 {
		t.Errorf("server saw %d DISCOVERs; want 3", n)
	}
	if l.Sent != 4 || l.ClientIP != leaseIP {
		t.Errorf("lease after retries: sent %d, ip %v; want 4, %v", l.Sent, l.ClientIP, leaseIP)
	}
	// Backoff: 100 ms then 200 ms (±10%) before the third DISCOVER.
	if l.Elapsed < 250*time.Millisecond {
		t.Errorf("Elapsed = %v; want >= 270 ms of backoff", l.Elapsed)
	}
}

func TestNakRestarts(t *testing.T) {
	srv := &testServer{nak: 1}
	client, _ := setup(t, srv)
	l, err := Run(context.Background(), client.If, fast)
	if err != nil {
		t.Fatalf("Run after one NAK = %v", err)
	}
	if n := len(srv.messages(dhcpv4.MessageTypeDiscover)); n != 2 || l.ClientIP != leaseIP {
		t.Errorf("after NAK: %d DISCOVERs, ip %v; want 2, %v", n, l.ClientIP, leaseIP)
	}
}

func TestOverloadedFileField(t *testing.T) {
	srv := &testServer{overload: true}
	client, _ := setup(t, srv)
	l, err := Run(context.Background(), client.If, Options{NoConfigure: true, InitialTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if string(l.Options[67]) != "boot.ipxe" || string(l.Options[66]) != "tftp" || l.BootFile != "" {
		t.Errorf("overloaded lease: 67=%q 66=%q file=%q; want boot.ipxe, tftp, empty", l.Options[67], l.Options[66], l.BootFile)
	}
	if c := client.If.Config(); c.Address.IsValid() {
		t.Errorf("NoConfigure: interface got %v", c.Address)
	}
}

func TestNoServer(t *testing.T) {
	client, _ := setup(t, nil)
	start := time.Now()
	_, err := Run(context.Background(), client.If, Options{InitialTimeout: 20 * time.Millisecond, MaxTimeout: 40 * time.Millisecond, Attempts: 3})
	if !errors.Is(err, ErrNoOffer) {
		t.Fatalf("Run without server = %v; want ErrNoOffer", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gave up after %v; want ~100 ms", d)
	}
	// The bootstrap address is gone again.
	if c := client.If.Config(); c.Address.IsValid() {
		t.Errorf("config after failure = %+v; want empty", c)
	}
}

func TestCancel(t *testing.T) {
	client, _ := setup(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := Run(ctx, client.If, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run cancelled = %v; want context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("cancel took %v", d)
	}
}
