package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snp-go/snp-go/internal/testpki"
)

// TestRunImgverify signs a kernel the way iPXE documents it (openssl cms
// -sign -binary -noattr ... -outform DER) and runs a script that requires
// trusted images: snpctl run --trust ca.pem boots it; a tampered kernel,
// or no --trust (the system roots), boots nothing.
func TestRunImgverify(t *testing.T) {
	testpki.NeedOpenssl(t)
	dir := t.TempDir()
	ca := testpki.New(t, testpki.CA("snpctl test CA"), nil, nil)
	leaf := testpki.New(t, testpki.CodeSigner("kernel-signer"), ca, nil)
	caPEM := testpki.WriteFile(t, dir, "ca.pem", ca.CertPEM())
	testpki.WriteFile(t, dir, "cert.pem", leaf.CertPEM())
	testpki.WriteFile(t, dir, "key.pem", leaf.KeyPEM(t))
	kernel := peImage(4096)
	writeFile(t, dir, "vmlinuz.efi", string(kernel))
	sign := exec.Command("openssl", "cms", "-sign", "-binary", "-noattr", "-in", "vmlinuz.efi", "-signer", "cert.pem",
		"-inkey", "key.pem", "-certfile", "ca.pem", "-outform", "DER", "-out", "vmlinuz.efi.sig")
	sign.Dir = dir
	if out, err := sign.CombinedOutput(); err != nil {
		t.Fatalf("openssl cms -sign: %v\n%s", err, out)
	}
	writeFile(t, dir, "boot.ipxe", "#!ipxe\nimgtrust --permanent\nkernel vmlinuz.efi console=ttyAMA0\n"+
		"imgverify --signer kernel-signer vmlinuz.efi vmlinuz.efi.sig || echo verify failed\nimgstat\nboot\necho not booted\n")

	out, errOut, code := runSnpctl(t, dir, "--trust", caPEM, "boot.ipxe")
	if code != 0 || !strings.Contains(out, "vmlinuz.efi : 4096 bytes [efi] [SELECTED] [TRUSTED]") || !strings.Contains(out, "would boot vmlinuz.efi") {
		t.Errorf("signed kernel: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// Without --trust, the test CA is not among the system roots.
	out, errOut, code = runSnpctl(t, dir, "boot.ipxe")
	for _, want := range []string{
		`Could not verify: image vmlinuz.efi: signature vmlinuz.efi.sig: unknown signer: the certificate (issuer "CN=snpctl test CA") does not chain to a trust anchor [trust: system roots] (signed by "kernel-signer"; expected signer "kernel-signer")`,
		"verify failed",
		"Could not boot vmlinuz.efi: Untrusted image",
	} {
		if code != 1 || !strings.Contains(out, want) || strings.Contains(out, "would boot") {
			t.Errorf("no --trust: exit %d, stdout lacks %q or boots:\n%s\nstderr:\n%s", code, want, out, errOut)
		}
	}

	// One byte of the kernel changed.
	kernel[100] ^= 1
	writeFile(t, dir, "vmlinuz.efi", string(kernel))
	out, errOut, code = runSnpctl(t, dir, "--trust", caPEM, "boot.ipxe")
	if code != 1 || !strings.Contains(out, "Could not verify: image vmlinuz.efi: signature vmlinuz.efi.sig: bad signature") ||
		!strings.Contains(out, "Could not boot vmlinuz.efi: Untrusted image") || strings.Contains(out, "would boot") {
		t.Errorf("tampered kernel: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// A private key in the trust file is refused up front.
	_, errOut, code = runSnpctl(t, dir, "--trust", filepath.Join(dir, "key.pem"), "boot.ipxe")
	if code != 1 || !strings.Contains(errOut, "is not a CERTIFICATE") {
		t.Errorf("--trust key.pem: exit %d, stderr %q; want a refusal", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "vmlinuz.efi.sig")); err != nil {
		t.Fatal(err)
	}
}
