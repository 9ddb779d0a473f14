package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/snp-go/snp-go/lab"
)

// pxeLab is a private network for QEMU with real DHCP servers: namespace
// "lan" holds bridge br0 (10.77.0.1, where the DHCP server runs) and
// tap0, QEMU's NIC; namespace "pxe" is a second host, 10.77.0.2, joined
// to br0 by a veth pair. The TFTP root holds boot.ipxe.
type pxeLab struct {
	lan, pxe *lab.NetNS
	dir      string
	tftp     string
}

func newPXELab(t *testing.T) *pxeLab {
	t.Helper()
	lab.SkipIfMissing(t)
	lab.NeedNetNS(t)
	if _, err := exec.LookPath("dnsmasq"); err != nil {
		t.Skip("SKIP: dnsmasq (Debian package dnsmasq-base) missing: needed for the ProxyDHCP tests")
	}
	l := &pxeLab{lan: lab.NewNetNS(t, "snpgo-lan"), pxe: lab.NewNetNS(t, "snpgo-pxe"), dir: t.TempDir()}
	l.lan.IP("link", "add", "br0", "type", "bridge")
	l.lan.IP("addr", "add", "10.77.0.1/24", "dev", "br0")
	l.lan.IP("link", "set", "br0", "up")
	l.lan.IP("tuntap", "add", "dev", "tap0", "mode", "tap")
	l.lan.IP("link", "set", "tap0", "master", "br0", "up")
	l.lan.IP("link", "add", "pxe0", "type", "veth", "peer", "name", "eth0", "netns", l.pxe.Name)
	l.lan.IP("link", "set", "pxe0", "master", "br0", "up")
	l.pxe.IP("addr", "add", "10.77.0.2/24", "dev", "eth0")
	l.pxe.IP("link", "set", "eth0", "up")
	l.tftp = filepath.Join(l.dir, "tftp")
	os.Mkdir(l.tftp, 0o755)
	os.WriteFile(filepath.Join(l.tftp, "boot.ipxe"), []byte("#!ipxe\necho chain-ok filename=${filename} proxy=[${proxydhcp/filename}] dhcp-file=[${net0.dhcp/filename}] ip=${net0/ip}\n"), 0o644)
	return l
}

