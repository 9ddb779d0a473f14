package settings

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestTypeRoundTrip(t *testing.T) {
	tests := []struct {
		typ  *Type
		text string
		raw  []byte
		back string // formatted form when it differs from text
	}{
		{String, "hello world", []byte("hello world"), ""},
		{String, "", []byte{}, ""},
		{URIString, "a%20b%2Fc", []byte("a b/c"), "a%20b%2Fc"},
		{URIString, "100%", []byte("100%"), "100%25"},
		{URIString, "x=1&y", []byte("x=1&y"), "x%3D1%26y"},
		{IPv4, "192.168.0.1", []byte{192, 168, 0, 1}, ""},
		{Hex, "00:1a:ff", []byte{0, 0x1a, 0xff}, ""},
		{Hex, "0A:0b", []byte{10, 11}, "0a:0b"},
		{HexHyp, "de-ad-be-ef", []byte{0xde, 0xad, 0xbe, 0xef}, ""},
		{HexRaw, "deadbeef", []byte{0xde, 0xad, 0xbe, 0xef}, ""},
		{Base64, "aGVsbG8=", []byte("hello"), ""},
		{UUID, "01234567-89ab-cdef-0123-456789abcdef",
			[]byte{1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}, ""},
		{Uint8, "200", []byte{200}, "0xc8"},
		{Uint8, "0", []byte{0}, "0x0"},
		{Int32, "0x", []byte{0, 0, 0, 0}, "0"},
		{Uint8, "256", []byte{0}, "0x0"},
		{Uint16, "-1", []byte{0xff, 0xff}, "0xffff"},
		{Uint32, "18446744073709551617", []byte{0, 0, 0, 1}, "0x1"},
		{Uint32, " +7", []byte{0, 0, 0, 7}, "0x7"},
		{UUID, "0123456789abcdef0123456789ABCDEF",
			[]byte{1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}, "01234567-89ab-cdef-0123-456789abcdef"},
		{GUID, "01234567-89ab-cdef-0123-456789abcdef",
			[]byte{0x67, 0x45, 0x23, 0x01, 0xab, 0x89, 0xef, 0xcd, 1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}, ""},
		{Uint16, "0x1234", []byte{0x12, 0x34}, ""},
		{Uint32, "4294967295", []byte{0xff, 0xff, 0xff, 0xff}, "0xffffffff"},
		{Int8, "-1", []byte{0xff}, ""},
		{Int16, "-2", []byte{0xff, 0xfe}, ""},
		{Int32, "010", []byte{0, 0, 0, 8}, "8"},
		{Int32, "123456", []byte{0, 1, 0xe2, 0x40}, ""},
	}
	for _, tc := range tests {
		raw, err := tc.typ.Parse(tc.text)
		if err != nil {
			t.Errorf("%s.Parse(%q) error %v", tc.typ.Name, tc.text, err)
			continue
		}
		if !bytes.Equal(raw, tc.raw) {
			t.Errorf("%s.Parse(%q) = %x; want %x", tc.typ.Name, tc.text, raw, tc.raw)
		}
		want := tc.back
		if want == "" {
			want = tc.text
		}
		got, err := tc.typ.Format(raw)
		if err != nil || got != want {
			t.Errorf("%s.Format(%x) = %q, %v; want %q", tc.typ.Name, raw, got, err, want)
		}
	}
}

func TestTypeParseErrors(t *testing.T) {
	tests := []struct {
		typ  *Type
		text string
	}{
		{IPv4, "1.2.3"}, {IPv4, "::1"}, {IPv4, "host"},
		{Hex, "0"}, {Hex, "00-11"}, {Hex, "zz"},
		{HexHyp, "00:11"}, {HexRaw, "abc"},
		{Base64, "!!"},
		{UUID, "0123"}, {UUID, "01234567-89ab-cdef-0123-456789abcdeg"},
		{UUID, "01234567--89ab-cdef-0123-456789abcdef"}, {UUID, "0123456789abcdef0123456789abcdef01"},
		{GUID, "0123"},
		{Uint8, "x"}, {Int32, "0xg"}, {Int32, "12a"}, {Int32, ""}, {Uint32, "08"}, {Int8, "1 2"},
	}
	for _, tc := range tests {
		if raw, err := tc.typ.Parse(tc.text); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s.Parse(%q) = %x, %v; want ErrInvalid", tc.typ.Name, tc.text, raw, err)
		}
	}
	if s, err := IPv4.Format([]byte{1, 2}); err == nil {
		t.Errorf("IPv4.Format(2 bytes) = %q; want error", s)
	}
	if raw, err := BusDevFn.Parse("00:01.0"); !errors.Is(err, ErrNoParse) {
		t.Errorf("BusDevFn.Parse = %x, %v; want ErrNoParse", raw, err)
	}
	if s, err := UUID.Format([]byte{1}); err == nil {
		t.Errorf("UUID.Format(1 byte) = %q; want error", s)
	}
	if s, err := Uint32.Format(make([]byte, 9)); err == nil {
		t.Errorf("Uint32.Format(9 bytes) = %q; want error", s)
	}
}

