package script

import (
	"context"
	"net"
	"net/netip"

	"github.com/snp-go/snp-go/script/settings"
)

// IPStats are the IPv4 counters iPXE's ipstat shows (RFC 4293
// ipSystemStatsTable).
type IPStats struct {
	InReceives, InOctets, InMcastPkts, InBcastPkts              uint64
	InHdrErrors, InAddrErrors, InUnknownProtos, InTruncatedPkts uint64
	ReasmReqds, ReasmOKs, ReasmFails                            uint64
	InDelivers, OutRequests, OutNoRoutes                        uint64
	OutTransmits, OutMcastPkts, OutBcastPkts, OutOctets         uint64
}

// TCPStats are the TCP counters iPXE's ipstat shows.
type TCPStats struct {
	InSegs, InOctets, InOctetsGood, InDiscards, InOutOfOrder uint64
}

// Neighbour is one IPv4 neighbour (ARP cache) entry.
type Neighbour struct {
	Interface  string
	Addr       netip.Addr
	MAC        []byte // nil while Incomplete
	Incomplete bool   // an ARP request is out, no reply yet
}

func netStatCommands() []*Command {
	return []*Command{
		{Name: "ipstat", Summary: "Show IP statistics", Run: ipstatRun},
		{Name: "nstat", Summary: "Show the neighbour (ARP) table", Run: nstatRun},
		{Name: "pxebs", Summary: "Discover a PXE boot server", Usage: "<interface> <server type>", Min: 2, Max: 2, Run: pxebsRun},
	}
}

func (e *Engine) netStats(cmd string) (NetStats, error) {
	ns, ok := e.env.Links.(NetStats)
	if !ok {
		return nil, notAvailable(cmd, "the network stack's statistics")
	}
	return ns, nil
}

// ipstat prints iPXE's usr/ipstat.c table. snp-go has IPv4 only, so
// there is no "IP version 6:" block.
func ipstatRun(ctx context.Context, c *Call) error {
	ns, err := c.E.netStats(c.Name)
	if err != nil {
		return err
	}
	ip, tcp, err := ns.IPStats()
	if err != nil {
		return &Error{Errno: StatusOf(err), Err: err}
	}
	c.E.printf("IP version 4:\n")
	c.E.printf("  InReceives:%d InMcastPkts:%d InBcastPkts:%d InOctets:%d\n", ip.InReceives, ip.InMcastPkts, ip.InBcastPkts, ip.InOctets)
	c.E.printf("  InHdrErrors:%d InAddrErrors:%d InUnknownProtos:%d InTruncatedPkts:%d\n",
		ip.InHdrErrors, ip.InAddrErrors, ip.InUnknownProtos, ip.InTruncatedPkts)
	c.E.printf("  ReasmReqds:%d ReasmOKs:%d ReasmFails:%d\n", ip.ReasmReqds, ip.ReasmOKs, ip.ReasmFails)
	c.E.printf("  InDelivers:%d OutRequests:%d OutNoRoutes:%d\n", ip.InDelivers, ip.OutRequests, ip.OutNoRoutes)
	c.E.printf("  OutTransmits:%d OutMcastPkts:%d OutBcastPkts:%d OutOctets:%d\n", ip.OutTransmits, ip.OutMcastPkts, ip.OutBcastPkts, ip.OutOctets)
	c.E.printf("TCP:\n")
	c.E.printf("  InSegs:%d InOctets:%d InOctetsGood:%d\n", tcp.InSegs, tcp.InOctets, tcp.InOctetsGood)
	c.E.printf("  InDiscards:%d InOutOfOrder:%d\n", tcp.InDiscards, tcp.InOutOfOrder)
	return nil
}

// nstat prints iPXE's usr/neighmgmt.c lines: "net0 IP 10.0.2.2 is
// Ethernet 52:55:0a:00:02:02", or "... is Ethernet (incomplete) (ARP)"
// while the address is being resolved.
func nstatRun(ctx context.Context, c *Call) error {
	ns, err := c.E.netStats(c.Name)
	if err != nil {
		return err
	}
	list, err := ns.Neighbours()
	if err != nil {
		return &Error{Errno: StatusOf(err), Err: err}
	}
	for _, n := range list {
		if n.Incomplete {
			c.E.printf("%s IP %s is Ethernet (incomplete) (ARP)\n", n.Interface, n.Addr)
			continue
		}
		c.E.printf("%s IP %s is Ethernet %s\n", n.Interface, n.Addr, net.HardwareAddr(n.MAC))
	}
	return nil
}

// pxebs <interface> <server type> is iPXE's pxebs (hci/commands/
// dhcp_cmd.c, usr/dhcpmgmt.c): PXE boot server discovery for one boot
// server type (decimal or 0x hex; sent as 16 bits), to the servers the
// PXE options (43) of the DHCP or ProxyDHCP answer name, else broadcast.
// The answer becomes settings scope "pxebs".
func pxebsRun(ctx context.Context, c *Call) error {
	if c.E.env.Links == nil {
		return notAvailable(c.Name, "the network: no network interfaces in this build")
	}
	i, ok := c.E.iface(c.Args[0])
	if !ok {
		return saidf(ENODEV, "%q: no such network device", c.Args[0])
	}
	typ, err := parseInt(c.Args[1])
	if err != nil {
		return err
	}
	bs, ok := c.E.env.Links.(BootServers)
	if !ok {
		return notAvailable(c.Name, "PXE boot server discovery")
	}
	c.E.printf("PXEBS (%s type %d)...", i.Name, uint32(typ))
	lease, err := bs.PXEBootServer(ctx, i.Name, uint16(typ), c.E.rawSetting("43"))
	if err != nil {
		n := StatusOf(err)
		if ctx.Err() != nil {
			n = ECANCELED
		}
		c.E.printf(" %s\n", n)
		return saidf(n, "Could not discover boot server on %s: %s [%v]", i.Name, n, err)
	}
	c.E.printf(" ok\n")
	if c.E.Settings.HasScope(settings.PXEBSScope) {
		c.E.Settings.ClearScope(settings.PXEBSScope)
	}
	if err := settings.ApplyDHCP(c.E.Settings, settings.PXEBSScope, lease); err != nil {
		c.E.printf("%s: PXE boot server warning: %v\n", i.Name, err)
	}
	return nil
}

// configuratorError is iPXE's parse_netdev_configurator failure.
func configuratorError(name string) error {
	if name == "ipv6" {
		return saidf(ENOTSUP, "%q: no such configurator (snp-go is IPv4-only: it has no IPv6 stack, so only \"dhcp\")", name)
	}
	return saidf(ENOTSUP, "%q: no such configurator", name)
}
