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

// TestQEMUProxyDHCP boots snp-go.efi (no embedded script: iPXE's
// autoboot) on a private network with real servers: one dnsmasq is the
// DHCP server and gives no boot file; another dnsmasq, on another host,
// is a ProxyDHCP server (dhcp-range=...,proxy) that gives the boot file
// on port 4011 and serves it over TFTP. snp-go must get its address from
// the first, its boot file from the second, and chain the script.
//
// Layout: namespace "lan" holds bridge br0 (10.77.0.1, the DHCP server)
// and tap0, QEMU's NIC; namespace "pxe" is the ProxyDHCP host, 10.77.0.2,
// joined to br0 by a veth pair.
func TestQEMUProxyDHCP(t *testing.T) {
	lab.SkipIfMissing(t)
	lab.NeedNetNS(t)
	if _, err := exec.LookPath("dnsmasq"); err != nil {
		t.Skip("SKIP: dnsmasq (Debian package dnsmasq) missing: needed for the ProxyDHCP test")
	}
	efi := lab.NeedEFI(t, lab.EFIBuild{})

	lan := lab.NewNetNS(t, "snpgo-lan")
	pxe := lab.NewNetNS(t, "snpgo-pxe")
	lan.IP("link", "add", "br0", "type", "bridge")
	lan.IP("addr", "add", "10.77.0.1/24", "dev", "br0")
	lan.IP("link", "set", "br0", "up")
	lan.IP("tuntap", "add", "dev", "tap0", "mode", "tap")
	lan.IP("link", "set", "tap0", "master", "br0", "up")
	lan.IP("link", "add", "pxe0", "type", "veth", "peer", "name", "eth0", "netns", pxe.Name)
	lan.IP("link", "set", "pxe0", "master", "br0", "up")
	pxe.IP("addr", "add", "10.77.0.2/24", "dev", "eth0")
	pxe.IP("link", "set", "eth0", "up")

	dir := t.TempDir()
	tftp := filepath.Join(dir, "tftp")
	os.Mkdir(tftp, 0o755)
	os.WriteFile(filepath.Join(tftp, "boot.ipxe"), []byte("#!ipxe\necho proxydhcp-chain-ok filename=${filename} proxy=${proxydhcp/filename} dhcp-file=[${net0.dhcp/filename}] ip=${net0/ip}\n"), 0o644)
	common := []string{"--no-daemon", "--conf-file=/dev/null", "--port=0", "--bind-interfaces", "--user=root", "--log-dhcp", "--log-facility=-"}
	dhcpd := lan.Start("dnsmasq", append(common, "--interface=br0",
		"--dhcp-range=10.77.0.100,10.77.0.150,255.255.255.0,1h",
		"--dhcp-leasefile="+filepath.Join(dir, "leases"))...)
	proxy := pxe.Start("dnsmasq", append(common, "--interface=eth0",
		"--dhcp-range=10.77.0.0,proxy",
		`--pxe-service=ARM64_EFI,snp-go via ProxyDHCP,boot.ipxe`,
		"--enable-tftp", "--tftp-root="+tftp)...)
	for _, d := range []*lab.Daemon{dhcpd, proxy} {
		if err := d.WaitOutput("sockets bound exclusively", 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}

	m := boot(t, efi, lab.Config{Tap: "tap0", NetNS: lan.Name})
	if _, err := m.Bootefi("0:1", "snp-go.efi", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	conf, err := m.Expect(regexp.MustCompile(`Configuring \(net0 [0-9a-f:]+\)\.\.\. ok`), 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`net0: ProxyDHCP 10\.77\.0\.2 \(port 4011\): filename "boot\.ipxe" next-server 10\.77\.0\.2\r*\n`),
		regexp.MustCompile(`Using the ProxyDHCP filename boot\.ipxe\r*\nNext server: 10\.77\.0\.2\r*\n`),
		regexp.MustCompile(`proxydhcp-chain-ok filename=boot\.ipxe proxy=boot\.ipxe dhcp-file=\[\] ip=10\.77\.0\.1\d\d\r*\n`),
		regexp.MustCompile(`snp-go: returning to firmware`),
	} {
		mt, err := m.Expect(want, 60*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("console: %s", strings.TrimSpace(mt.Text))
	}
	t.Logf("DHCP (with ProxyDHCP on port 4011): Configuring... ok at %v after start", conf.At.Sub(m.Started()).Round(time.Millisecond))
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
