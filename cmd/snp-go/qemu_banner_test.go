package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/snp-go/snp-go/lab"
)

// TestQEMUBannerTimeout checks the "Press Ctrl-B" prompt on the serial
// console: by default (BANNER_TIMEOUT=20) it waits two seconds and its
// line ends before "Configuring (net0 ...)"; built with BANNER_TIMEOUT=0
// it is neither printed nor waited for.
func TestQEMUBannerTimeout(t *testing.T) {
	lab.SkipIfMissing(t)
	netLine := regexp.MustCompile(`net0: [^\r\n]*\(MTU \d+[^\r\n]*\)\r*\n`)
	for _, tc := range []struct {
		banner string
		prompt bool
	}{
		{"", true},
		{"0", false},
	} {
		t.Run("BANNER_TIMEOUT="+tc.banner, func(t *testing.T) {
			efi := lab.NeedEFI(t, lab.EFIBuild{BannerTimeout: tc.banner})
			m := boot(t, efi, lab.Config{})
			if _, err := m.Bootefi("0:1", "snp-go.efi", 20*time.Second); err != nil {
				t.Fatal(err)
			}
			nl, err := m.Expect(netLine, 60*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			conf, err := m.Expect(regexp.MustCompile(`Configuring \(net0 [0-9a-f:]+\)`), 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			wait := conf.At.Sub(nl.At)
			between := strings.ReplaceAll(conf.Before, "\r", "")
			if tc.prompt {
				if want := "Press Ctrl-B for the snp-go command line...\n"; between != want {
					t.Errorf("between the net0 line and Configuring: %q; want %q (the prompt on a line of its own)", between, want)
				}
				if wait < 2*time.Second {
					t.Errorf("the prompt waited %v; want 2s", wait)
				}
			} else {
				if between != "" {
					t.Errorf("between the net0 line and Configuring: %q; want nothing (BANNER_TIMEOUT=0)", between)
				}
				if wait > time.Second {
					t.Errorf("net0 line to Configuring took %v with BANNER_TIMEOUT=0; want no wait", wait)
				}
			}
			t.Logf("net0 line to Configuring: %v", wait.Round(time.Millisecond))
			// slirp's DHCP offers no filename: autoboot ends in the shell.
			if err := exitShell(m); err != nil {
				t.Fatal(err)
			}
		})
	}
}
