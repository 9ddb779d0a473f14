package dhcp

import (
	"context"
	"fmt"
	stdnet "net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"

	"github.com/snp-go/snp-go/net/nettest"
	"github.com/snp-go/snp-go/net/pxe"
)

// msgSpec describes a server reply for the table tests.
type msgSpec struct {
	typ    dhcpv4.MessageType
	yiaddr string // "" = 0.0.0.0
	siaddr string
	sid    string // option 54
	file   string // file field
	opts   map[uint8][]byte
}

func (m msgSpec) reply(t testing.TB) *reply {
	t.Helper()
	ip := func(s string) stdnet.IP {
		if s == "" {
			return stdnet.IPv4zero.To4()
		}
		return netip.MustParseAddr(s).AsSlice()
	}
	mods := []dhcpv4.Modifier{dhcpv4.WithMessageType(m.typ), dhcpv4.WithYourIP(ip(m.yiaddr)), dhcpv4.WithServerIP(ip(m.siaddr)),
		func(d *dhcpv4.DHCPv4) { d.OpCode = dhcpv4.OpcodeBootReply; d.BootFileName = m.file }}
	if m.sid != "" {
		mods = append(mods, dhcpv4.WithGeneric(dhcpv4.OptionServerIdentifier, ip(m.sid)))
	}
	for c, v := range m.opts {
		mods = append(mods, dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(c), v))
	}
	d, err := dhcpv4.New(mods...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseReply(d.ToBytes())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var (
	pxeVC    = map[uint8][]byte{60: []byte("PXEClient")}
	pxeMenu  = map[uint8][]byte{60: []byte("PXEClient"), 43: {9, 7, 0x80, 0x00, 4, 'b', 'o', 'o', 't', 255}}
	pxeFile  = map[uint8][]byte{60: []byte("PXEClient"), 67: []byte("boot.efi")}
	noPXE    = map[uint8][]byte{175: {176, 1, 1}}
	plainDHC = msgSpec{typ: dhcpv4.MessageTypeOffer, yiaddr: "10.0.0.100", siaddr: "10.0.0.2", sid: "10.0.0.2"}
)

func TestBootInfo(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    msgSpec
		want bool
	}{
		{"plain offer", plainDHC, false},
		{"file field and siaddr", msgSpec{typ: dhcpv4.MessageTypeOffer, siaddr: "10.0.0.3", file: "boot.efi", opts: pxeVC}, true},
		{"option 67 and siaddr", msgSpec{typ: dhcpv4.MessageTypeOffer, siaddr: "10.0.0.3", opts: pxeFile}, true},
		{"file without siaddr", msgSpec{typ: dhcpv4.MessageTypeOffer, file: "boot.efi", opts: pxeVC}, false},
		{"boot menu (43.9)", msgSpec{typ: dhcpv4.MessageTypeOffer, opts: pxeMenu}, true},
		{"PXEClient only (dnsmasq proxy offer to UEFI)", msgSpec{typ: dhcpv4.MessageTypeOffer, siaddr: "10.0.0.3", sid: "10.0.0.3", opts: pxeVC}, false},
		{"truncated option 43", msgSpec{typ: dhcpv4.MessageTypeOffer, opts: map[uint8][]byte{60: []byte("PXEClient"), 43: {9, 7, 0}}}, false},
	} {
		if got := bootInfo(tc.m.reply(t)); got != tc.want {
			t.Errorf("bootInfo(%s) = %v; want %v", tc.name, got, tc.want)
		}
	}
}

func TestPseudoID(t *testing.T) {
	from := netip.MustParseAddr("10.0.0.9")
	for _, tc := range []struct {
		m    msgSpec
		want string
	}{
		{msgSpec{typ: dhcpv4.MessageTypeOffer, sid: "10.0.0.3", siaddr: "10.0.0.4"}, "10.0.0.3"},
		{msgSpec{typ: dhcpv4.MessageTypeOffer, siaddr: "10.0.0.4"}, "10.0.0.4"},
		{msgSpec{typ: dhcpv4.MessageTypeOffer}, "10.0.0.9"},
		{msgSpec{typ: dhcpv4.MessageTypeOffer, sid: "0.0.0.0"}, "10.0.0.9"},
	} {
		if got := pseudoID(tc.m.reply(t), from); got.String() != tc.want {
			t.Errorf("pseudoID(sid %q siaddr %q, from %v) = %v; want %v", tc.m.sid, tc.m.siaddr, from, got, tc.want)
		}
	}
}

