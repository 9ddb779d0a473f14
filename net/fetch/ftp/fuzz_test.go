package ftp

import (
	"bufio"
	"strconv"
	"strings"
	"testing"
)

// FuzzReadReply: any byte stream yields replies with a valid code and
// printable text, or an error; never a panic or unbounded growth.
func FuzzReadReply(f *testing.F) {
	f.Add("220 ready\r\n")
	f.Add("220-Welcome\r\n to the\r\n220 server\r\n")
	f.Add("230-a\r\n230-b\r\n230\r\n")
	f.Add("2x0 bad\r\n")
	f.Add("150 " + strings.Repeat("x", 5000) + "\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		r := bufio.NewReaderSize(strings.NewReader(in), 1024)
		for i := 0; i < 10; i++ {
			rep, err := readReply(r)
			if err != nil {
				return
			}
			if rep.Code < 100 || rep.Code > 599 {
				t.Fatalf("readReply(%q) code %d", in, rep.Code)
			}
			if strings.ContainsAny(rep.Text, "\r\x00") || len(rep.Text) > maxLine*maxLines {
				t.Fatalf("readReply(%q) text %q", in, rep.Text)
			}
		}
	})
}

// FuzzParsePassive checks the PASV, EPSV and SIZE parsers: no panics, and
// what they accept re-encodes to a reply they accept with the same value.
func FuzzParsePassive(f *testing.F) {
	f.Add("Entering Passive Mode (127,0,0,1,200,10).")
	f.Add("Entering Extended Passive Mode (|||51234|)")
	f.Add("=127,0,0,1,4,1")
	f.Add("(!!!65535!)")
	f.Add("123456")
	f.Fuzz(func(t *testing.T, text string) {
		if ap, err := parsePASV(text); err == nil {
			a := ap.Addr().As4()
			re := "(" + strings.Join([]string{strconv.Itoa(int(a[0])), strconv.Itoa(int(a[1])), strconv.Itoa(int(a[2])), strconv.Itoa(int(a[3])),
				strconv.Itoa(int(ap.Port() >> 8)), strconv.Itoa(int(ap.Port() & 0xff))}, ",") + ")"
			if ap2, err := parsePASV(re); err != nil || ap2 != ap || ap.Port() == 0 {
				t.Fatalf("parsePASV(%q) = %v; re-encoded %q gives %v, %v", text, ap, re, ap2, err)
			}
		}
		if p, err := parseEPSV(text); err == nil {
			if p2, err := parseEPSV("(|||" + strconv.Itoa(int(p)) + "|)"); err != nil || p2 != p || p == 0 {
				t.Fatalf("parseEPSV(%q) = %d; round trip %d, %v", text, p, p2, err)
			}
		}
		if n, err := parseSize(text); err == nil && n < 0 {
			t.Fatalf("parseSize(%q) = %d", text, n)
		}
	})
}