// dnsmasq starts dnsmasq in ns on iface with args and waits until it
// listens.
func (l *pxeLab) dnsmasq(t *testing.T, ns *lab.NetNS, iface string, args ...string) *lab.Daemon {
	t.Helper()
	all := append([]string{"--no-daemon", "--conf-file=/dev/null", "--port=0", "--bind-interfaces", "--user=root",
		"--log-dhcp", "--log-facility=-", "--interface=" + iface}, args...)
	d := ns.Start("dnsmasq", all...)
	if err := d.WaitOutput("sockets bound exclusively", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return d
}

// boot boots snp-go.efi (no embedded script: iPXE's autoboot) on the
// lab and returns how long "Configuring (net0 ...)..." took to say ok.
func (l *pxeLab) boot(t *testing.T) (*lab.Machine, time.Duration) {
	t.Helper()
	efi := lab.NeedEFI(t, lab.EFIBuild{})
	m := boot(t, efi, lab.Config{Tap: "tap0", NetNS: l.lan.Name})
	if _, err := m.Bootefi("0:1", "snp-go.efi", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	c, err := m.Expect(regexp.MustCompile(`Configuring \(net0 [0-9a-f:]+\)\.\.\.`), 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := m.Expect(" ok", 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return m, ok.At.Sub(c.At)
}

func expectLines(t *testing.T, m *lab.Machine, res ...string) {
	t.Helper()
	for _, re := range res {
		mt, err := m.Expect(regexp.MustCompile(re), 60*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("console: %s", strings.TrimSpace(mt.Text))
	}
}

// TestQEMUProxyDHCP: one dnsmasq is the DHCP server and gives no boot
// file; another dnsmasq, on another host, is a ProxyDHCP server
// (dhcp-range=...,proxy) that gives the boot file on port 4011 and serves
// it over TFTP. snp-go must get its address from the first, its boot file
// from the second, and chain the script.
func TestQEMUProxyDHCP(t *testing.T) {
	l := newPXELab(t)
	dhcpd := l.dnsmasq(t, l.lan, "br0", "--dhcp-range=10.77.0.100,10.77.0.150,255.255.255.0,1h",
		"--dhcp-leasefile="+filepath.Join(l.dir, "leases"))
	proxy := l.dnsmasq(t, l.pxe, "eth0", "--dhcp-range=10.77.0.0,proxy",
		"--pxe-service=ARM64_EFI,snp-go via ProxyDHCP,boot.ipxe", "--enable-tftp", "--tftp-root="+l.tftp)
	m, took := l.boot(t)
	expectLines(t, m,
		`net0: ProxyDHCP 10\.77\.0\.2 \(port 4011\): filename "boot\.ipxe" next-server 10\.77\.0\.2\r*\n`,
		`Using the ProxyDHCP filename boot\.ipxe\r*\nNext server: 10\.77\.0\.2\r*\n`,
		`chain-ok filename=boot\.ipxe proxy=\[boot\.ipxe\] dhcp-file=\[\] ip=10\.77\.0\.1\d\d\r*\n`,
		`snp-go: returning to firmware`)
	t.Logf("DHCP with ProxyDHCP on port 4011: %v (includes dnsmasq's ping check of a new address, up to 3 s)", took.Round(time.Millisecond))
	// The servers saw it: the address from the DHCP server, the file from
	// the proxy on port 4011 and over its TFTP.
	if out := dhcpd.Output(); !regexp.MustCompile(`DHCPACK\(br0\) 10\.77\.0\.1\d\d`).MatchString(out) {
		t.Errorf("the DHCP server's log has no DHCPACK:\n%s", out)
	}
	out := proxy.Output()
	for _, want := range []string{"bootfile name: boot.ipxe", "boot.ipxe to 10.77.0.1"} {
		if !strings.Contains(out, want) {
			t.Errorf("the ProxyDHCP server's log lacks %q:\n%s", want, out)
		}
	}
}

// TestQEMUDHCPNoProxyWait: a plain DHCP server that gives the boot file,
// no ProxyDHCP service: snp-go does not wait for ProxyDHCP offers (iPXE
// waits about 2 s here on every boot).
func TestQEMUDHCPNoProxyWait(t *testing.T) {
	l := newPXELab(t)
	l.dnsmasq(t, l.lan, "br0", "--dhcp-range=10.77.0.100,10.77.0.150,255.255.255.0,1h",
		"--dhcp-leasefile="+filepath.Join(l.dir, "leases"), "--no-ping",
		"--dhcp-boot=boot.ipxe", "--enable-tftp", "--tftp-root="+l.tftp)
	m, took := l.boot(t)
	expectLines(t, m,
		`Next server: 10\.77\.0\.1\r*\n`,
		`chain-ok filename=boot\.ipxe proxy=\[\] dhcp-file=\[boot\.ipxe\] ip=10\.77\.0\.1\d\d\r*\n`,
		`snp-go: returning to firmware`)
	t.Logf("DHCP without ProxyDHCP: %v", took.Round(time.Millisecond))
	if took > 1500*time.Millisecond {
		t.Errorf("DHCP took %v with an answering server and no ProxyDHCP; want no ProxyDHCP wait (well under iPXE's 2 s)", took)
	}
}

// TestQEMUPXEMenu: the ProxyDHCP dnsmasq offers a PXE boot menu (two
// pxe-service lines and pxe-prompt): snp-go lists it, the second item is
// chosen on the serial console, snp-go asks the boot server (dnsmasq on
// port 4011, option 43.71) for that item and boots the file it names.
func TestQEMUPXEMenu(t *testing.T) {
	l := newPXELab(t)
	for _, f := range []string{"first", "second"} {
		os.WriteFile(filepath.Join(l.tftp, f+".ipxe"), []byte("#!ipxe\necho menu-item-"+f+" pxebs=${pxebs/filename} ip=${net0/ip}\n"), 0o644)
	}
	l.dnsmasq(t, l.lan, "br0", "--dhcp-range=10.77.0.100,10.77.0.150,255.255.255.0,1h",
		"--dhcp-leasefile="+filepath.Join(l.dir, "leases"))
	proxy := l.dnsmasq(t, l.pxe, "eth0", "--dhcp-range=10.77.0.0,proxy",
		"--pxe-service=ARM64_EFI,first item,first.ipxe", "--pxe-service=ARM64_EFI,second item,second.ipxe",
		"--pxe-prompt=Choose a boot item,30", "--enable-tftp", "--tftp-root="+l.tftp)
	m, _ := l.boot(t)
	expectLines(t, m,
		`net0: ProxyDHCP 10\.77\.0\.2 \(port 4011\): no filename\r*\n`,
		`Booting from PXE menu \(proxydhcp\)\r*\n  1\. first item\r*\n  2\. second item\r*\n`,
		`Choose a boot item \(30\)`)
	m.Send("2")
	expectLines(t, m,
		`PXE boot menu: second item \(type 0x8001\)\r*\n`,
		`PXE boot server 10\.77\.0\.2: filename second\.ipxe\r*\n`,
		`menu-item-second pxebs=second\.ipxe ip=10\.77\.0\.1\d\d\r*\n`,
		`snp-go: returning to firmware`)
	if out := proxy.Output(); !strings.Contains(out, "bootfile name: second.ipxe") || !strings.Contains(out, "second.ipxe to 10.77.0.1") {
		t.Errorf("the ProxyDHCP server's log lacks the boot server answer or the TFTP transfer of second.ipxe:\n%s", out)
	}
}