// TestOfferHandling: which ProxyDHCP offer is kept as offers arrive, and
// what is done about ProxyDHCP once the DHCP offer is acknowledged.
func TestOfferHandling(t *testing.T) {
	proxyNoInfo := msgSpec{typ: dhcpv4.MessageTypeOffer, siaddr: "10.0.0.3", sid: "10.0.0.3", opts: pxeVC}
	proxyInfo := msgSpec{typ: dhcpv4.MessageTypeOffer, siaddr: "10.0.0.4", sid: "10.0.0.4", file: "proxy.efi", opts: pxeVC}
	dhcpPXE := msgSpec{typ: dhcpv4.MessageTypeOffer, yiaddr: "10.0.0.100", siaddr: "10.0.0.2", sid: "10.0.0.2", opts: pxeVC}
	dhcpPXEFile := msgSpec{typ: dhcpv4.MessageTypeOffer, yiaddr: "10.0.0.100", siaddr: "10.0.0.2", sid: "10.0.0.2", file: "dhcp.efi", opts: pxeVC}
	dhcpNoPXE := msgSpec{typ: dhcpv4.MessageTypeOffer, yiaddr: "10.0.0.100", siaddr: "10.0.0.2", sid: "10.0.0.2", opts: noPXE}
	ack := msgSpec{typ: dhcpv4.MessageTypeAck, siaddr: "10.0.0.5", sid: "10.0.0.5", file: "x", opts: pxeVC}
	for _, tc := range []struct {
		name    string
		offer   msgSpec   // the DHCP offer taken
		arrived []msgSpec // every reply seen, in order (the offer among them if it came)
		proxy   string    // server of the ProxyDHCP offer kept ("" none)
		action  proxyAction
	}{
		{"plain DHCP, no proxy: no wait", plainDHC, []msgSpec{plainDHC}, "", proxyNone},
		{"plain DHCP + proxy offer without boot info (dnsmasq proxy)", plainDHC, []msgSpec{plainDHC, proxyNoInfo}, "10.0.0.3", proxyAsk},
		{"proxy offer first, then plain DHCP", plainDHC, []msgSpec{proxyNoInfo, plainDHC}, "10.0.0.3", proxyAsk},
		{"plain DHCP + proxy offer with boot info", plainDHC, []msgSpec{plainDHC, proxyInfo}, "10.0.0.4", proxyUse},
		{"boot info beats none, either order", plainDHC, []msgSpec{proxyInfo, proxyNoInfo, plainDHC}, "10.0.0.4", proxyUse},
		{"newer of two without boot info", plainDHC, []msgSpec{proxyNoInfo, {typ: dhcpv4.MessageTypeOffer, sid: "10.0.0.6", opts: pxeVC}}, "10.0.0.6", proxyAsk},
		{"DHCP offer with PXEClient, no file: same-host proxy on 4011", dhcpPXE, []msgSpec{dhcpPXE}, "10.0.0.2", proxyAsk},
		{"DHCP offer with PXEClient and file: its own boot info", dhcpPXEFile, []msgSpec{dhcpPXEFile}, "10.0.0.2", proxyUse},
		{"no-pxedhcp (175.176) in the DHCP offer ignores proxies", dhcpNoPXE, []msgSpec{dhcpNoPXE, proxyInfo}, "10.0.0.4", proxyNone},
		{"a DHCPACK with PXEClient is no ProxyDHCP offer", plainDHC, []msgSpec{plainDHC, ack}, "", proxyNone},
		{"PXEClient prefix only (PXEClien) is not PXEClient", plainDHC, []msgSpec{plainDHC, {typ: dhcpv4.MessageTypeOffer, sid: "10.0.0.7", opts: map[uint8][]byte{60: []byte("PXEClien")}}}, "", proxyNone},
	} {
		var kept *proxyOffer
		for _, m := range tc.arrived {
			kept = considerProxy(kept, m.reply(t), netip.MustParseAddr("10.0.0.99"))
		}
		got := ""
		if kept != nil {
			got = kept.server.String()
		}
		if got != tc.proxy {
			t.Errorf("%s: ProxyDHCP offer kept from %q; want %q", tc.name, got, tc.proxy)
		}
		if a := planProxy(tc.offer.reply(t), kept); a != tc.action {
			t.Errorf("%s: planProxy = %v; want %v", tc.name, a, tc.action)
		}
	}
}