func TestFormatStringStopsAtNUL(t *testing.T) {
	if got, _ := String.Format([]byte("ab\x00cd")); got != "ab" {
		t.Errorf("String.Format(ab NUL cd) = %q; want %q", got, "ab")
	}
}

func TestNumericWidths(t *testing.T) {
	// A DHCP option of any integer length formats with the type asked for.
	tests := []struct {
		typ  *Type
		raw  []byte
		want string
	}{
		{Int32, []byte{0xff}, "-1"},
		{Uint32, []byte{0xff}, "0xff"},
		{Int8, []byte{0x01, 0x00}, "256"},
		{Uint16, nil, "0x0"},
		{BusDevFn, []byte{0x02, 0x13}, "0000:02:02.3"},
		{BusDevFn, []byte{0x00, 0x01, 0x02, 0x13}, "0001:02:02.3"},
	}
	for _, tc := range tests {
		if got, err := tc.typ.Format(tc.raw); err != nil || got != tc.want {
			t.Errorf("%s.Format(%x) = %q, %v; want %q", tc.typ.Name, tc.raw, got, err, tc.want)
		}
	}
}

func TestParseName(t *testing.T) {
	tests := []struct {
		in    string
		scope string
		key   string
		tag   Tag
		typ   *Type
	}{
		{"filename", "", "filename", 67, nil},
		{"67", "", "filename", 67, nil},
		{"net0.dhcp/67:string", "net0.dhcp", "filename", 67, String},
		{"175.190", "", "username", EncapTag(175, 190), nil},
		{"0xaf.0xbe", "", "username", EncapTag(175, 190), nil},
		{"175.200", "", "175.200", EncapTag(175, 200), nil},
		{"43.1:hex", "", "43.1", EncapTag(43, 1), Hex},
		{"ip", "", "ip", EncapTag(175, 2), nil},
		{"netX/ip:ipv4", "netX", "ip", EncapTag(175, 2), IPv4},
		{"myvar", "", "myvar", 0, nil},
		{"1.2.3", "", "1.2.3", 0, nil},
		{"300", "", "300", 0, nil},
		{"scope/a:int32", "scope", "a", 0, Int32},
	}
	for _, tc := range tests {
		r, err := ParseName(tc.in)
		if err != nil {
			t.Errorf("ParseName(%q) error %v", tc.in, err)
			continue
		}
		if r.Scope != tc.scope || r.Key != tc.key || r.Tag != tc.tag || r.Type != tc.typ {
			t.Errorf("ParseName(%q) = scope %q key %q tag %v type %v; want %q %q %v %v",
				tc.in, r.Scope, r.Key, r.Tag, r.Type, tc.scope, tc.key, tc.tag, tc.typ)
		}
	}
	if _, err := ParseName("x:nosuchtype"); !errors.Is(err, ErrUnknownType) {
		t.Errorf("ParseName(x:nosuchtype) error = %v; want ErrUnknownType", err)
	}
}

func TestSecret(t *testing.T) {
	for name, want := range map[string]bool{
		"password": true, "175.191": true, "reverse-password": true, "175.193": true,
		"net0/password": true, "my-password": true, "username": false, "175.190": false, "ip": false,
	} {
		r, _ := ParseName(name)
		if got := r.IsSecret(); got != want {
			t.Errorf("ParseName(%q).IsSecret() = %v; want %v", name, got, want)
		}
	}
}

func mustSet(t *testing.T, s *Store, name, value string) {
	t.Helper()
	if err := s.Set(name, value); err != nil {
		t.Fatalf("Set(%q, %q): %v", name, value, err)
	}
}

