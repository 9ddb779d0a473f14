package dhcp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	stdnet "net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/snp-go/snp-go/net/ipstack"
	"github.com/snp-go/snp-go/net/pxe"
)

// DefaultBootServerTimeout is how long each boot server is asked before
// the next one is tried (iPXE's PXEBS_MAX_TIMEOUT_SEC, config/dhcp.h).
const DefaultBootServerTimeout = 3 * time.Second

// BootServer is PXE boot server discovery (PXE 2.1; iPXE's "PXEBS"
// state): on the configured interface, a REQUEST carrying option 43
// sub-option 71 (boot item type typ, layer 0) goes to each address of
// attempt in turn (the broadcast address on port 67, others on port
// 4011), retransmitted with backoff for o.ProxyTimeout each (default
// DefaultBootServerTimeout), until a DHCPACK for that type arrives from
// port 67 or 4011 and, if accept is not nil, from a server in it.
func BootServer(ctx context.Context, ifc *ipstack.Interface, o Options, typ uint16, attempt, accept []netip.Addr) (*ProxyLease, error) {
	if o.ProxyTimeout <= 0 {
		o.ProxyTimeout = DefaultBootServerTimeout
	}
	o.setDefaults()
	name := ifc.Name()
	if len(attempt) == 0 {
		return nil, fmt.Errorf("PXE boot server discovery on %s: no boot server for type %#04x (none listed, broadcast and multicast disabled)", name, typ)
	}
	me := ifc.Config().Address.Addr()
	if !me.IsValid() || me.IsUnspecified() {
		return nil, fmt.Errorf("PXE boot server discovery on %s: the interface has no address: run DHCP first", name)
	}
	conn, err := ifc.Stack().ListenUDPBroadcast(ifc, netip.AddrPortFrom(me, clientPort))
	if err != nil {
		return nil, fmt.Errorf("PXE boot server discovery on %s: %w", name, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	c := &client{o: o, ifc: ifc, start: time.Now()}
	if _, err := rand.Read(c.xid[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, 1<<16)
	for _, dst := range attempt {
		port := pxePort
		if dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			port = serverPort
		}
		end := time.Now().Add(o.ProxyTimeout)
		timeout := o.InitialTimeout
		for time.Now().Before(end) {
			secs := uint16(min(time.Since(c.start)/time.Second, 0xffff))
			mods := append(c.common(secs, dhcpv4.MessageTypeRequest),
				dhcpv4.WithBroadcast(false),
				dhcpv4.WithClientIP(me.AsSlice()),
				dhcpv4.WithGeneric(dhcpv4.OptionVendorSpecificInformation, append(append([]byte{pxe.SubBootItem, 4}, pxe.BootItem(typ)...), 255)))
			m, _ := dhcpv4.New(mods...)
			o.Logf("DHCP %s: PXE boot server REQUEST for type %#04x to %v:%d", name, typ, dst, port)
			if _, err := conn.WriteTo(m.ToBytes(), &stdnet.UDPAddr{IP: dst.AsSlice(), Port: port}); err != nil {
				return nil, fmt.Errorf("PXE boot server REQUEST to %v:%d: %w", dst, port, err)
			}
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
					return nil, fmt.Errorf("receiving the boot server's answer: %w", err)
				}
				r, err := parseReply(buf[:n])
				if err != nil || r.msg.TransactionID != c.xid || !macEqual(r.msg.ClientHWAddr, ifc.MAC()) {
					continue
				}
				src := addrPort(from)
				if id, ok := acceptBootServer(r, src, typ, accept); ok {
					return proxyLease(r, id, "boot server"), nil
				}
			}
			timeout = min(timeout*2, o.MaxTimeout)
		}
	}
	return nil, fmt.Errorf("PXE boot server discovery on %s: no answer for type %#04x from %v", name, typ, attempt)
}

// acceptBootServer reports whether r, from src, answers a boot server
// request for typ (iPXE's dhcp_pxebs_rx): a DHCPACK from port 67 or
// 4011 whose option 43 names the same boot item type, from a server in
// accept unless accept is nil. It returns the server's pseudo-ID.
func acceptBootServer(r *reply, src netip.AddrPort, typ uint16, accept []netip.Addr) (netip.Addr, bool) {
	if src.Port() != serverPort && src.Port() != pxePort || r.msg.MessageType() != dhcpv4.MessageTypeAck {
		return netip.Addr{}, false
	}
	if t, ok := pxe.ItemType(r.opts[optVendorEncap]); !ok || t != typ {
		return netip.Addr{}, false
	}
	id := pseudoID(r, src.Addr())
	if accept == nil {
		return id, true
	}
	for _, a := range accept {
		if a == id {
			return id, true
		}
	}
	return netip.Addr{}, false
}
