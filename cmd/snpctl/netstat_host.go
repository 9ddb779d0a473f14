package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/snp-go/snp-go/script"
)

// IPStats: the host's IP counters are the whole machine's traffic, not
// a script's, so ipstat is not available in snpctl run.
func (l *hostLinks) IPStats() (script.IPStats, script.TCPStats, error) {
	return script.IPStats{}, script.TCPStats{}, fmt.Errorf("ipstat: %w (needs snp-go's own network stack; snpctl uses the host's)", script.ErrNotAvailable)
}

// Neighbours: nstat shows the host's ARP cache for the interface shown as
// net0 (Linux /proc/net/arp).
func (l *hostLinks) Neighbours() ([]script.Neighbour, error) {
	f, err := os.Open("/proc/net/arp")
	if err != nil {
		return nil, fmt.Errorf("nstat: %w (the host's ARP cache: %v)", script.ErrNotAvailable, err)
	}
	defer f.Close()
	return parseProcARP(f, l.name)
}

// parseProcARP reads /proc/net/arp lines ("IP address HW type Flags HW
// address Mask Device") for device dev, naming them net0. Flags 0x2
// (ATF_COM) is a resolved entry; without it the entry is incomplete.
func parseProcARP(r io.Reader, dev string) ([]script.Neighbour, error) {
	var out []script.Neighbour
	s := bufio.NewScanner(r)
	s.Scan() // header
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 6 || f[5] != dev {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		n := script.Neighbour{Interface: "net0", Addr: a}
		var flags int
		fmt.Sscanf(f[2], "0x%x", &flags)
		if mac, err := net.ParseMAC(f[3]); err == nil && flags&0x2 != 0 {
			n.MAC = mac
		} else {
			n.Incomplete = true
		}
		out = append(out, n)
	}
	if err := s.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return out, nil
}

var _ script.NetStats = (*hostLinks)(nil)
