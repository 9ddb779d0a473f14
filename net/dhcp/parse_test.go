package dhcp

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/snp-go/snp-go/net/ipstack"
)

func TestClasslessRoutes(t *testing.T) {
	for _, tc := range []struct {
		in      []byte
		want    []ipstack.Route
		wantErr bool
	}{
		{in: nil, want: nil},
		{in: []byte{0, 10, 0, 0, 1}, want: []ipstack.Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.0.0.1")}}},
		{in: []byte{8, 10, 0, 0, 0, 0}, want: []ipstack.Route{{Dst: netip.MustParsePrefix("10.0.0.0/8")}}}, // router 0.0.0.0: on-link
		{in: []byte{25, 192, 168, 1, 128, 1, 2, 3, 4}, want: []ipstack.Route{{Dst: netip.MustParsePrefix("192.168.1.128/25"), Gateway: netip.MustParseAddr("1.2.3.4")}}},
		{in: []byte{32, 1, 2, 3, 4, 5, 6, 7, 8}, want: []ipstack.Route{{Dst: netip.MustParsePrefix("1.2.3.4/32"), Gateway: netip.MustParseAddr("5.6.7.8")}}},
		{in: []byte{33, 1, 2, 3, 4, 5, 6, 7, 8, 9}, wantErr: true},
		{in: []byte{24, 10, 0, 0, 1, 2}, wantErr: true},
	} {
		got, err := classlessRoutes(tc.in)
		if (err != nil) != tc.wantErr || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("classlessRoutes(%v) = %v, %v; want %v, err %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestDomainSearch(t *testing.T) {
	// RFC 3397 section 3 example: eng.apple.com, marketing.apple.com with a
	// compression pointer to "apple.com" at offset 4.
	in := []byte{3, 'e', 'n', 'g', 5, 'a', 'p', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
		9, 'm', 'a', 'r', 'k', 'e', 't', 'i', 'n', 'g', 0xc0, 4}
	got, err := domainSearch(in)
	if want := []string{"eng.apple.com", "marketing.apple.com"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("domainSearch(RFC 3397 example) = %q, %v; want %q", got, err, want)
	}
	for _, bad := range [][]byte{{0xc0, 0}, {5, 'a'}, {0x40}, {0xc0}} {
		if got, err := domainSearch(bad); err == nil {
			t.Errorf("domainSearch(%v) = %q, nil; want error", bad, got)
		}
	}
}

func TestConfigFrom(t *testing.T) {
	yi := netip.MustParseAddr("172.16.5.9")
	for _, tc := range []struct {
		name string
		opts map[uint8][]byte
		want ipstack.Config
	}{
		{"classful default mask", nil, ipstack.Config{Address: netip.MustParsePrefix("172.16.5.9/16")}},
		{"non-contiguous mask ignored", map[uint8][]byte{1: {255, 0, 255, 0}}, ipstack.Config{Address: netip.MustParsePrefix("172.16.5.9/16")}},
		{"search list when no domain", map[uint8][]byte{1: {255, 255, 255, 0}, 119: {1, 'a', 0}}, ipstack.Config{Address: netip.MustParsePrefix("172.16.5.9/24"), Domain: "a"}},
		{"first router", map[uint8][]byte{3: {1, 1, 1, 1, 2, 2, 2, 2}, 6: {9, 9, 9, 9}}, ipstack.Config{Address: netip.MustParsePrefix("172.16.5.9/16"), Gateway: netip.MustParseAddr("1.1.1.1"), DNS: []netip.Addr{netip.MustParseAddr("9.9.9.9")}}},
	} {
		if got := configFrom(yi, tc.opts); !equalConfig(got, tc.want) {
			t.Errorf("%s: configFrom = %+v; want %+v", tc.name, got, tc.want)
		}
	}
}

// FuzzParseReply feeds arbitrary server messages through the whole receive
// path: parse, overload, lease and config derivation.
func FuzzParseReply(f *testing.F) {
	m, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeAck), dhcpv4.WithYourIP(leaseIP.AsSlice()))
	m.OpCode = dhcpv4.OpcodeBootReply
	for code, v := range serverOpts {
		m.UpdateOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(code), v))
	}
	f.Add(m.ToBytes())
	m.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionOptionOverload, []byte{3}))
	b := m.ToBytes()
	copy(b[offFile:], []byte{67, 3, 'a', 'b', 'c', 255})
	copy(b[offSname:], []byte{66, 1, 'x', 0, 255})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseReply(b)
		if err != nil {
			return
		}
		l := leaseFrom("net0", r, time.Now(), 1)
		if l.Options == nil {
			t.Fatal("lease without option map")
		}
	})
}

func FuzzClasslessRoutes(f *testing.F) {
	f.Add([]byte{24, 192, 168, 7, 10, 0, 0, 1, 0, 10, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := classlessRoutes(b)
		if err != nil {
			return
		}
		for _, r := range rs {
			if !r.Dst.IsValid() || r.Dst != r.Dst.Masked() {
				t.Fatalf("classlessRoutes(%v) gave unmasked/invalid %v", b, r.Dst)
			}
		}
	})
}

func FuzzDomainSearch(f *testing.F) {
	f.Add([]byte{3, 'e', 'n', 'g', 5, 'a', 'p', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 9, 'm', 'a', 'r', 'k', 'e', 't', 'i', 'n', 'g', 0xc0, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		domainSearch(b) // must terminate without panicking
	})
}
