package script

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/snp-go/snp-go/script/settings"
)

// statLinks adds NetStats to fakeLinks, and a boot server discovery that
// records option 43 and fails for type 99.
type statLinks struct {
	*fakeLinks
	ip    IPStats
	tcp   TCPStats
	neigh []Neighbour
	opt43 [][]byte
}

func (l *statLinks) IPStats() (IPStats, TCPStats, error) { return l.ip, l.tcp, nil }
func (l *statLinks) Neighbours() ([]Neighbour, error)    { return l.neigh, nil }
func (l *statLinks) PXEBootServer(ctx context.Context, name string, typ uint16, opt43 []byte) (settings.Lease, error) {
	l.opt43 = append(l.opt43, opt43)
	if typ == 99 {
		return settings.Lease{}, fmt.Errorf("no boot server answered: %w", context.DeadlineExceeded)
	}
	return l.fakeLinks.PXEBootServer(ctx, name, typ, opt43)
}

func newStatEnv() (*testEnv, *statLinks) {
	te := newTestEnv()
	sl := &statLinks{fakeLinks: te.links,
		ip: IPStats{InReceives: 1, InMcastPkts: 2, InBcastPkts: 3, InOctets: 4, InHdrErrors: 5, InAddrErrors: 6, InUnknownProtos: 7,
			InTruncatedPkts: 8, ReasmReqds: 9, ReasmOKs: 10, ReasmFails: 11, InDelivers: 12, OutRequests: 13, OutNoRoutes: 14,
			OutTransmits: 15, OutMcastPkts: 16, OutBcastPkts: 17, OutOctets: 18},
		tcp: TCPStats{InSegs: 19, InOctets: 20, InOctetsGood: 21, InDiscards: 22, InOutOfOrder: 23},
		neigh: []Neighbour{
			{Interface: "net0", Addr: netip.MustParseAddr("10.0.2.2"), MAC: []byte{0x52, 0x55, 0x0a, 0, 2, 2}},
			{Interface: "net0", Addr: netip.MustParseAddr("10.0.2.9"), Incomplete: true},
		},
	}
	te.e.env.Links = sl
	return te, sl
}

func TestNetStatCommands(t *testing.T) {
	tests := []struct {
		name   string
		script string
		plain  bool // fakeLinks without NetStats
		status Errno
		out    string
	}{
		{name: "ipstat", script: "ipstat\n", out: "IP version 4:\n" +
			"  InReceives:1 InMcastPkts:2 InBcastPkts:3 InOctets:4\n" +
			"  InHdrErrors:5 InAddrErrors:6 InUnknownProtos:7 InTruncatedPkts:8\n" +
			"  ReasmReqds:9 ReasmOKs:10 ReasmFails:11\n" +
			"  InDelivers:12 OutRequests:13 OutNoRoutes:14\n" +
			"  OutTransmits:15 OutMcastPkts:16 OutBcastPkts:17 OutOctets:18\n" +
			"TCP:\n  InSegs:19 InOctets:20 InOctetsGood:21\n  InDiscards:22 InOutOfOrder:23\n"},
		{name: "nstat", script: "nstat\n",
			out: "net0 IP 10.0.2.2 is Ethernet 52:55:0a:00:02:02\nnet0 IP 10.0.2.9 is Ethernet (incomplete) (ARP)\n"},
		{name: "ipstat takes no arguments", script: "ipstat net0\n", status: ERANGE,
			out: "Usage:\n\n  ipstat\n\nSee https://ipxe.org/cmd/ipstat for further information\n"},
		{name: "nstat --help", script: "nstat --help\n", status: ECANCELED,
			out: "Usage:\n\n  nstat\n\nSee https://ipxe.org/cmd/nstat for further information\n"},
		{name: "ipstat without a stack", script: "ipstat\n", plain: true, status: ENOTSUP},
		{name: "nstat without a stack", script: "nstat\n", plain: true, status: ENOTSUP},
		{name: "pxebs hex type", script: "pxebs net0 0x8001\necho ${pxebs/filename} ${pxebs/next-server}\n",
			out: "PXEBS (net0 type 32769)... ok\nitem-8001.ipxe 10.0.0.9\n"},
		{name: "pxebs decimal type", script: "pxebs net0 7\necho ${pxebs/filename}\n", out: "PXEBS (net0 type 7)... ok\nitem-0007.ipxe\n"},
		{name: "pxebs failure", script: "pxebs net0 99\n", status: ETIMEDOUT,
			out: "PXEBS (net0 type 99)... Connection timed out (0x4c000092)\n" +
				"Could not discover boot server on net0: Connection timed out (0x4c000092) [no boot server answered: context deadline exceeded]\n"},
		{name: "pxebs unknown interface", script: "pxebs net7 7\n", status: ENODEV, out: "\"net7\": no such network device\n"},
		{name: "pxebs bad type", script: "pxebs net0 seven\n", status: EINVAL, out: "\"seven\": invalid integer value\n"},
		{name: "pxebs needs two arguments", script: "pxebs net0\n", status: ERANGE,
			out: "Usage:\n\n  pxebs <interface> <server type>\n\nSee https://ipxe.org/cmd/pxebs for further information\n"},
		{name: "ifconf --configurator dhcp", script: "ifconf --configurator dhcp\n", out: "Configuring [dhcp] (net0 52:54:00:12:34:56)... ok\n"},
		{name: "ifconf unknown configurator", script: "ifconf -c bootp net0\n", status: ENOTSUP, out: "\"bootp\": no such configurator\n"},
		{name: "ifconf ipv6", script: "ifconf --configurator ipv6\n", status: ENOTSUP,
			out: "\"ipv6\": no such configurator (snp-go is IPv4-only: it has no IPv6 stack, so only \"dhcp\")\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			te, _ := newStatEnv()
			if tc.plain {
				te.e.env.Links = te.links
			}
			out, status, err := te.run(tc.script)
			if status != tc.status {
				t.Errorf("status %v (%v); want %v\n%s", status, err, tc.status, out)
			}
			out = downloadLines(out)
			if tc.out != "" && out != tc.out {
				t.Errorf("output:\n%q\nwant:\n%q", out, tc.out)
			}
		})
	}
}

// TestPXEBSOption43: pxebs hands the boot servers the PXE options of the
// DHCP answer, and replaces the previous answer's settings.
func TestPXEBSOption43(t *testing.T) {
	te, sl := newStatEnv()
	opt43 := []byte{6, 1, 3, 8, 7, 0x80, 0x01, 1, 10, 0, 0, 9, 255}
	te.links.leases["net0"].Options[43] = opt43
	out, status, err := te.run("dhcp\npxebs net0 0x8001\npxebs net0 7\necho ${pxebs/filename}\n")
	if status != 0 {
		t.Fatalf("status %v (%v)\n%s", status, err, out)
	}
	if len(sl.opt43) != 2 || string(sl.opt43[0]) != string(opt43) {
		t.Errorf("boot servers got option 43 %x; want %x twice", sl.opt43, opt43)
	}
	if !strings.HasSuffix(out, "item-0007.ipxe\n") {
		t.Errorf("output %q; want the second answer's filename last", out)
	}
}
