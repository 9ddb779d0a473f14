//go:build tamago && arm64

package main

import (
	"github.com/snp-go/snp-go/script"
)

// IPStats gives ipstat the gVisor stack's IPv4 and TCP counters.
func (l *efiLinks) IPStats() (script.IPStats, script.TCPStats, error) {
	st := l.net().stack
	return script.IPStats(st.IPv4Stats()), script.TCPStats(st.TCPStats()), nil
}

// Neighbours gives nstat the stack's ARP cache.
func (l *efiLinks) Neighbours() ([]script.Neighbour, error) {
	var out []script.Neighbour
	for _, n := range l.net().stack.Neighbours() {
		out = append(out, script.Neighbour{Interface: n.Interface, Addr: n.Addr, MAC: n.MAC, Incomplete: n.Incomplete})
	}
	return out, nil
}

var _ script.NetStats = (*efiLinks)(nil)