func TestAcceptProxyAnswer(t *testing.T) {
	server := netip.MustParseAddr("10.0.0.3")
	good := msgSpec{typ: dhcpv4.MessageTypeAck, siaddr: "10.0.0.3", sid: "10.0.0.3", file: "boot.efi", opts: pxeVC}
	at := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	for _, tc := range []struct {
		name string
		m    msgSpec
		src  netip.AddrPort
		want bool
	}{
		{"ACK from 4011 with file", good, at("10.0.0.3:4011"), true},
		{"OFFER from 4011 with file", msgSpec{typ: dhcpv4.MessageTypeOffer, siaddr: "10.0.0.3", sid: "10.0.0.3", file: "boot.efi"}, at("10.0.0.3:4011"), true},
		{"from port 67", good, at("10.0.0.3:67"), false},
		{"another server", msgSpec{typ: dhcpv4.MessageTypeAck, siaddr: "10.0.0.8", sid: "10.0.0.8", file: "boot.efi"}, at("10.0.0.8:4011"), false},
		{"no boot info", msgSpec{typ: dhcpv4.MessageTypeAck, siaddr: "10.0.0.3", sid: "10.0.0.3"}, at("10.0.0.3:4011"), false},
		{"NAK", msgSpec{typ: dhcpv4.MessageTypeNak, siaddr: "10.0.0.3", sid: "10.0.0.3", file: "boot.efi"}, at("10.0.0.3:4011"), false},
	} {
		if got := acceptProxyAnswer(tc.m.reply(t), tc.src, server); got != tc.want {
			t.Errorf("acceptProxyAnswer(%s, from %v) = %v; want %v", tc.name, tc.src, got, tc.want)
		}
	}
}

// proxyServer is a ProxyDHCP service on its own host: it answers
// DISCOVERs on port 67 with a broadcast ProxyDHCP offer (yiaddr 0,
// "PXEClient"), carrying the boot file when inOffer, and REQUESTs to port
// 4011 with a DHCPACK carrying it (unless silent).
type proxyServer struct {
	ip      netip.Addr
	file    string
	inOffer bool
	silent  bool
	// menu: the port 4011 answer is a PXE boot menu (two items, boot
	// servers: this host) instead of the file; boot server requests
	// (43.71) are answered with file "item-TYPE.efi".
	menu bool

	mu       sync.Mutex
	requests []*dhcpv4.DHCPv4 // received on port 4011
}

func (p *proxyServer) answer(m *dhcpv4.DHCPv4, typ dhcpv4.MessageType, file string) []byte {
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithServerIP(p.ip.AsSlice()),
		dhcpv4.WithGeneric(dhcpv4.OptionServerIdentifier, p.ip.AsSlice()),
		dhcpv4.WithGeneric(dhcpv4.OptionClassIdentifier, []byte("PXEClient")),
		func(d *dhcpv4.DHCPv4) { d.YourIPAddr = stdnet.IPv4zero.To4() },
	}
	mods = append(mods, func(d *dhcpv4.DHCPv4) { d.BootFileName = file })
	r, _ := dhcpv4.NewReplyFromRequest(m, mods...)
	return r.ToBytes()
}

