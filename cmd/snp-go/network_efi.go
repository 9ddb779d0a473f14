//go:build tamago && arm64

package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/snp-go/snp-go/efi"
	"github.com/snp-go/snp-go/net/dhcp"
	"github.com/snp-go/snp-go/net/dns"
	"github.com/snp-go/snp-go/net/fetch"
	"github.com/snp-go/snp-go/net/fetch/ftp"
	"github.com/snp-go/snp-go/net/fetch/nfs"
	"github.com/snp-go/snp-go/net/fetch/tftp"
	"github.com/snp-go/snp-go/net/ipstack"
	"github.com/snp-go/snp-go/net/vlan"
)

// network is snp-go's network: every Simple Network handle U-Boot offers,
// as net0, net1, ... on one gVisor stack.
type network struct {
	stack    *ipstack.Stack
	nics     []*efi.SNP
	muxes    []*vlan.Mux // one per NIC: 802.1Q tagging happens here
	resolver *dns.Resolver
	fetch    *fetch.Client
	http     *fetch.HTTP // the http and https Fetcher in fetch
	trust    string      // where the trust anchors come from
}

// SetTCPWindow sets the TCP receive buffer (per connection and in total)
// before the network is opened.
func (p *efiPlatform) SetTCPWindow(n int) { p.tcpWindow = n }

// Network opens the NICs once and returns the network.
func (p *efiPlatform) Network() (*network, error) {
	if p.net != nil {
		return p.net, nil
	}
	hs, paths, err := efi.NetworkInterfaces()
	if err != nil {
		return nil, fmt.Errorf("no network interface: %w", err)
	}
	st, err := ipstack.NewStack(ipstack.Options{ReceiveBuffer: p.tcpWindow, ReceiveBudget: p.tcpWindow})
	if err != nil {
		return nil, err
	}
	n := &network{stack: st}
	for i, h := range hs {
		nic, err := efi.OpenSNP(h, paths[i])
		if err != nil {
			fmt.Printf("net%d: cannot open: %v\n", i, err)
			continue
		}
		name := fmt.Sprintf("net%d", len(n.nics))
		mux := vlan.NewMux(nic)
		if _, err := st.AddInterface(name, mux.Native()); err != nil {
			return nil, err
		}
		n.nics = append(n.nics, nic)
		n.muxes = append(n.muxes, mux)
		how := "exclusive"
		if !nic.Exclusive {
			how = fmt.Sprintf("shared: %v", nic.Shared)
		}
		fmt.Printf("%s: %s (MTU %d, %s)\n", name, nic, nic.MTU(), how)
	}
	if len(n.nics) == 0 {
		return nil, fmt.Errorf("no usable network interface among %d Simple Network handles", len(hs))
	}
	// When the OS loader exits boot services, stop the NICs: no receive
	// DMA may stay armed in U-Boot's driver.
	efi.OnExitBootServices(func() {
		for _, nic := range n.nics {
			nic.Close()
		}
	})
	ipstack.InstallSocketFunc(st)
	n.resolver = &dns.Resolver{Stack: st}
	var trust *fetch.Trust
	if pem := embeddedFile("trust.pem"); pem != nil {
		if trust, err = fetch.TrustFromPEM(pem); err != nil {
			return nil, fmt.Errorf("embedded trust anchors (make TRUST=...): %w", err)
		}
		n.trust = "embedded (make TRUST)"
	} else {
		trust = fetch.PublicRoots()
		n.trust = "public roots"
	}
	n.http, err = fetch.NewHTTP(fetch.HTTPConfig{Dial: n.resolver.Dialer(), Trust: trust, Clock: fetch.Clock{Now: p.now, Source: p.clock}, Store: &certStore})
	if err != nil {
		return nil, err
	}
	n.fetch = fetch.NewClient()
	n.fetch.Register("http", n.http)
	n.fetch.Register("https", n.http)
	n.fetch.Register("file", newFileFetcher(p.image))
	// iPXE's other download protocols: tftp:// (its default), ftp://, nfs://.
	for _, err := range []error{
		fetch.RegisterNew(n.fetch, "tftp", tftp.New, tftp.StackConfig(n.resolver)),
		fetch.RegisterNew(n.fetch, "ftp", ftp.New, ftp.StackConfig(n.resolver)),
		fetch.RegisterNew(n.fetch, "nfs", nfs.New, nfs.StackConfig(n.resolver)),
	} {
		if err != nil {
			return nil, err
		}
	}
	p.net = n
	return n, nil
}

