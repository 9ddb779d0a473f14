package script

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/snp-go/snp-go/internal/testpki"
	"github.com/snp-go/snp-go/script/imgverify"
)

// fakeTrust supplies test trust anchors.
type fakeTrust struct {
	pool *x509.CertPool
	err  error
}

func (f fakeTrust) ImageTrust() (imgverify.Anchors, error) {
	return imgverify.Anchors{Pool: f.pool, Source: "test CA"}, f.err
}

// testSigner is a CA and a code-signing certificate issued by it.
type testSigner struct {
	ca, leaf *testpki.Cert
}

func newTestSigner(t *testing.T, cn string) *testSigner {
	t.Helper()
	ca := testpki.New(t, testpki.CA(cn+" CA"), nil, nil)
	return &testSigner{ca: ca, leaf: testpki.New(t, testpki.CodeSigner(cn), ca, nil)}
}

func (s *testSigner) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.ca.Cert)
	return p
}

// sign makes a detached CMS signature without signed attributes, as
// `openssl cms -sign -binary -noattr ... -outform DER` does.
func (s *testSigner) sign(t *testing.T, data string) string {
	t.Helper()
	return string(testpki.GoSign(t, []byte(data), nil, s.leaf))
}

func newTrustEnv(t *testing.T) (*testEnv, *testSigner) {
	s := newTestSigner(t, "boot.example.test")
	te := newTestEnv()
	te.e.env.Trust = fakeTrust{pool: s.pool()}
	script := "#!ipxe\necho running signed.ipxe\n"
	te.fetch.files["http://x/signed.ipxe"] = script
	te.fetch.files["http://x/signed.ipxe.sig"] = s.sign(t, script)
	te.fetch.files["http://x/unsigned.ipxe"] = "#!ipxe\necho running unsigned.ipxe\n"
	te.fetch.files["http://x/vmlinuz"] = efiBinary
	te.fetch.files["http://x/vmlinuz.sig"] = s.sign(t, efiBinary)
	te.fetch.files["http://x/initrd.img"] = "initrd"
	other := newTestSigner(t, "mallory.example.test")
	te.fetch.files["http://x/vmlinuz.mallory.sig"] = other.sign(t, efiBinary)
	te.fetch.files["http://x/tampered.sig"] = s.sign(t, efiBinary+"x")
	return te, s
}

