package main

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/snp-go/snp-go/lab"
)

// TestQEMUNetStat: after dhcp and an HTTPS download, ipstat shows the
// counters of the traffic, nstat lists the gateway 10.0.2.2 with its MAC,
// and certstat lists the server's certificate, validated against the
// TRUST anchor (the CA, which the server did not send, is not held).
func TestQEMUNetStat(t *testing.T) {
	lab.SkipIfMissing(t)
	pki := newPKI(t, "snp-go")
	payload := make([]byte, 1<<20)
	rand.Read(payload)
	port := serveHTTPS(t, pki, map[string][]byte{"/payload.bin": payload})
	embed := writeFile(t, "embed.ipxe", []byte(fmt.Sprintf("#!ipxe\ndhcp\nimgfetch https://10.0.2.2:%d/payload.bin\n"+
		"echo IPSTAT-BEGIN\nipstat\necho NSTAT-BEGIN\nnstat\necho CERTSTAT-BEGIN\ncertstat\necho STAT-END\n", port)))
	efi := lab.NeedEFI(t, lab.EFIBuild{Embed: embed, Trust: []string{writeFile(t, "ca.pem", pki.caPEM)}})
	m, _ := lab.StartEFI(t, lab.Config{Firmware: lab.UBoot}, efi, "")

	if _, err := m.Expect("IPSTAT-BEGIN", 120*time.Second); err != nil {
		t.Fatal(err)
	}
	num := func(m lab.Match, i int) uint64 { n, _ := strconv.ParseUint(m.Groups[i], 10, 64); return n }
	in, err := m.Expect(regexp.MustCompile(`IP version 4:\r*\n  InReceives:(\d+) InMcastPkts:(\d+) InBcastPkts:(\d+) InOctets:(\d+)\r*\n`+
		`  InHdrErrors:(\d+) InAddrErrors:(\d+) InUnknownProtos:(\d+) InTruncatedPkts:(\d+)\r*\n`+
		`  ReasmReqds:(\d+) ReasmOKs:(\d+) ReasmFails:(\d+)\r*\n`+
		`  InDelivers:(\d+) OutRequests:(\d+) OutNoRoutes:(\d+)\r*\n`+
		`  OutTransmits:(\d+) OutMcastPkts:(\d+) OutBcastPkts:(\d+) OutOctets:(\d+)\r*\n`), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// DHCP's offer and ack may come broadcast; the download is ~720 segments.
	if num(in, 1) < (1<<20)/1460 || num(in, 4) < 1<<20 || num(in, 12) == 0 || num(in, 13) == 0 || num(in, 15) == 0 || num(in, 17) == 0 || num(in, 18) == 0 {
		t.Errorf("ipstat counters %q; want InReceives >= %d, InOctets >= 1 MiB, InDelivers, OutRequests, OutTransmits, OutBcastPkts (DHCP), OutOctets > 0",
			in.Groups[1:], (1<<20)/1460)
	}
	tcp, err := m.Expect(regexp.MustCompile(`TCP:\r*\n  InSegs:(\d+) InOctets:(\d+) InOctetsGood:(\d+)\r*\n  InDiscards:(\d+) InOutOfOrder:(\d+)`), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if num(tcp, 1) < (1<<20)/1460 || num(tcp, 2) < 1<<20 || num(tcp, 3) < 1<<20 {
		t.Errorf("ipstat TCP counters %q; want InSegs >= %d, InOctets and InOctetsGood >= 1 MiB", tcp.Groups[1:], (1<<20)/1460)
	}
	if _, err := m.Expect("NSTAT-BEGIN", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	gw, err := m.Expect(regexp.MustCompile(`net0 IP 10\.0\.2\.2 is Ethernet ([0-9a-f]{2}(:[0-9a-f]{2}){5})\r*\n`), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Expect("CERTSTAT-BEGIN", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(pki.cert.Certificate[0])
	if _, err := m.Expect(regexp.MustCompile(`10\.0\.2\.2 : `+hex.EncodeToString(sum[:])+` \[VALIDATED\]\r*\n`), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	end, err := m.Expect("STAT-END", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`snp-go test CA : `).MatchString(end.Before) {
		t.Errorf("certstat lists the trust anchor, which the server never sent:\n%s", end.Before)
	}
	t.Logf("ipstat: %s; gateway %s", in.Text, gw.Groups[1])
}
