package iscsi

import (
	"errors"
	"strings"
	"testing"
)

func lun(groups ...uint16) LUN {
	var l LUN
	for i, g := range groups {
		l[2*i], l[2*i+1] = byte(g>>8), byte(g)
	}
	return l
}

// TestParseRootPath follows iPXE's iscsi_parse_root_path, scsi_parse_lun,
// strtoul and parse_uri (src/net/tcp/iscsi.c, drivers/block/scsi.c,
// core/string.c, core/uri.c).
func TestParseRootPath(t *testing.T) {
	tests := []struct {
		in   string
		want RootPath
	}{
		{"iscsi:10.0.0.1::::iqn.2010-04.org.ipxe:target", RootPath{"10.0.0.1", "", 3260, LUN{}, "iqn.2010-04.org.ipxe:target"}},
		{"iscsi:192.168.0.1:6:3261:1:iqn.2001-04.com.example:disk:1", RootPath{"192.168.0.1", "6", 3261, lun(1), "iqn.2001-04.com.example:disk:1"}},
		{"ISCSI:san.example.com::0:A:iqn.x", RootPath{"san.example.com", "", 3260, lun(0xa), "iqn.x"}},
		{"iscsi:[fe80::1%eth0]::3260:0-1:iqn.x", RootPath{"fe80::1%eth0", "", 3260, lun(0, 1), "iqn.x"}},
		{"iscsi:[2001:db8::5]:tcp:1234:1-2-3-4:iqn.x:y", RootPath{"2001:db8::5", "tcp", 1234, lun(1, 2, 3, 4), "iqn.x:y"}},
		// strtoul leniency: blanks, sign, garbage after the digits.
		{"iscsi:h:: 3262x:  ff:t", RootPath{"h", "", 3262, lun(0xff), "t"}},
		{"iscsi:h::abc::t", RootPath{"h", "", 3260, LUN{}, "t"}},
		{"iscsi:h::+70::t", RootPath{"h", "", 70, LUN{}, "t"}},
		// LUN quirks: "-" alone is 0-0; a leading '-' negates mod 2^16;
		// no 0x prefix in base 16 (so "0x1" fails at 'x').
		{"iscsi:h:::-:t", RootPath{"h", "", 3260, LUN{}, "t"}},
		{"iscsi:h:::1--1:t", RootPath{"h", "", 3260, lun(1, 0xffff), "t"}},
		{"iscsi:h:::12345:t", RootPath{"h", "", 3260, lun(0x2345), "t"}},
		{"iscsi:h:::1-2-3-4-:t", RootPath{"h", "", 3260, lun(1, 2, 3, 4), "t"}},
		// URI parsing: fragment and ##params are cut before splitting.
		{"iscsi:h::::iqn.t#frag", RootPath{"h", "", 3260, LUN{}, "iqn.t"}},
		{"iscsi:h::::iqn.t##params=x", RootPath{"h", "", 3260, LUN{}, "iqn.t"}},
		// '[' ... ']' protects colons in any field.
		{"iscsi:h:[a:b]:::t", RootPath{"h", "[a:b]", 3260, LUN{}, "t"}},
	}
	for _, tt := range tests {
		got, err := ParseRootPath(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseRootPath(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		again, err := ParseRootPath(got.String())
		if err != nil || again != got {
			t.Errorf("ParseRootPath(%q.String() = %q) = %+v, %v; want %+v", tt.in, got.String(), again, err, got)
		}
	}
	bad := []string{
		"", "iscsi:", "iscsi:h:::", "iscsi:h::::", "http://h/", "iscsi:/h::::t", "h::::t",
		"iscsi:[::1:::1:t", // unclosed bracket swallows the separators
		"iscsi:::::t",      // no server
		"iscsi:h:::0x1:t",  // iPXE's base-16 strtoul has no 0x prefix
		"iscsi:h:::1-2-3-4-5:t",
		"iscsi:h:::g:t",
		"iscsi:h::65536::t",
		"iscsi:h::-1::t",
		"iscsi:a[b]c::::t",
		"iscsi:h::::t\x00x",
	}
	for _, in := range bad {
		if got, err := ParseRootPath(in); err == nil || !errors.Is(err, ErrRootPath) {
			t.Errorf("ParseRootPath(%q) = %+v, %v; want an ErrRootPath error", in, got, err)
		}
	}
}

func TestRootPathString(t *testing.T) {
	r := RootPath{Server: "::1", Port: 3261, LUN: lun(0, 1), Target: "iqn.a:b"}
	if got, want := r.String(), "iscsi:[::1]::3261:0-1:iqn.a:b"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
	if got, want := r.Portal(), "[::1]:3261"; got != want {
		t.Errorf("Portal() = %q; want %q", got, want)
	}
	r = RootPath{Server: "h", Port: 3260, Target: "t"}
	if got, want := r.String(), "iscsi:h:::0:t"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
}

func TestDefaultInitiatorName(t *testing.T) {
	uuid := [16]byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8}
	tests := []struct {
		host string
		uuid [16]byte
		want string
	}{
		{"board7", uuid, "iqn.2010-04.org.ipxe:board7"},
		{"", uuid, "iqn.2010-04.org.ipxe:12345678-9abc-def0-0102-030405060708"},
	}
	for _, tt := range tests {
		if got, err := DefaultInitiatorName(tt.host, tt.uuid); err != nil || got != tt.want {
			t.Errorf("DefaultInitiatorName(%q, %x) = %q, %v; want %q", tt.host, tt.uuid, got, err, tt.want)
		}
	}
	if _, err := DefaultInitiatorName("", [16]byte{}); err == nil {
		t.Errorf("DefaultInitiatorName with neither hostname nor UUID succeeded; want error")
	}
}

func TestParseTargetAddress(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.2:3261,1":  "10.0.0.2:3261",
		"10.0.0.2,1":       "10.0.0.2:3260",
		"san.example":      "san.example:3260",
		"[2001:db8::1]:99": "[2001:db8::1]:99",
		"[2001:db8::1],2":  "[2001:db8::1]:3260",
	} {
		if got, err := parseTargetAddress(in); err != nil || got != want {
			t.Errorf("parseTargetAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestLoginErrorText(t *testing.T) {
	for _, tt := range []struct {
		class, detail byte
		want          string
		temporary     bool
	}{
		{2, 1, "authentication failure", false},
		{2, 2, "authorization failure", false},
		{2, 3, "target not found", false},
		{3, 1, "service unavailable", true},
		{2, 0x7f, "initiator error", false},
	} {
		e := &LoginError{Portal: "p:3260", Target: "iqn.t", Class: tt.class, Detail: tt.detail}
		if !strings.Contains(e.Error(), tt.want) || e.Temporary() != tt.temporary {
			t.Errorf("LoginError{%d,%d} = %q (temporary %t); want %q, temporary %t", tt.class, tt.detail, e, e.Temporary(), tt.want, tt.temporary)
		}
	}
}

func FuzzParseRootPath(f *testing.F) {
	for _, s := range []string{"iscsi:10.0.0.1::::iqn.x", "iscsi:[::1]:6:3260:1-2:iqn.a:b", "iscsi:h:[:]:1[:]:-1:t#x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRootPath(s)
		if err != nil {
			return
		}
		if r.Server == "" || r.Target == "" || r.Port == 0 {
			t.Fatalf("ParseRootPath(%q) = %+v: empty field accepted", s, r)
		}
		again, err := ParseRootPath(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseRootPath(%q) = %+v; String %q parses to %+v, %v", s, r, r.String(), again, err)
		}
	})
}
