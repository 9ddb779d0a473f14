// Package nettest builds small in-memory networks of snp-go stacks for tests:
// two or more gVisor stacks joined by a net.Wire, with static addresses.
package nettest

import (
	stdnet "net"
	"net/netip"
	"testing"

	"github.com/snp-go/snp-go/net/ipstack"
)

// Host is one stack on the wire.
type Host struct {
	Stack *ipstack.Stack
	If    *ipstack.Interface
	Port  *ipstack.Port
	Addr  netip.Addr // zero when the host was created unconfigured
}

// HostOptions configure one host.
type HostOptions struct {
	// Prefix is the interface address; invalid leaves it unconfigured
	// (for DHCP clients).
	Prefix netip.Prefix
	Port   ipstack.PortOptions
	Stack  ipstack.Options
	// NIC, if set, wraps the wire port before the stack sees it.
	NIC func(ipstack.NIC) ipstack.NIC
}

// MAC returns a locally administered unicast MAC ending in n.
func MAC(n byte) stdnet.HardwareAddr { return stdnet.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x00, n} }

// AddHost attaches a new stack to w with interface "net0" and MAC(n). The
// stack is closed when the test ends.
func AddHost(tb testing.TB, w *ipstack.Wire, n byte, o HostOptions) *Host {
	tb.Helper()
	port := w.NewPort(MAC(n), o.Port)
	var nic ipstack.NIC = port
	if o.NIC != nil {
		nic = o.NIC(port)
	}
	s, err := ipstack.NewStack(o.Stack)
	if err != nil {
		tb.Fatalf("NewStack: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	ifc, err := s.AddInterface("net0", nic)
	if err != nil {
		tb.Fatalf("AddInterface: %v", err)
	}
	h := &Host{Stack: s, If: ifc, Port: port}
	if o.Prefix.IsValid() {
		if err := ifc.Configure(ipstack.Config{Address: o.Prefix}); err != nil {
			tb.Fatalf("Configure(%v): %v", o.Prefix, err)
		}
		h.Addr = o.Prefix.Addr()
	}
	return h
}

// Pair returns two configured hosts, 10.0.0.1/24 (MAC ending 1) and
// 10.0.0.2/24 (MAC ending 2), on a fresh wire.
func Pair(tb testing.TB, a, b HostOptions) (*Host, *Host) {
	tb.Helper()
	w := ipstack.NewWire()
	if !a.Prefix.IsValid() {
		a.Prefix = netip.MustParsePrefix("10.0.0.1/24")
	}
	if !b.Prefix.IsValid() {
		b.Prefix = netip.MustParsePrefix("10.0.0.2/24")
	}
	return AddHost(tb, w, 1, a), AddHost(tb, w, 2, b)
}
