package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/snp-go/snp-go/internal/testpki"
	"github.com/snp-go/snp-go/lab"
	"github.com/snp-go/snp-go/lab/bootdisk"
)

// codeSigner returns a function that makes detached CMS signatures the way
// iPXE documents them (openssl cms -sign -binary -noattr ... -outform DER),
// by a code-signing certificate named cn that the test CA issued.
func (p *testPKI) codeSigner(t *testing.T, cn string) func([]byte) []byte {
	t.Helper()
	ca := &testpki.Cert{Cert: p.caCert, Key: p.caKey}
	leaf := testpki.New(t, testpki.CodeSigner(cn), ca, nil)
	return func(data []byte) []byte { return testpki.GoSign(t, data, nil, leaf) }
}

// TestQEMUImgverify: with imgtrust on, snp-go.efi verifies a Linux kernel
// fetched over tftp:// and a script fetched over HTTPS against the embedded
// trust anchors (detached CMS signatures, code-signing certificate) and
// runs only what verified: a script whose signature is for other bytes is
// refused, naming the image and the reason, and chain will not run it.
func TestQEMUImgverify(t *testing.T) {
	lab.SkipIfMissing(t)
	pkg, err := bootdisk.Fetch()
	if err != nil {
		t.Skipf("SKIP: %v", err)
	}
	kernel, err := os.ReadFile(pkg.Kernel)
	if err != nil {
		t.Fatal(err)
	}
	pki := newPKI(t, "snp-go")
	sign := pki.codeSigner(t, "snp-go image signer")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "vmlinuz"), kernel, 0o644)
	os.WriteFile(filepath.Join(dir, "vmlinuz.sig"), sign(kernel), 0o644)
	next := []byte("#!ipxe\necho VERIFIED-SCRIPT-RAN\n")
	evil := []byte("#!ipxe\necho EVIL-SCRIPT-RAN\n")
	port := serveHTTPS(t, pki, map[string][]byte{
		"/next.ipxe": next, "/next.ipxe.sig": sign(next),
		"/evil.ipxe": evil, "/evil.ipxe.sig": sign([]byte("#!ipxe\necho something else\n")),
	})
	web := fmt.Sprintf("https://10.0.2.2:%d", port)
	script := fmt.Sprintf(`#!ipxe
dhcp
imgtrust
imgfetch tftp://10.0.2.2/vmlinuz
imgverify vmlinuz tftp://10.0.2.2/vmlinuz.sig && echo KERNEL-VERIFIED
imgfetch %[1]s/evil.ipxe
imgverify evil.ipxe %[1]s/evil.ipxe.sig || echo EVIL-REFUSED errno=${errno}
chain evil.ipxe || echo EVIL-NOT-CHAINED
imgfetch %[1]s/next.ipxe
imgverify next.ipxe %[1]s/next.ipxe.sig
chain next.ipxe
`, web)
	efi := lab.NeedEFI(t, lab.EFIBuild{Embed: writeFile(t, "embed.ipxe", []byte(script)), Trust: []string{writeFile(t, "ca.pem", pki.caPEM)}})
	m, _ := lab.StartEFI(t, lab.Config{TFTP: dir}, efi, "")
	if _, err := m.Expect("KERNEL-VERIFIED", 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	r, err := m.Expect(regexp.MustCompile(`imgverify: Could not verify: image evil\.ipxe: [^\r\n]*bad signature[^\r\n]*`), 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("refusal: %s", r.Text)
	if _, err := m.Expect(regexp.MustCompile(`EVIL-REFUSED errno=0x[0-9a-f]+`), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Expect("EVIL-NOT-CHAINED", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Expect("VERIFIED-SCRIPT-RAN", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if log, err := os.ReadFile(m.LogPath); err == nil && regexp.MustCompile(`EVIL-SCRIPT-RAN`).Match(log) {
		t.Errorf("the script whose signature did not verify ran")
	}
}