// SelftestNet brings up net0 with DHCP, optionally pings an address and
// fetches a URL, and reports the figures.
func (p *efiPlatform) SelftestNet(pingAddr, url string) error {
	n, err := p.Network()
	if err != nil {
		return err
	}
	ifc := n.stack.Interfaces()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lease, err := dhcp.Run(ctx, ifc, dhcp.Options{})
	if err != nil {
		return fmt.Errorf("DHCP on %s: %w", ifc.Name(), err)
	}
	fmt.Printf("dhcp: %s got %s gateway %v dns %v from %v in %v (%d messages)\n", ifc.Name(), lease.Config.Address,
		lease.Config.Gateway, lease.Config.DNS, lease.ServerID, lease.Elapsed.Round(time.Microsecond), lease.Sent)
	if pingAddr != "" {
		a, err := netip.ParseAddr(pingAddr)
		if err != nil {
			return fmt.Errorf("--ping %q: %w", pingAddr, err)
		}
		st, err := n.stack.Ping(ctx, a, ipstack.PingOptions{Count: 3, Interval: 200 * time.Millisecond})
		if err != nil {
			return fmt.Errorf("ping %v: %w", a, err)
		}
		fmt.Printf("ping: %v: %d/%d replies, rtt min/avg/max %v/%v/%v\n", a, st.Received, st.Sent, st.Min, st.Avg, st.Max)
	}
	if url != "" {
		fmt.Printf("fetch: %s (trust: %s, clock: %s)\n", url, n.trust, p.clock)
		h := sha256.New()
		t := time.Now()
		got, err := n.fetch.Fetch(ctx, url, h, fetch.Options{})
		if err != nil {
			return err
		}
		el := time.Since(t)
		fmt.Printf("fetch: %d bytes sha256 %x in %v (%.1f MB/s)\n", got, h.Sum(nil), el.Round(time.Millisecond), float64(got)/el.Seconds()/1e6)
	}
	return nil
}

var _ io.Writer = sha256.New()

// received returns the frames received on all interfaces so far.
func (n *network) received() uint64 {
	var sum uint64
	for _, ifc := range n.stack.Interfaces() {
		sum += ifc.Stats().RxFrames
	}
	return sum
}

// physical returns the NIC under interface name ("net0", "net0-5").
func (n *network) physical(name string) *efi.SNP {
	i, _, err := vlan.ParseName(name)
	if err != nil || i >= len(n.nics) {
		return nil
	}
	return n.nics[i]
}

// createVLAN is iPXE's `vcreate --tag TAG TRUNK`: a tagged interface
// TRUNK-TAG on the same NIC (IEEE 802.1Q, VID 1-4094).
func (n *network) createVLAN(trunk string, tag, priority int) (string, error) {
	i, vid, err := vlan.ParseName(trunk)
	if err != nil || vid != 0 || i >= len(n.muxes) {
		return "", fmt.Errorf("vcreate: %s is not a physical interface", trunk)
	}
	if tag < vlan.MinVID || tag > vlan.MaxVID {
		return "", fmt.Errorf("vcreate: VLAN tag %d out of range %d-%d", tag, vlan.MinVID, vlan.MaxVID)
	}
	if priority < 0 || priority > vlan.MaxPCP {
		return "", fmt.Errorf("vcreate: VLAN priority %d out of range 0-%d", priority, vlan.MaxPCP)
	}
	nic, err := n.muxes[i].VLAN(uint16(tag), uint8(priority))
	if err != nil {
		return "", err
	}
	name := vlan.Name(i, uint16(tag))
	if _, err := n.stack.AddInterface(name, nic); err != nil {
		return "", err
	}
	return name, nil
}

// destroyVLAN is iPXE's `vdestroy NAME`.
func (n *network) destroyVLAN(name string) error {
	if _, vid, err := vlan.ParseName(name); err != nil || vid == 0 {
		return fmt.Errorf("vdestroy: %s is not a VLAN interface", name)
	}
	return n.stack.RemoveInterface(name)
}