func (p *proxyServer) start(t *testing.T, h *nettest.Host) {
	t.Helper()
	conn, err := h.Stack.ListenUDPBroadcast(h.If, netip.AddrPortFrom(netip.IPv4Unspecified(), 67))
	if err != nil {
		t.Fatal(err)
	}
	s, err := server4.NewServer("", nil, func(c stdnet.PacketConn, peer stdnet.Addr, m *dhcpv4.DHCPv4) {
		if m.MessageType() == dhcpv4.MessageTypeDiscover {
			file := ""
			if p.inOffer {
				file = p.file
			}
			c.WriteTo(p.answer(m, dhcpv4.MessageTypeOffer, file), peer)
		}
	}, server4.WithConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() { s.Close() })
	c4011, err := h.Stack.ListenUDP(netip.AddrPortFrom(p.ip, pxePort))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c4011.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := c4011.ReadFrom(buf)
			if err != nil {
				return
			}
			m, err := dhcpv4.FromBytes(buf[:n])
			if err != nil {
				continue
			}
			p.mu.Lock()
			p.requests = append(p.requests, m)
			silent := p.silent
			p.mu.Unlock()
			if silent {
				continue
			}
			if !p.menu {
				c4011.WriteTo(p.answer(m, dhcpv4.MessageTypeAck, p.file), from)
				continue
			}
			if typ, ok := pxe.ItemType(m.Options[43]); ok {
				b := p.answer(m, dhcpv4.MessageTypeAck, fmt.Sprintf("item-%04x.efi", typ))
				r, _ := dhcpv4.FromBytes(b)
				r.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionVendorSpecificInformation, append([]byte{71, 4}, pxe.BootItem(typ)...)))
				c4011.WriteTo(r.ToBytes(), from)
				continue
			}
			ip := p.ip.As4()
			menu := []byte{6, 1, pxe.NoBroadcast | pxe.NoMulticast,
				8, 14, 0x80, 0, 1, ip[0], ip[1], ip[2], ip[3], 0x80, 1, 1, ip[0], ip[1], ip[2], ip[3],
				9, 17, 0x80, 0, 5, 'f', 'i', 'r', 's', 't', 0x80, 1, 6, 's', 'e', 'c', 'o', 'n', 'd'}
			b := p.answer(m, dhcpv4.MessageTypeAck, "")
			r, _ := dhcpv4.FromBytes(b)
			r.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionVendorSpecificInformation, menu))
			c4011.WriteTo(r.ToBytes(), from)
		}
	}()
}

// TestProxyDHCP runs the client against a DHCP server that gives no boot
// file and a ProxyDHCP server on another host, in its three behaviours.
func TestProxyDHCP(t *testing.T) {
	for _, tc := range []struct {
		name      string
		inOffer   bool
		silent    bool
		via       string
		requests  int
		wantError string
	}{
		{name: "boot file on port 4011", via: "port 4011", requests: 1},
		{name: "boot file in the offer", inOffer: true, via: "offer"},
		{name: "proxy silent on port 4011", silent: true, requests: 2, wantError: "gave no boot information on port 4011"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &testServer{noFile: true, offerDelay: 30 * time.Millisecond}
			client, _, wire := setupWire(t, srv)
			pip := netip.MustParseAddr("10.0.0.3")
			px := &proxyServer{ip: pip, file: "proxy.efi", inOffer: tc.inOffer, silent: tc.silent}
			px.start(t, nettest.AddHost(t, wire, 3, nettest.HostOptions{Prefix: netip.PrefixFrom(pip, 24)}))
			o := fast
			o.ProxyTimeout = 300 * time.Millisecond
			start := time.Now()
			l, err := Run(context.Background(), client.If, o)
			if err != nil {
				t.Fatalf("Run = %v", err)
			}
			el := time.Since(start)
			if l.ClientIP != leaseIP || l.BootFile != "" {
				t.Errorf("lease %v file %q; want %v and no file", l.ClientIP, l.BootFile, leaseIP)
			}
			px.mu.Lock()
			reqs := px.requests
			px.mu.Unlock()
			if len(reqs) < tc.requests || (tc.requests == 0 && len(reqs) > 0) {
				t.Errorf("port 4011 got %d REQUESTs; want %d", len(reqs), tc.requests)
			}
			for _, r := range reqs {
				if !r.ClientIPAddr.Equal(leaseIP.AsSlice()) || !r.ServerIdentifier().Equal(pip.AsSlice()) || r.MessageType() != dhcpv4.MessageTypeRequest {
					t.Errorf("ProxyDHCP %s: ciaddr %v server id %v; want REQUEST, %v, %v", r.MessageType(), r.ClientIPAddr, r.ServerIdentifier(), leaseIP, pip)
				}
			}
			if tc.wantError != "" {
				if l.Proxy != nil || l.ProxyError == nil || !strings.Contains(l.ProxyError.Error(), tc.wantError) {
					t.Errorf("silent proxy: Proxy %+v, ProxyError %v; want none and %q", l.Proxy, l.ProxyError, tc.wantError)
				}
				if el < o.ProxyTimeout || el > 5*o.ProxyTimeout {
					t.Errorf("silent proxy: Run took %v; want about ProxyTimeout %v more than the lease", el, o.ProxyTimeout)
				}
				return
			}
			if l.ProxyError != nil || l.Proxy == nil {
				t.Fatalf("Proxy %+v, ProxyError %v; want the proxy's boot file", l.Proxy, l.ProxyError)
			}
			if l.Proxy.Server != pip || l.Proxy.Via != tc.via || l.Proxy.BootFile != "proxy.efi" || l.Proxy.NextServer != pip {
				t.Errorf("Proxy = %+v; want server %v via %q, file proxy.efi, next-server %v", *l.Proxy, pip, tc.via, pip)
			}
		})
	}
}

