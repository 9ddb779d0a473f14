package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/snp-go/snp-go/lab"
)

// snakeoilKey decrypts Debian's snakeoil signing key for make SIGN_KEY=
// (sbsign reads no passphrase).
func snakeoilKey(t *testing.T) string {
	t.Helper()
	key := filepath.Join(t.TempDir(), "snakeoil.key")
	out, err := exec.Command("openssl", "pkey", "-in", lab.SnakeoilKey, "-passin", "pass:"+lab.SnakeoilPassword, "-out", key).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkey %s: %v: %s", lab.SnakeoilKey, err, out)
	}
	return key
}

// firmwareRefusedRE is EDK2's boot manager refusing the boot option.
var firmwareRefusedRE = regexp.MustCompile(`BdsDxe: failed to load Boot[0-9A-F]{4} "[^"]*" from [^\r\n]*: (Access Denied|Security Violation)`)

// TestQEMUSecureBoot runs EDK2 with Secure Boot on (Debian's snakeoil
// keys enrolled): snp-go.efi signed with the snakeoil key (make SIGN_KEY=
// SIGN_CERT=) boots, says Secure Boot is on and runs its script, and an
// unsigned image it chains is refused by the firmware with a message naming
// it; snp-go.efi unsigned, or signed and then changed in one byte, is
// refused by the firmware.
func TestQEMUSecureBoot(t *testing.T) {
	lab.SkipIfMissing(t)
	for _, f := range []string{lab.EDK2SecureBoot.Code, lab.EDK2SecureBoot.Vars, lab.SnakeoilKey, lab.SnakeoilCert} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%v (apt-get install qemu-efi-aarch64)", err)
		}
	}
	pki := newPKI(t, "snp-go")
	ca := writeFile(t, "ca.pem", pki.caPEM)
	unsigned := lab.NeedEFI(t, lab.EFIBuild{Trust: []string{ca}})
	blob, err := os.ReadFile(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	port := serveHTTPS(t, pki, map[string][]byte{"/unsigned.efi": blob})
	embed := writeFile(t, "embed.ipxe", []byte(fmt.Sprintf("#!ipxe\necho SCRIPT-RUNS\ndhcp\nchain https://10.0.2.2:%d/unsigned.efi || echo CHAIN-REFUSED errno=${errno}\n", port)))
	signed := lab.NeedEFI(t, lab.EFIBuild{Embed: embed, Trust: []string{ca}, SignKey: snakeoilKey(t), SignCert: lab.SnakeoilCert})

	t.Run("signed", func(t *testing.T) {
		m, _ := lab.StartEFI(t, lab.Config{Firmware: lab.EDK2SecureBoot}, signed, "")
		for _, want := range []any{"secure boot: on", "SCRIPT-RUNS"} {
			if _, err := m.Expect(want, 60*time.Second); err != nil {
				t.Fatal(err)
			}
		}
		r, err := m.Expect(regexp.MustCompile(`unsigned\.efi: the firmware refused to load it \((\S+): [^\r\n]*\r?\n`), 60*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("refusal: %s", r.Text)
		if _, err := m.Expect(regexp.MustCompile(`CHAIN-REFUSED errno=0x[0-9a-f]+`), 10*time.Second); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		m := lab.Start(t, secureBootDisk(t, unsigned))
		r, err := m.Expect(firmwareRefusedRE, 2*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("firmware: %s", r.Text)
	})
	t.Run("tampered", func(t *testing.T) {
		b, err := os.ReadFile(signed)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 1 // inside a section: covered by the Authenticode hash
		m := lab.Start(t, secureBootDisk(t, writeFile(t, "tampered.efi", b)))
		r, err := m.Expect(firmwareRefusedRE, 2*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("firmware: %s", r.Text)
	})
}

// secureBootDisk is the Secure Boot machine with efi as the disk's
// removable-media loader.
func secureBootDisk(t *testing.T, efi string) lab.Config {
	t.Helper()
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := lab.BuildDisk(img, lab.Disk{Files: map[string]lab.File{lab.RemovablePath: lab.HostFile(efi)}}); err != nil {
		t.Fatal(err)
	}
	return lab.Config{Firmware: lab.EDK2SecureBoot, Disks: []string{img}, Snapshot: true}
}