func TestImageTrustPolicy(t *testing.T) {
	tests := []struct {
		name   string
		script string
		status Errno
		out    []string // in the output
		not    []string // not in the output
		boots  int
	}{
		{name: "no imgtrust: unverified images run",
			script: "chain http://x/unsigned.ipxe\nchain http://x/vmlinuz\n", out: []string{"running unsigned.ipxe"}, boots: 1},
		{name: "imgtrust: chain of an unverified script refused",
			script: "imgtrust\nchain http://x/unsigned.ipxe\n", status: EACCES,
			out: []string{"Could not boot unsigned.ipxe: Untrusted image: unsigned.ipxe has not been verified with imgverify, and imgtrust requires it"},
			not: []string{"running unsigned.ipxe"}},
		{name: "imgtrust: chain of an unverified EFI image refused",
			script: "imgtrust\nchain http://x/vmlinuz\n", status: EACCES, out: []string{"Could not boot vmlinuz: Untrusted image"}},
		{name: "imgtrust: imgexec refused",
			script: "imgtrust\nimgexec http://x/vmlinuz\n", status: EACCES, out: []string{"Untrusted image"}},
		{name: "imgtrust: kernel + boot refused",
			script: "imgtrust\nkernel http://x/vmlinuz\nboot\n", status: EACCES, out: []string{"Could not boot vmlinuz: Untrusted image"}},
		{name: "imgtrust: chain --replace refused",
			script: "imgtrust\nchain --replace http://x/unsigned.ipxe\necho not reached\n", status: EACCES,
			out: []string{"Untrusted image"}, not: []string{"running unsigned.ipxe", "not reached"}},
		{name: "imgverify then chain a script",
			script: "imgtrust\nimgverify http://x/signed.ipxe http://x/signed.ipxe.sig\nimgstat\nchain signed.ipxe\n",
			out:    []string{"signed.ipxe : 32 bytes [script] [TRUSTED]\n", "running signed.ipxe"}, not: []string{"signed.ipxe.sig :"}},
		{name: "imgverify --keep keeps the signature",
			script: "imgverify --keep --signer boot.example.test http://x/vmlinuz http://x/vmlinuz.sig\nimgstat\n",
			out:    []string{"vmlinuz : 17 bytes [efi] [TRUSTED]\n", "vmlinuz.sig : "}},
		{name: "imgverify then kernel + initrd + boot",
			script: "imgtrust --permanent\nkernel http://x/vmlinuz quiet\nimgverify vmlinuz http://x/vmlinuz.sig\ninitrd http://x/initrd.img\nboot\n",
			boots:  1},
		{name: "imgverify then imgexec",
			script: "imgtrust\nimgverify http://x/vmlinuz http://x/vmlinuz.sig\nimgexec vmlinuz\n", boots: 1},
		{name: "a verified script cannot chain an unverified one",
			script: "imgtrust\nimgverify http://x/signed.ipxe http://x/signed.ipxe.sig\nchain signed.ipxe && chain http://x/unsigned.ipxe\n",
			status: EACCES, out: []string{"running signed.ipxe", "Could not boot unsigned.ipxe: Untrusted image"}},
		{name: "unknown signer: not trusted, nothing boots",
			script: "imgtrust\nimgverify http://x/vmlinuz http://x/vmlinuz.mallory.sig || echo errno ${errno}\nimgstat\nchain vmlinuz\n", status: EACCES,
			out: []string{"Could not verify: image vmlinuz: signature vmlinuz.mallory.sig: unknown signer", `signed by "mallory.example.test"`, "vmlinuz : 17 bytes [efi]\n"},
			not: []string{"vmlinuz.mallory.sig : "}},
		{name: "tampered: a trusted image that fails again is untrusted",
			script: "imgtrust\nimgverify --keep http://x/vmlinuz http://x/vmlinuz.sig\nimgverify vmlinuz http://x/tampered.sig || imgstat\nchain vmlinuz\n", status: EACCES,
			out: []string{"Could not verify: image vmlinuz: signature tampered.sig: bad signature", "vmlinuz : 17 bytes [efi]\n", "Untrusted image"}},
		{name: "--signer names the expected signer",
			script: "imgverify --signer other.example.test http://x/vmlinuz http://x/vmlinuz.sig\n", status: EACCES,
			out: []string{`wrong signer: no signature by "other.example.test"; signed by "boot.example.test" (expected signer "other.example.test")`}},
		{name: "imgtrust --allow lifts the requirement",
			script: "imgtrust\nimgtrust --allow\nchain http://x/unsigned.ipxe\n", out: []string{"running unsigned.ipxe"}},
		{name: "imgtrust --permanent cannot be lifted",
			script: "imgtrust --permanent\nimgtrust --allow || echo allow refused ${errno}\nimgtrust\nimgtrust --permanent\nchain http://x/unsigned.ipxe\n", status: EACCES,
			out: []string{"Could not set image trust requirement: Trust requirement is permanent", "allow refused 0x", "Untrusted image"},
			not: []string{"running unsigned.ipxe"}},
		{name: "imgtrust --allow --permanent keeps images allowed",
			script: "imgtrust --allow --permanent\nimgtrust || echo refused\nchain http://x/unsigned.ipxe\n",
			out:    []string{"refused", "running unsigned.ipxe"}},
		{name: "usage", script: "imgverify http://x/vmlinuz\n", status: ERANGE, out: []string{"<uri|image> <signature uri|image>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			te, _ := newTrustEnv(t)
			out, status, err := te.run("#!ipxe\n" + tc.script)
			if status != tc.status {
				t.Errorf("status %v (%v); want %v\n%s", status, err, tc.status, out)
			}
			for _, w := range tc.out {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			if len(te.boot.boots) != tc.boots {
				t.Errorf("booter called %d times; want %d\n%s", len(te.boot.boots), tc.boots, out)
			}
		})
	}
}

func TestImgverifyWithoutAnchors(t *testing.T) {
	te, _ := newTrustEnv(t)
	te.e.env.Trust = nil
	out, status, _ := te.run("imgverify http://x/vmlinuz http://x/vmlinuz.sig\n")
	if status != ENOTSUP || !strings.Contains(out, "trust anchors") {
		t.Errorf("imgverify without anchors: status %v, output %q; want ENOTSUP naming the trust anchors", status, out)
	}
	te.e.env.Trust = fakeTrust{err: errors.New("embedded TRUST bundle: bad PEM")}
	out, status, _ = te.run("imgverify http://x/vmlinuz http://x/vmlinuz.sig\n")
	if status != EACCES || !strings.Contains(out, "bad PEM") {
		t.Errorf("imgverify with broken anchors: status %v, output %q; want EACCES with the reason", status, out)
	}
}
