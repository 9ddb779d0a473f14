package vlan

import "testing"

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		name string
		nic  int
		vid  uint16
		ok   bool
	}{
		{"net0", 0, 0, true},
		{"net1", 1, 0, true},
		{"net0-42", 0, 42, true},
		{"net12-4094", 12, 4094, true},
		{"net0-1", 0, 1, true},
		{"net0-0", 0, 0, false},
		{"net0-4095", 0, 0, false},
		{"net0-", 0, 0, false},
		{"net-1", 0, 0, false},
		{"net", 0, 0, false},
		{"net01", 0, 0, false},
		{"net0-042", 0, 0, false},
		{"net0-+5", 0, 0, false},
		{"net0-5x", 0, 0, false},
		{"net0-5-6", 0, 0, false},
		{"eth0", 0, 0, false},
		{"Net0", 0, 0, false},
		{"net99999999999999999999", 0, 0, false},
	} {
		nic, vid, err := ParseName(tc.name)
		if (err == nil) != tc.ok || nic != tc.nic || vid != tc.vid {
			t.Errorf("ParseName(%q) = %d, %d, %v; want %d, %d, ok %v", tc.name, nic, vid, err, tc.nic, tc.vid, tc.ok)
		}
		if err == nil && Name(nic, vid) != tc.name {
			t.Errorf("Name(%d, %d) = %q; want %q", nic, vid, Name(nic, vid), tc.name)
		}
	}
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"net0", "net3-42", "net0-4095", "net01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		nic, vid, err := ParseName(s)
		if err == nil && Name(nic, vid) != s {
			t.Errorf("Name(ParseName(%q)) = %q", s, Name(nic, vid))
		}
	})
}
