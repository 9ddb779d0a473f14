package dhcp

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	stdnet "net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// ProxyDHCP (Intel PXE specification 2.1, chapter 2, "PXE client/server protocol"): a server
// that hands out boot information but no addresses. It answers the
// client's DISCOVER with a DHCPOFFER whose yiaddr is 0.0.0.0 and whose
// option 60 is "PXEClient". That offer either carries the boot
// information itself or, if it carries none, tells the client to ask
// for it after the lease with a REQUEST to the server's port 4011.
// A DHCP server that runs a ProxyDHCP service on the same host (port 67
// being taken) says so with "PXEClient" in its own, address-bearing
// offer, again without boot information.

// Option codes of ProxyDHCP handling.
const (
	optVendorClass = 60  // RFC 2132 section 9.13
	optVendorEncap = 43  // RFC 2132 section 8.4; PXE vendor sub-options (PXE 2.1)
	optBootFile    = 67  // RFC 2132 section 9.5
	optIPXEEncap   = 175 // iPXE's encapsulated options
	pxeBootMenu    = 9   // PXE_BOOT_MENU, sub-option of 43 (PXE 2.1 vendor options)
	ipxeNoPXEDHCP  = 176 // iPXE's "no-pxedhcp", sub-option of 175: ignore ProxyDHCP
	pxePort        = 4011
)

// DefaultProxyTimeout bounds the wait for the answer to a ProxyDHCP
// REQUEST to port 4011 (iPXE's DHCP_REQ_PROXY_TIMEOUT_SEC, config/dhcp.h).
const DefaultProxyTimeout = 2 * time.Second

// ProxyLease is the boot information a ProxyDHCP server gave.
type ProxyLease struct {
	Server     netip.Addr // the ProxyDHCP server (its server identifier, else siaddr, else the sender)
	Via        string     // "offer" (its broadcast DHCPOFFER), "port 4011" (its answer to our REQUEST), or "DHCP offer" (the DHCP server's own offer said PXEClient)
	NextServer netip.Addr // siaddr
	ServerName string     // sname field, unless it carried options
	BootFile   string     // file field, unless it carried options
	Options    map[uint8][]byte
}

// pxeClient reports whether r's option 60 says "PXEClient" (PXE 2.1:
// PXE-aware servers answer with exactly that; like iPXE, only the first
// nine bytes are compared).
func pxeClient(r *reply) bool {
	v := r.opts[optVendorClass]
	return len(v) >= 9 && string(v[:9]) == "PXEClient"
}

// bootInfo reports whether r carries PXE boot information: a next server
// and a boot file name, or a PXE boot menu (iPXE's dhcp_has_pxeopts).
func bootInfo(r *reply) bool {
	if si := ip4(r.msg.ServerIPAddr); si.IsValid() && !si.IsUnspecified() && (r.file != "" || len(r.opts[optBootFile]) > 0) {
		return true
	}
	if sub, err := subOptions(r.opts[optVendorEncap]); err == nil && len(sub[pxeBootMenu]) > 0 {
		return true
	}
	return false
}

// noPXEDHCP reports whether r tells iPXE clients to ignore ProxyDHCP
// (option 175 sub-option 176 non-zero).
func noPXEDHCP(r *reply) bool {
	sub, err := subOptions(r.opts[optIPXEEncap])
	return err == nil && len(sub[ipxeNoPXEDHCP]) > 0 && sub[ipxeNoPXEDHCP][0] != 0
}

// subOptions splits an encapsulated option into its sub-options (RFC 2132
// section 8.4 layout; repeated codes concatenated).
func subOptions(b []byte) (map[uint8][]byte, error) {
	out := map[uint8][]byte{}
	return out, parseOptions(b, out)
}

// pseudoID identifies the server of a reply the way iPXE does: its server
// identifier (option 54), else siaddr, else the address it came from.
func pseudoID(r *reply, from netip.Addr) netip.Addr {
	if a, ok := addr4(r.opts[optServerID]); ok && !a.IsUnspecified() {
		return a
	}
	if si := ip4(r.msg.ServerIPAddr); si.IsValid() && !si.IsUnspecified() {
		return si
	}
	return from
}

// proxyOffer is a candidate ProxyDHCP offer and its server.
type proxyOffer struct {
	r      *reply
	server netip.Addr
}

// considerProxy returns the ProxyDHCP offer to keep after r arrived from
// from: r if it is a DHCPOFFER with "PXEClient" from an identifiable
// server and not worse than cur (one with boot information beats one
// without; otherwise the newer wins, as in iPXE), else cur.
func considerProxy(cur *proxyOffer, r *reply, from netip.Addr) *proxyOffer {
	if r.msg.MessageType() != dhcpv4.MessageTypeOffer || !pxeClient(r) {
		return cur
	}
	id := pseudoID(r, from)
	if !id.IsValid() || id.IsUnspecified() {
		return cur
	}
	if cur != nil && bootInfo(cur.r) && !bootInfo(r) {
		return cur
	}
	return &proxyOffer{r: r, server: id}
}