// TestPXEAwareDHCPServer: a DHCP server whose offer says "PXEClient"
// and carries the boot file is its own ProxyDHCP answer (as in iPXE),
// labelled so, with no request to port 4011.
func TestPXEAwareDHCPServer(t *testing.T) {
	client, _ := setup(t, &testServer{pxe: true})
	l, err := Run(context.Background(), client.If, fast)
	if err != nil {
		t.Fatal(err)
	}
	if l.Proxy == nil || l.Proxy.Via != "DHCP offer" || l.Proxy.Server != serverIP || l.Proxy.BootFile != "boot.ipxe" || l.ProxyError != nil {
		t.Errorf("Proxy = %+v, ProxyError %v; want the DHCP offer itself (server %v, boot.ipxe)", l.Proxy, l.ProxyError, serverIP)
	}
}

// TestBootServer: the ProxyDHCP server answers on port 4011 with a PXE
// boot menu; boot server discovery for the second item's type asks the
// listed server and gets that item's file.
func TestBootServer(t *testing.T) {
	srv := &testServer{noFile: true, offerDelay: 30 * time.Millisecond}
	client, _, wire := setupWire(t, srv)
	pip := netip.MustParseAddr("10.0.0.3")
	px := &proxyServer{ip: pip, file: "unused", menu: true}
	px.start(t, nettest.AddHost(t, wire, 3, nettest.HostOptions{Prefix: netip.PrefixFrom(pip, 24)}))
	l, err := Run(context.Background(), client.If, fast)
	if err != nil {
		t.Fatal(err)
	}
	if l.Proxy == nil || l.Proxy.BootFile != "" {
		t.Fatalf("Proxy = %+v; want the menu answer without a file", l.Proxy)
	}
	o, err := pxe.Parse(l.Proxy.Options[43])
	if err != nil || len(o.Menu) != 2 {
		t.Fatalf("menu %+v, %v; want two items", o, err)
	}
	attempt, accept := o.Targets(o.Menu[1].Type)
	bs, err := BootServer(context.Background(), client.If, fast, o.Menu[1].Type, attempt, accept)
	if err != nil {
		t.Fatal(err)
	}
	if bs.BootFile != "item-8001.efi" || bs.Server != pip || bs.NextServer != pip || bs.Via != "boot server" {
		t.Errorf("BootServer = %+v; want item-8001.efi from %v", *bs, pip)
	}
	// No server for a type: an error at once, naming the type.
	if _, err := BootServer(context.Background(), client.If, fast, 0x9000, nil, nil); err == nil || !strings.Contains(err.Error(), "0x9000") {
		t.Errorf("BootServer with no targets = %v; want an error naming type 0x9000", err)
	}
}

