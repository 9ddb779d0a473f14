package ipstack

import (
	"fmt"
	stdnet "net"
	"net/netip"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Route is one IPv4 route: Dst via Gateway (Gateway invalid = on-link).
type Route struct {
	Dst     netip.Prefix
	Gateway netip.Addr
}

// Config is the IPv4 configuration of one interface, as DHCP or the
// script's `set net0/ip …` commands produce it.
type Config struct {
	Address netip.Prefix // address and subnet mask; invalid = unconfigured
	Gateway netip.Addr   // default router; ignored when Routes has a /0
	Routes  []Route      // extra routes (DHCP option 121, RFC 3442)
	DNS     []netip.Addr // DNS servers
	Domain  string       // DNS search domain
}

// Interface is one network interface of a Stack.
type Interface struct {
	stack *Stack
	name  string
	id    tcpip.NICID
	nic   NIC
	link  *linkEndpoint

	mu  sync.Mutex
	cfg Config
}

// Name returns the interface name ("net0").
func (i *Interface) Name() string { return i.name }

// ID returns the gVisor NIC id.
func (i *Interface) ID() tcpip.NICID { return i.id }

// MAC returns the interface's hardware address.
func (i *Interface) MAC() stdnet.HardwareAddr { return i.nic.MAC() }

// NIC returns the underlying NIC.
func (i *Interface) NIC() NIC { return i.nic }

// Stack returns the stack the interface belongs to.
func (i *Interface) Stack() *Stack { return i.stack }

// Stats returns the link-layer counters.
func (i *Interface) Stats() LinkStats { return i.link.stats() }

// Config returns the current configuration.
func (i *Interface) Config() Config {
	i.mu.Lock()
	defer i.mu.Unlock()
	c := i.cfg
	c.Routes = append([]Route(nil), c.Routes...)
	c.DNS = append([]netip.Addr(nil), c.DNS...)
	return c
}

func addrFrom(a netip.Addr) tcpip.Address { return tcpip.AddrFrom4(a.As4()) }

// Configure replaces the interface's IPv4 address and routes with c. Routes
// in c.Routes take precedence over c.Gateway (RFC 3442 section 1: a client
// that receives option 121 ignores option 3).
func (i *Interface) Configure(c Config) error {
	if c.Address.IsValid() && !c.Address.Addr().Is4() {
		return fmt.Errorf("net: %s: address %v is not IPv4 (IPv6 is not supported yet)", i.name, c.Address)
	}
	s := i.stack.s
	// Drop the old addresses and this interface's routes.
	i.removeIPv4Addresses()
	s.RemoveRoutes(func(r tcpip.Route) bool { return r.NIC == i.id })

	if c.Address.IsValid() {
		pa := tcpip.ProtocolAddress{
			Protocol: ipv4.ProtocolNumber,
			AddressWithPrefix: tcpip.AddressWithPrefix{
				Address: addrFrom(c.Address.Addr()), PrefixLen: c.Address.Bits(),
			},
		}
		if err := s.AddProtocolAddress(i.id, pa, stackAddrProps); err != nil {
			return fmt.Errorf("net: %s: adding address %v: %s", i.name, c.Address, err)
		}
		sub := pa.AddressWithPrefix.Subnet()
		s.AddRoute(tcpip.Route{Destination: sub, NIC: i.id})
		hasDefault := false
		for _, r := range c.Routes {
			if !r.Dst.Addr().Is4() || (r.Gateway.IsValid() && !r.Gateway.Is4()) {
				return fmt.Errorf("net: %s: route %v via %v is not IPv4", i.name, r.Dst, r.Gateway)
			}
			r.Dst = r.Dst.Masked()
			sub, err := tcpip.NewSubnet(addrFrom(r.Dst.Addr()), tcpip.MaskFromBytes(prefixMask(r.Dst.Bits())))
			if err != nil {
				return fmt.Errorf("net: %s: route %v: %v", i.name, r.Dst, err)
			}
			rt := tcpip.Route{Destination: sub, NIC: i.id}
			if r.Gateway.IsValid() && !r.Gateway.IsUnspecified() {
				rt.Gateway = addrFrom(r.Gateway)
			}
			if r.Dst.Bits() == 0 {
				hasDefault = true
			}
			s.AddRoute(rt)
		}
		if !hasDefault && c.Gateway.IsValid() && c.Gateway.Is4() && !c.Gateway.IsUnspecified() && len(c.Routes) == 0 {
			s.AddRoute(tcpip.Route{Destination: header.IPv4EmptySubnet, Gateway: addrFrom(c.Gateway), NIC: i.id})
		}
	}
	i.mu.Lock()
	i.cfg = c
	i.cfg.Routes = append([]Route(nil), c.Routes...)
	i.cfg.DNS = append([]netip.Addr(nil), c.DNS...)
	i.mu.Unlock()

	i.stack.mu.Lock()
	hooks := append(([]func(*Interface, Config))(nil), i.stack.hooks...)
	i.stack.mu.Unlock()
	for _, h := range hooks {
		h(i, i.Config())
	}
	return nil
}

var stackAddrProps = stack.AddressProperties{}

func (i *Interface) removeIPv4Addresses() {
	for _, pa := range i.stack.s.AllAddresses()[i.id] {
		// 255.255.255.255 is gVisor's own permanent address for limited
		// broadcast reception; keep it.
		if pa.Protocol == ipv4.ProtocolNumber && pa.AddressWithPrefix.Address != header.IPv4Broadcast {
			i.stack.s.RemoveAddress(i.id, pa.AddressWithPrefix.Address)
		}
	}
}

func prefixMask(bits int) []byte {
	m := make([]byte, 4)
	for b := 0; b < bits; b++ {
		m[b/8] |= 0x80 >> (b % 8)
	}
	return m
}
