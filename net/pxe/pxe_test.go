package pxe

import (
	"encoding/hex"
	"net/netip"
	"reflect"
	"testing"
)

// dnsmasq 2.90's option 43 in its port 4011 answer to an ARM64 UEFI
// client, configured with two pxe-service lines and pxe-prompt="Choose",5
// (captured from a real exchange).
const dnsmasqMenu = "060103080e8000010a4e00028001010a4e0002091180000566697273748001067365636f6e640a070543686f6f7365ff"

func unhex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	srv := netip.MustParseAddr("10.78.0.2")
	for _, tc := range []struct {
		name string
		in   string
		want Options
		err  bool
	}{
		{"dnsmasq menu", dnsmasqMenu, Options{
			Control:   3,
			Servers:   []Server{{0x8000, []netip.Addr{srv}}, {0x8001, []netip.Addr{srv}}},
			Menu:      []MenuItem{{0x8000, "first"}, {0x8001, "second"}},
			HasPrompt: true, PromptTimeout: 5, PromptText: "Choose",
		}, false},
		{"empty", "", Options{}, false},
		{"pad and end", "0000ff0601ff", Options{}, false},
		{"multicast and control", "0601080704e0000102ff", Options{Control: 8, Multicast: netip.MustParseAddr("224.0.1.2")}, false},
		{"truncated sub-option", "0905800005", Options{}, true},
		{"truncated menu item", "090480000566", Options{}, true},
		{"truncated server list", "0807800002" + "0a4e0002", Options{}, true},
	} {
		got, err := Parse(unhex(t, tc.in))
		if (err != nil) != tc.err {
			t.Errorf("Parse(%s) error = %v; want error %v", tc.name, err, tc.err)
			continue
		}
		if !tc.err && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%s) = %+v; want %+v", tc.name, got, tc.want)
		}
	}
}

func TestTargets(t *testing.T) {
	a := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, x := range s {
			out = append(out, netip.MustParseAddr(x))
		}
		return out
	}
	servers := []Server{{0x8000, a("10.0.0.2", "10.0.0.3")}, {0x8001, a("10.0.0.4")}}
	for _, tc := range []struct {
		name           string
		o              Options
		typ            uint16
		attempt, accep []netip.Addr
	}{
		{"dnsmasq: unicast only", Options{Control: NoBroadcast | NoMulticast, Servers: servers}, 0x8001, a("10.0.0.4"), nil},
		{"broadcast, then listed", Options{Control: NoMulticast, Servers: servers}, 0x8000, a("255.255.255.255", "10.0.0.2", "10.0.0.3"), nil},
		{"multicast first", Options{Multicast: netip.MustParseAddr("224.0.1.2"), Servers: servers}, 0x8001, a("224.0.1.2", "255.255.255.255", "10.0.0.4"), nil},
		{"only listed accepted", Options{Control: NoBroadcast | NoMulticast | OnlyListed, Servers: servers}, 0x8000, a("10.0.0.2", "10.0.0.3"), a("10.0.0.2", "10.0.0.3")},
		{"no server of that type", Options{Control: NoBroadcast | NoMulticast, Servers: servers}, 0x9000, nil, nil},
	} {
		attempt, accept := tc.o.Targets(tc.typ)
		if !reflect.DeepEqual(attempt, tc.attempt) || !reflect.DeepEqual(accept, tc.accep) {
			t.Errorf("%s: Targets(%#x) = %v, %v; want %v, %v", tc.name, tc.typ, attempt, accept, tc.attempt, tc.accep)
		}
	}
}

func TestItemType(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint16
		ok   bool
	}{
		{"4704800100000a070543686f6f7365ff", 0x8001, true}, // dnsmasq's boot server ACK
		{"00470480020000", 0x8002, true},
		{"0a0105ff", 0, false},
		{"4701", 0, false},
	} {
		got, ok := ItemType(unhex(t, tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("ItemType(%s) = %#x, %v; want %#x, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if b := BootItem(0x8001); hex.EncodeToString(b) != "80010000" {
		t.Errorf("BootItem(0x8001) = %x; want 80010000", b)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(unhex(f, dnsmasqMenu))
	f.Add([]byte{8, 3, 0, 1, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := Parse(b)
		if err != nil {
			return
		}
		for _, m := range o.Menu {
			if len(m.Desc) > len(b) {
				t.Fatalf("menu item longer than the input")
			}
		}
		o.Targets(0x8000)
		ItemType(b)
	})
}