func TestStoreScopes(t *testing.T) {
	s := NewStore()
	mustSet(t, s, "greeting", "hello")
	mustSet(t, s, "net0/ip", "10.0.0.2")
	mustSet(t, s, "net0.dhcp/ip", "10.0.0.9")
	mustSet(t, s, "net0.dhcp/filename", "boot.ipxe")
	mustSet(t, s, "net1.dhcp/filename", "other.ipxe")
	s.SetAlias("netX", "net1")

	tests := []struct {
		name, want string
		ok         bool
	}{
		{"greeting", "hello", true},
		{"ip", "10.0.0.2", true}, // net0 before its child net0.dhcp
		{"net0.dhcp/ip", "10.0.0.9", true},
		{"filename", "boot.ipxe", true}, // net0 is searched before net1
		{"net1/filename", "other.ipxe", true},
		{"netX/filename", "other.ipxe", true},
		{"netX.dhcp/67", "other.ipxe", true},
		{"67", "boot.ipxe", true},
		{"ip:hex", "0a:00:00:02", true},
		{"nosuch", "", false},
		{"net7/ip", "", false},
		{"net0/greeting", "", false}, // a sub-scope does not see its parent
	}
	for _, tc := range tests {
		got, ok := s.Get(tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Get(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}

	r, _ := ParseName("ip")
	v, err := s.Fetch(r)
	if err != nil || v.Name() != "net0/ip:ipv4" {
		t.Errorf("Fetch(ip).Name() = %q, %v; want net0/ip:ipv4", v.Name(), err)
	}

	// Empty value deletes, like iPXE's storef_setting.
	mustSet(t, s, "net0/ip", "")
	if got, _ := s.Get("ip"); got != "10.0.0.9" {
		t.Errorf("after clearing net0/ip, Get(ip) = %q; want 10.0.0.9", got)
	}
	if err := s.Set("ip", "not-an-ip"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Set(ip, not-an-ip) = %v; want ErrInvalid", err)
	}
	if err := s.Set("builtin/x", "1"); err == nil {
		t.Errorf("Set(builtin/x) succeeded; want read-only error")
	}
}

func TestStoreTypePrecedence(t *testing.T) {
	s := NewStore()
	mustSet(t, s, "n:int32", "300")
	// The stored type is used when the name gives none.
	if got, _ := s.Get("n"); got != "300" {
		t.Errorf("Get(n) = %q; want 300", got)
	}
	// An explicit type wins.
	if got, _ := s.Get("n:hex"); got != "00:00:01:2c" {
		t.Errorf("Get(n:hex) = %q; want 00:00:01:2c", got)
	}
	// A well-known setting's type wins over the stored type.
	mustSet(t, s, "hostname:hex", "61:62")
	if got, _ := s.Get("hostname"); got != "ab" {
		t.Errorf("Get(hostname) = %q; want ab", got)
	}
}

func TestBuiltins(t *testing.T) {
	s := NewStore()
	n := uint64(0)
	s.SetBuiltin("errno", func() []byte { return Uint32.Encode(n) })
	n = 0x2d00008e
	if got, _ := s.Get("errno"); got != "0x2d00008e" {
		t.Errorf("Get(errno) = %q; want 0x2d00008e", got)
	}
	if got, _ := s.Get("builtin/errno"); got != "0x2d00008e" {
		t.Errorf("Get(builtin/errno) = %q; want 0x2d00008e", got)
	}
	// A stored value in the global scope shadows the builtin.
	mustSet(t, s, "errno", "5")
	if got, _ := s.Get("errno"); got != "0x5" {
		t.Errorf("Get(errno) after set = %q; want 0x5", got)
	}
}

func TestExpand(t *testing.T) {
	s := NewStore()
	mustSet(t, s, "a", "b")
	mustSet(t, s, "b", "deep")
	mustSet(t, s, "net0.dhcp/filename", "http://10.0.0.1/boot.ipxe")
	mustSet(t, s, "uri", "${a}") // "set" stores text; expansion happens when used
	mustSet(t, s, "self", "${self}")
	tests := []struct {
		in, want string
	}{
		{"plain", "plain"},
		{"${a}", "b"},
		{"x${a}y${a}z", "xbybz"},
		{"${${a}}", "deep"},
		{"${nosuch}", ""},
		{"[${nosuch}]", "[]"},
		{"${net0/filename}", "http://10.0.0.1/boot.ipxe"},
		{"${67}", "http://10.0.0.1/boot.ipxe"},
		{"${a:hex}", "62"},
		{"${a:badtype}", ""},
		{"${", "${"},
		{"}${a", "}${a"},
		{"$${a}}", "$b}"},
		{"${uri}", "b"}, // the expanded value is expanded again, as in iPXE
		{"${}", ""},
	}
	for _, tc := range tests {
		got, err := s.Expand(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if got, err := s.Expand("${self}"); !errors.Is(err, ErrExpansionLoop) {
		t.Errorf("Expand(${self}) = %q, %v; want ErrExpansionLoop", got, err)
	}
}

func TestDecodeEncapsulated(t *testing.T) {
	tests := []struct {
		in   []byte
		want map[uint8][]byte
		err  bool
	}{
		{nil, map[uint8][]byte{}, false},
		{[]byte{190, 3, 'b', 'o', 'b', 0, 191, 2, 'p', 'w', 255, 9, 9}, map[uint8][]byte{190: []byte("bob"), 191: []byte("pw")}, false},
		{[]byte{1, 1, 'a', 1, 1, 'b'}, map[uint8][]byte{1: []byte("ab")}, false},
		{[]byte{8, 0}, map[uint8][]byte{8: {}}, false},
		{[]byte{190}, nil, true},
		{[]byte{190, 4, 'a'}, nil, true},
	}
	for _, tc := range tests {
		got, err := DecodeEncapsulated(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("DecodeEncapsulated(%x) error = %v; want error %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("DecodeEncapsulated(%x) = %v; want %v", tc.in, got, tc.want)
		}
	}
}

func TestApplyDHCP(t *testing.T) {
	s := NewStore()
	mustSet(t, s, "net0.dhcp/stale", "old lease")
	enc := []byte{190, 4, 'u', 's', 'e', 'r', 191, 6, 's', 'e', 'c', 'r', 'e', 't',
		192, 3, 't', 'g', 't', 193, 4, 'r', 'p', 'w', 'd', 188, 4, 'b', 'o', 'o', 't', 200, 1, 7}
	l := Lease{
		Options: map[uint8][]byte{
			1:   {255, 255, 255, 0},
			3:   {10, 0, 0, 1},
			6:   {10, 0, 0, 53, 10, 0, 0, 54},
			12:  []byte("node1"),
			15:  []byte("example.test"),
			17:  []byte("iscsi:10.0.0.3::::iqn.2020-01.test:disk"),
			43:  {1, 2, 0xab, 0xcd},
			77:  []byte("snp-go"),
			175: enc,
			203: []byte("iqn.2020-01.test:node1"),
		},
		YourIP:   netip.MustParseAddr("10.0.0.5"),
		ServerIP: netip.MustParseAddr("10.0.0.4"),
		BootFile: "fallback.efi",
	}
	if err := ApplyDHCP(s, "net0.dhcp", l); err != nil {
		t.Fatalf("ApplyDHCP: %v", err)
	}
	tests := map[string]string{
		"ip": "10.0.0.5", "net0.dhcp/ip": "10.0.0.5", "175.2": "10.0.0.5",
		"next-server": "10.0.0.4", "netmask": "255.255.255.0", "gateway": "10.0.0.1",
		"dns": "10.0.0.53", "6:hex": "0a:00:00:35:0a:00:00:36",
		"hostname": "node1", "domain": "example.test",
		"root-path": "iscsi:10.0.0.3::::iqn.2020-01.test:disk",
		"filename":  "fallback.efi", "user-class": "snp-go",
		"initiator-iqn": "iqn.2020-01.test:node1",
		"username":      "user", "175.190": "user", "password": "secret", "175.191": "secret",
		"reverse-username": "tgt", "reverse-password": "rpwd", "san-filename": "boot",
		"175.200:uint8": "0x7", "43.1:hex": "ab:cd",
		"stale": "",
	}
	for name, want := range tests {
		if got, _ := s.Get(name); got != want {
			t.Errorf("after ApplyDHCP, Get(%q) = %q; want %q", name, got, want)
		}
	}
	r, _ := ParseName("password")
	if v, err := s.Fetch(r); err != nil || !v.Secret || v.Name() != "net0.dhcp/password:string" {
		t.Errorf("Fetch(password) = %+v, %v; want secret net0.dhcp/password:string", v, err)
	}

	// Option 67 wins over the header's file field; a broken option 175 is
	// kept raw and reported, and the rest is applied.
	l.Options[67] = []byte("http://10.0.0.4/boot.ipxe")
	l.Options[175] = []byte{190, 9, 'x'}
	err := ApplyDHCP(s, "net0.dhcp", l)
	if err == nil || !strings.Contains(err.Error(), "option 175") {
		t.Errorf("ApplyDHCP(bad 175) error = %v; want option 175 error", err)
	}
	if got, _ := s.Get("filename"); got != "http://10.0.0.4/boot.ipxe" {
		t.Errorf("Get(filename) = %q; want option 67", got)
	}
	if got, _ := s.Get("175:hex"); got != "be:09:78" {
		t.Errorf("Get(175:hex) = %q; want be:09:78", got)
	}
	if got, ok := s.Get("username"); ok {
		t.Errorf("Get(username) = %q after a new lease without it; want absent", got)
	}
}

func TestListAndNames(t *testing.T) {
	s := NewStore()
	mustSet(t, s, "b", "2")
	mustSet(t, s, "a", "1")
	mustSet(t, s, "net0.dhcp/password", "pw")
	s.SetBuiltin("version", func() []byte { return []byte("1.0") })
	vals, err := s.List("")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range vals {
		names = append(names, v.Name())
	}
	want := []string{"a:string", "b:string", "net0.dhcp/password:string", "builtin/version:string"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("List() names = %q; want %q", names, want)
	}
	if got, want := s.Names(), []string{"a", "b", "password", "version"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %q; want %q", got, want)
	}
}

func FuzzDecodeEncapsulated(f *testing.F) {
	f.Add([]byte{190, 3, 'b', 'o', 'b', 0, 191, 2, 'p', 'w', 255})
	f.Add([]byte{190})
	f.Add([]byte{1, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeEncapsulated(data)
		if err != nil {
			return
		}
		total := 0
		for _, v := range m {
			total += len(v)
		}
		if total > len(data) {
			t.Fatalf("DecodeEncapsulated(%x) returned %d value bytes from %d input bytes", data, total, len(data))
		}
		// Applying the same data as option 175 must not fail or panic.
		s := NewStore()
		if err := ApplyDHCP(s, "net0.dhcp", Lease{Options: map[uint8][]byte{175: data}}); err != nil {
			t.Fatalf("ApplyDHCP with decodable 175 = %v", err)
		}
		for code, v := range m {
			r := refForKey(EncapTag(175, code).String())
			got, err := s.Fetch(r)
			if err != nil || !bytes.Equal(got.Raw, v) {
				t.Fatalf("175.%d = %x, %v; want %x", code, got.Raw, err, v)
			}
		}
	})
}

func FuzzExpand(f *testing.F) {
	f.Add("${a}${${b}}x")
	f.Add("${")
	f.Fuzz(func(t *testing.T, in string) {
		s := NewStore()
		mustSet(t, s, "a", "b")
		mustSet(t, s, "b", "${a}")
		out, err := s.Expand(in)
		if err == nil && HasReference(out) {
			t.Fatalf("Expand(%q) = %q still has a reference", in, out)
		}
	})
}

func TestScope(t *testing.T) {
	s := NewStore()
	for _, n := range []string{"net0/ip", "net0.dhcp/filename", "net1/ip", "net0.dhcp.x/y"} {
		if err := s.Set(n, "1.2.3.4"); err != nil {
			t.Fatal(err)
		}
	}
	s.SetAlias("netX", "net0")
	for _, tc := range []struct {
		scope string
		want  ScopeInfo
	}{
		{"", ScopeInfo{Children: []string{"net0", "net1"}}},
		{"net0", ScopeInfo{Path: "net0", HasParent: true, Children: []string{"net0.dhcp"}}},
		{"netX.dhcp", ScopeInfo{Path: "net0.dhcp", HasParent: true, Parent: "net0", Children: []string{"net0.dhcp.x"}}},
	} {
		got, err := s.Scope(tc.scope)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Scope(%q) = %+v, %v; want %+v", tc.scope, got, err, tc.want)
		}
	}
	for _, bad := range []string{"net9", "builtin", "net0..dhcp"} {
		if _, err := s.Scope(bad); !errors.Is(err, ErrNoScope) {
			t.Errorf("Scope(%q) = %v; want ErrNoScope", bad, err)
		}
	}
}
