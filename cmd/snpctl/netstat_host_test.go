package main

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

func TestParseProcARP(t *testing.T) {
	in := `IP address       HW type     Flags       HW address            Mask     Device
192.0.2.1        0x1         0x2         02:fc:00:00:00:05     *        eth0
192.0.2.7        0x1         0x0         00:00:00:00:00:00     *        eth0
10.9.9.9         0x1         0x2         02:aa:00:00:00:01     *        eth1
`
	got, err := parseProcARP(strings.NewReader(in), "eth0")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, n := range got {
		lines = append(lines, fmt.Sprintf("%s %s %v %v", n.Interface, n.Addr, net.HardwareAddr(n.MAC), n.Incomplete))
	}
	want := "net0 192.0.2.1 02:fc:00:00:00:05 false|net0 192.0.2.7  true"
	if strings.Join(lines, "|") != want {
		t.Errorf("parseProcARP = %q; want %q", strings.Join(lines, "|"), want)
	}
}
