package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"debug/pe"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snp-go/snp-go/cmd/mkefi/internal/fixture"
	"github.com/snp-go/snp-go/internal/testpki"
)

// writeSigningCert writes a self-signed RSA-2048 code-signing key and
// certificate, the shape of a UEFI db key, and returns their paths.
func writeSigningCert(t *testing.T, dir, name string) (key, cert string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	c := testpki.New(t, testpki.CodeSigner(name), nil, k)
	return testpki.WriteFile(t, dir, name+".key", c.KeyPEM(t)), testpki.WriteFile(t, dir, name+".pem", c.CertPEM())
}

// TestSign runs the Makefile's sign target (what `make SIGN_KEY=...
// SIGN_CERT=...` does after mkefi) on a PE built from the fixture links:
// sbverify accepts it with the signing certificate only, the loaded image
// and its relocations are those of the unsigned PE, and a one-byte change
// anywhere in the hashed bytes is refused.
func TestSign(t *testing.T) {
	for _, tool := range []string{"make", "sbsign", "sbverify"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIP: %s not installed (apt-get install sbsigntool make)", tool)
		}
	}
	p := fixture.Linux(t, true)
	unsigned := convertFile(t, p)
	dir := t.TempDir()
	efi := filepath.Join(dir, "snp-go.efi")
	if err := os.WriteFile(efi, unsigned, 0o644); err != nil {
		t.Fatal(err)
	}
	key, cert := writeSigningCert(t, dir, "snp-go-db")
	_, otherCert := writeSigningCert(t, dir, "someone-else")

	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mk := func(args ...string) (string, error) {
		cmd := exec.Command("make", append([]string{"-C", repo, "--no-print-directory", "sign", "OUT=" + efi}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := mk("SIGN_KEY=" + key); err == nil || !strings.Contains(out, "give both SIGN_KEY") {
		t.Errorf("make sign without SIGN_CERT = %v\n%s; want a refusal", err, out)
	}
	out, err := mk("SIGN_KEY="+key, "SIGN_CERT="+cert)
	if err != nil {
		t.Fatalf("make sign: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	signed, err := os.ReadFile(efi)
	if err != nil {
		t.Fatal(err)
	}

	sbverify := func(cert string, file []byte) (string, error) {
		f := filepath.Join(t.TempDir(), "x.efi")
		os.WriteFile(f, file, 0o644)
		out, err := exec.Command("sbverify", "--cert", cert, f).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := sbverify(cert, signed); err != nil {
		t.Fatalf("sbverify of the signed image: %v\n%s", err, out)
	}
	// A second Authenticode implementation agrees, where installed.
	if _, err := exec.LookPath("osslsigncode"); err == nil {
		if out, err := exec.Command("osslsigncode", "verify", "-CAfile", cert, "-in", efi).CombinedOutput(); err != nil {
			t.Errorf("osslsigncode verify of the signed image: %v\n%s", err, out)
		}
	}
	if out, err := sbverify(otherCert, signed); err == nil {
		t.Errorf("sbverify with another certificate accepted the image:\n%s", out)
	}
	if out, err := sbverify(cert, unsigned); err == nil {
		t.Errorf("sbverify accepted the unsigned image:\n%s", out)
	}

	// The signature is appended: the unsigned bytes stay (but for the
	// checksum and the security directory in the header), the security
	// directory points at the appended table, and the image as loaded,
	// .reloc included, is unchanged.
	ls, lu := load(t, signed), load(t, unsigned)
	sec := ls.oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_SECURITY]
	if int(sec.VirtualAddress) < len(unsigned) || int(sec.VirtualAddress+sec.Size) != len(signed) || sec.Size == 0 {
		t.Errorf("security directory = file offset %#x size %#x; want the table appended after the %#x unsigned bytes, to the end (%#x)",
			sec.VirtualAddress, sec.Size, len(unsigned), len(signed))
	}
	hdr := int(lu.oh.SizeOfHeaders)
	if !bytes.Equal(signed[hdr:len(unsigned)], unsigned[hdr:]) {
		t.Error("signing changed bytes after the headers")
	}
	if !bytes.Equal(ls.mem[hdr:], lu.mem[hdr:]) {
		t.Error("the signed image loads differently from the unsigned one")
	}
	checkImage(t, p, signed)

	// Tampering: one byte in .text, in .reloc, in the headers' entry point.
	text, reloc := ls.f.Section(".text"), ls.f.Section(".reloc")
	for name, off := range map[string]int{
		"a .text byte":        int(text.Offset) + int(text.Size)/2,
		"a .reloc byte":       int(reloc.Offset) + 8,
		"AddressOfEntryPoint": peEntryOffset(t, signed),
	} {
		bad := append([]byte(nil), signed...)
		bad[off] ^= 0x01
		if out, err := sbverify(cert, bad); err == nil {
			t.Errorf("sbverify accepted the image with %s changed (offset %#x):\n%s", name, off, out)
		} else {
			t.Logf("%s changed: sbverify: %s", name, out)
		}
	}
}

// peEntryOffset is the file offset of OptionalHeader.AddressOfEntryPoint.
func peEntryOffset(t *testing.T, file []byte) int {
	peOff := int(file[0x3c]) | int(file[0x3d])<<8 | int(file[0x3e])<<16 | int(file[0x3f])<<24
	if string(file[peOff:peOff+4]) != "PE\x00\x00" {
		t.Fatalf("no PE signature at %#x", peOff)
	}
	return peOff + 4 + 20 + 16 // signature, COFF header, Magic..SizeOfUninitializedData
}