// proxyAction is what to do about ProxyDHCP once the lease is acknowledged.
type proxyAction int

const (
	proxyNone proxyAction = iota // no ProxyDHCP: the lease alone
	proxyUse                     // the ProxyDHCP offer carries the boot information: use it
	proxyAsk                     // ask the ProxyDHCP server on port 4011 (PXE 2.1; iPXE state "ProxyDHCP")
)

func (a proxyAction) String() string {
	return [...]string{"none", "use offer", "ask port 4011"}[a]
}

// planProxy decides about ProxyDHCP from the DHCP offer that was taken
// and the best ProxyDHCP offer seen. There is nothing to wait for unless
// an offer said a ProxyDHCP service exists ("PXEClient" in it): then the
// client asks that service on port 4011 if the offer lacked the boot
// information. (iPXE instead waits two seconds for ProxyDHCP offers on
// every boot whose offers lack "PXEClient".)
func planProxy(offer *reply, proxy *proxyOffer) proxyAction {
	if proxy == nil || noPXEDHCP(offer) {
		return proxyNone
	}
	if bootInfo(proxy.r) {
		return proxyUse
	}
	return proxyAsk
}

func proxyLease(r *reply, server netip.Addr, via string) *ProxyLease {
	return &ProxyLease{
		Server:     server,
		Via:        via,
		NextServer: ip4(r.msg.ServerIPAddr),
		ServerName: r.sname,
		BootFile:   r.file,
		Options:    r.opts,
	}
}

// acceptProxyAnswer reports whether r, from src, answers our ProxyDHCP
// REQUEST to server: from port 4011, a DHCPACK (or DHCPOFFER, as some
// servers send) from that server, with boot information.
func acceptProxyAnswer(r *reply, src netip.AddrPort, server netip.Addr) bool {
	t := r.msg.MessageType()
	return src.Port() == pxePort && (t == dhcpv4.MessageTypeAck || t == dhcpv4.MessageTypeOffer) &&
		pseudoID(r, src.Addr()) == server && bootInfo(r)
}

// askProxy sends the ProxyDHCP REQUEST (ciaddr = our new address, option
// 54 = the ProxyDHCP server) to the server's port 4011 from our port 68
// and waits for its answer, retransmitting with backoff, for at most
// Options.ProxyTimeout. The interface must hold the leased address.
func (c *client) askProxy(ctx context.Context, lease *Lease, server netip.Addr) (*reply, error) {
	conn, err := c.ifc.Stack().ListenUDP(netip.AddrPortFrom(lease.ClientIP, clientPort))
	if err != nil {
		return nil, fmt.Errorf("ProxyDHCP REQUEST from %v:%d: %w", lease.ClientIP, clientPort, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	dst := &stdnet.UDPAddr{IP: server.AsSlice(), Port: pxePort}
	end := time.Now().Add(c.o.ProxyTimeout)
	timeout := c.o.InitialTimeout
	buf := make([]byte, 1<<16)
	for time.Now().Before(end) {
		secs := uint16(min(time.Since(c.start)/time.Second, 0xffff))
		mods := append(c.common(secs, dhcpv4.MessageTypeRequest),
			dhcpv4.WithBroadcast(false),
			dhcpv4.WithClientIP(lease.ClientIP.AsSlice()),
			dhcpv4.WithGeneric(dhcpv4.OptionServerIdentifier, server.AsSlice()))
		m, _ := dhcpv4.New(mods...)
		c.o.Logf("DHCP %s: ProxyDHCP REQUEST to %v:%d", c.ifc.Name(), server, pxePort)
		if _, err := conn.WriteTo(m.ToBytes(), dst); err != nil {
			return nil, fmt.Errorf("sending ProxyDHCP REQUEST to %v:%d: %w", server, pxePort, err)
		}
		c.sent++
		wait := time.Duration(float64(timeout) * (0.9 + 0.2*mrand.Float64()))
		deadline := time.Now().Add(wait)
		if deadline.After(end) {
			deadline = end
		}
		for {
			conn.SetReadDeadline(deadline)
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				var ne stdnet.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				return nil, fmt.Errorf("receiving the ProxyDHCP answer: %w", err)
			}
			r, err := parseReply(buf[:n])
			if err != nil || r.msg.TransactionID != c.xid || !macEqual(r.msg.ClientHWAddr, c.ifc.MAC()) {
				continue
			}
			if acceptProxyAnswer(r, addrPort(from), server) {
				return r, nil
			}
		}
		timeout = min(timeout*2, c.o.MaxTimeout)
	}
	return nil, errTimeout
}

// addrPort converts a received packet's source address.
func addrPort(a stdnet.Addr) netip.AddrPort {
	ua, ok := a.(*stdnet.UDPAddr)
	if !ok {
		return netip.AddrPort{}
	}
	ap := ua.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