func TestAcceptBootServer(t *testing.T) {
	item := func(typ uint16) map[uint8][]byte {
		return map[uint8][]byte{43: append([]byte{71, 4}, pxe.BootItem(typ)...)}
	}
	at := netip.MustParseAddrPort
	a := netip.MustParseAddr("10.0.0.3")
	for _, tc := range []struct {
		name   string
		m      msgSpec
		src    netip.AddrPort
		accept []netip.Addr
		want   bool
	}{
		{"ACK for the type from 4011", msgSpec{typ: dhcpv4.MessageTypeAck, sid: "10.0.0.3", opts: item(0x8001)}, at("10.0.0.3:4011"), nil, true},
		{"ACK for the type from 67", msgSpec{typ: dhcpv4.MessageTypeAck, sid: "10.0.0.3", opts: item(0x8001)}, at("10.0.0.3:67"), nil, true},
		{"another type", msgSpec{typ: dhcpv4.MessageTypeAck, sid: "10.0.0.3", opts: item(0x8000)}, at("10.0.0.3:4011"), nil, false},
		{"no boot item", msgSpec{typ: dhcpv4.MessageTypeAck, sid: "10.0.0.3"}, at("10.0.0.3:4011"), nil, false},
		{"an OFFER", msgSpec{typ: dhcpv4.MessageTypeOffer, sid: "10.0.0.3", opts: item(0x8001)}, at("10.0.0.3:4011"), nil, false},
		{"other port", msgSpec{typ: dhcpv4.MessageTypeAck, sid: "10.0.0.3", opts: item(0x8001)}, at("10.0.0.3:69"), nil, false},
		{"listed server", msgSpec{typ: dhcpv4.MessageTypeAck, sid: "10.0.0.3", opts: item(0x8001)}, at("10.0.0.3:4011"), []netip.Addr{a}, true},
		{"unlisted server", msgSpec{typ: dhcpv4.MessageTypeAck, sid: "10.0.0.8", opts: item(0x8001)}, at("10.0.0.8:4011"), []netip.Addr{a}, false},
	} {
		if _, got := acceptBootServer(tc.m.reply(t), tc.src, 0x8001, tc.accept); got != tc.want {
			t.Errorf("acceptBootServer(%s) = %v; want %v", tc.name, got, tc.want)
		}
	}
}

// TestNoProxyNoWait: a plain DHCP server and no ProxyDHCP service: the
// lease comes without any ProxyDHCP wait (iPXE waits about 2 s here).
func TestNoProxyNoWait(t *testing.T) {
	srv := &testServer{noFile: true}
	client, _ := setup(t, srv)
	o := fast
	o.ProxyTimeout = 5 * time.Second
	start := time.Now()
	l, err := Run(context.Background(), client.If, o)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > time.Second || l.Proxy != nil || l.ProxyError != nil {
		t.Errorf("Run took %v, Proxy %v, ProxyError %v; want well under 1s and no ProxyDHCP", el, l.Proxy, l.ProxyError)
	}
}

// FuzzProxyOffer feeds arbitrary replies through the ProxyDHCP decisions:
// no panic, and a kept offer always has "PXEClient" and a server.
func FuzzProxyOffer(f *testing.F) {
	for _, m := range []msgSpec{
		{typ: dhcpv4.MessageTypeOffer, siaddr: "10.0.0.3", sid: "10.0.0.3", opts: pxeVC},
		{typ: dhcpv4.MessageTypeOffer, opts: pxeMenu},
		{typ: dhcpv4.MessageTypeOffer, yiaddr: "10.0.0.100", sid: "10.0.0.2", opts: noPXE},
	} {
		f.Add(m.reply(f).msg.ToBytes())
	}
	from := netip.MustParseAddr("10.0.0.9")
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseReply(b)
		if err != nil {
			return
		}
		kept := considerProxy(nil, r, from)
		if kept != nil && (!pxeClient(kept.r) || !kept.server.IsValid() || kept.server.IsUnspecified()) {
			t.Fatalf("kept ProxyDHCP offer without PXEClient or server: %+v", kept)
		}
		planProxy(r, kept)
		acceptProxyAnswer(r, netip.AddrPortFrom(from, pxePort), from)
	})
}
