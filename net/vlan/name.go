package vlan

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseName splits an interface name as iPXE spells them: "net<N>" for
// the N-th physical NIC, "net<N>-<VID>" for VLAN VID on it (vcreate).
// Every decimal is canonical (no sign, no leading zero), so ParseName and
// Name are inverses.
func ParseName(name string) (nic int, vid uint16, err error) {
	rest, ok := strings.CutPrefix(name, "net")
	if !ok {
		return 0, 0, fmt.Errorf("interface %q: not netN or netN-VLAN", name)
	}
	num, tag, tagged := strings.Cut(rest, "-")
	nic, err = decimal(num, 1<<16)
	if err != nil {
		return 0, 0, fmt.Errorf("interface %q: NIC number: %w", name, err)
	}
	if !tagged {
		return nic, 0, nil
	}
	v, err := decimal(tag, MaxVID)
	if err != nil || v < MinVID {
		return 0, 0, fmt.Errorf("interface %q: VLAN tag is not %d-%d", name, MinVID, MaxVID)
	}
	return nic, uint16(v), nil
}

// Name is the interface name for NIC nic, VLAN vid (0: the NIC itself).
func Name(nic int, vid uint16) string {
	if vid == 0 {
		return "net" + strconv.Itoa(nic)
	}
	return fmt.Sprintf("net%d-%d", nic, vid)
}

func decimal(s string, max int) (int, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%q is not a decimal number", s)
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", s)
		}
		n = n*10 + int(c-'0')
		if n > max {
			return 0, fmt.Errorf("%s is over %d", s, max)
		}
	}
	return n, nil
}
