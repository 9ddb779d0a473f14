package imgverify

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/snp-go/snp-go/internal/testpki"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type cert = testpki.Cert

// newCert is testpki.New with validity around the fixed verification time
// now (unless tmpl sets its own).
func newCert(t testing.TB, tmpl *x509.Certificate, parent *cert, key crypto.Signer) *cert {
	t.Helper()
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = now.Add(-24 * time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = now.Add(365 * 24 * time.Hour)
	}
	return testpki.New(t, tmpl, parent, key)
}

func newCA(t testing.TB, name string, parent *cert) *cert {
	return newCert(t, testpki.CA(name), parent, nil)
}

var codeSigner = testpki.CodeSigner

type pki struct {
	root, inter, other *cert
}

func newPKI(t testing.TB) *pki {
	p := &pki{root: newCA(t, "Test Root CA", nil), other: newCA(t, "Someone Else's CA", nil)}
	p.inter = newCA(t, "Test Code Signing CA", p.root)
	return p
}

func (p *pki) anchors() Anchors {
	pool := x509.NewCertPool()
	pool.AddCert(p.root.Cert)
	return Anchors{Pool: pool, Source: "test root"}
}

// signer makes a detached CMS signature without signed attributes.
type signer func(t testing.TB, data []byte, extra []*x509.Certificate, by ...*cert) []byte

func signers(t *testing.T) map[string]signer {
	s := map[string]signer{"go": testpki.GoSign}
	if _, err := exec.LookPath("openssl"); err == nil {
		s["openssl"] = testpki.OpensslSign
	} else {
		t.Log("openssl not installed: signatures made with the Go pkcs7 library only")
	}
	return s
}

func TestVerify(t *testing.T) {
	p := newPKI(t)
	image := []byte("#!ipxe\necho signed script\n")
	good := newCert(t, codeSigner("boot.example.com"), p.inter, nil)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	goodRSA := newCert(t, codeSigner("rsa.example.com"), p.inter, rsaKey)
	san := codeSigner("Release Signing Key")
	san.DNSNames = []string{"*.release.example.com"}
	sanCert := newCert(t, san, p.inter, nil)
	stranger := newCert(t, codeSigner("boot.example.com"), p.other, nil)
	expiredT := codeSigner("old.example.com")
	expiredT.NotBefore, expiredT.NotAfter = now.Add(-2*365*24*time.Hour), now.Add(-365*24*time.Hour)
	expired := newCert(t, expiredT, p.inter, nil)
	futureT := codeSigner("new.example.com")
	futureT.NotBefore = now.Add(24 * time.Hour)
	future := newCert(t, futureT, p.inter, nil)
	tlsT := codeSigner("www.example.com")
	tlsT.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	tlsCert := newCert(t, tlsT, p.inter, nil)
	noSignT := codeSigner("keyenc.example.com")
	noSignT.KeyUsage = x509.KeyUsageKeyEncipherment
	noSign := newCert(t, noSignT, p.inter, nil)
	chain := []*x509.Certificate{p.inter.Cert}

	tampered := append([]byte(nil), image...)
	tampered[len(tampered)-2] ^= 1

	for sname, sign := range signers(t) {
		cases := []struct {
			name    string
			image   []byte
			sig     []byte
			signer  string
			reason  Reason
			message string
		}{
			{name: "good", image: image, sig: sign(t, image, chain, good)},
			{name: "good, RSA", image: image, sig: sign(t, image, chain, goodRSA)},
			{name: "good, --signer CN", image: image, sig: sign(t, image, chain, good), signer: "boot.example.com"},
			{name: "good, --signer wildcard SAN", image: image, sig: sign(t, image, chain, sanCert), signer: "v2.release.example.com"},
			{name: "wrong signer", image: image, sig: sign(t, image, chain, good), signer: "other.example.com",
				reason: WrongName, message: `wrong signer: no signature by "other.example.com"; signed by "boot.example.com"`},
			{name: "unknown signer", image: image, sig: sign(t, image, nil, stranger),
				reason: UnknownSigner, message: `unknown signer: the certificate (issuer "CN=Someone Else's CA") does not chain to a trust anchor [trust: test root]`},
			{name: "intermediate missing", image: image, sig: sign(t, image, nil, good), reason: UnknownSigner},
			{name: "tampered image", image: tampered, sig: sign(t, image, chain, good),
				reason: BadSignature, message: `bad signature: the image is not what was signed`},
			{name: "expired", image: image, sig: sign(t, image, chain, expired),
				reason: Expired, message: "certificate expired: the certificate expired on 2025-03-01 12:00:00 UTC (clock 2026-03-01 12:00:00 UTC)"},
			{name: "not yet valid", image: image, sig: sign(t, image, chain, future),
				reason: Expired, message: "not valid before 2026-03-02"},
			{name: "TLS certificate", image: image, sig: sign(t, image, chain, tlsCert),
				reason: WrongUsage, message: "wrong key usage: not a code-signing certificate (extended key usage serverAuth)"},
			{name: "no digitalSignature", image: image, sig: sign(t, image, chain, noSign),
				reason: WrongUsage, message: "cannot make signatures"},
			{name: "two signers, one expired", image: image, sig: sign(t, image, chain, good, expired), reason: Expired},
			{name: "two signers, --signer picks the good one", image: image, sig: sign(t, image, chain, good, expired), signer: "boot.example.com"},
			{name: "empty", image: image, sig: nil, reason: Malformed, message: "the signature is empty"},
			{name: "PEM instead of DER", image: image,
				sig: pem.EncodeToMemory(&pem.Block{Type: "CMS", Bytes: sign(t, image, chain, good)}), reason: Malformed, message: "the signature is PEM; it must be DER"},
		}
		for _, tc := range cases {
			t.Run(sname+"/"+tc.name, func(t *testing.T) {
				got, err := Verify(Request{Image: tc.image, ImageName: "boot.ipxe", Signature: tc.sig, SignatureName: "boot.ipxe.sig",
					Signer: tc.signer, Anchors: p.anchors(), Now: now})
				if tc.reason == 0 {
					if err != nil || len(got) == 0 {
						t.Fatalf("Verify = %v, %v; want success", got, err)
					}
					return
				}
				var ve *Error
				if !errors.As(err, &ve) {
					t.Fatalf("Verify = %v, %v; want *Error %v", got, err, tc.reason)
				}
				t.Logf("%v", err)
				if ve.Reason != tc.reason || !strings.Contains(err.Error(), tc.message) ||
					!strings.HasPrefix(err.Error(), "image boot.ipxe: signature boot.ipxe.sig: ") {
					t.Errorf("Verify error = %v (reason %v); want reason %v containing %q", err, ve.Reason, tc.reason, tc.message)
				}
				if want := `expected signer "` + tc.signer + `"`; tc.signer != "" && !strings.Contains(err.Error(), want) {
					t.Errorf("Verify error = %v; want it to name %s", err, want)
				}
			})
		}
	}
}

// TestTruncated: every prefix of a good signature is refused as
// malformed, or (cut inside the signature value) as a bad signature.
func TestTruncated(t *testing.T) {
	p := newPKI(t)
	image := []byte("kernel image")
	sig := testpki.GoSign(t, image, []*x509.Certificate{p.inter.Cert}, newCert(t, codeSigner("k"), p.inter, nil))
	for n := 0; n < len(sig); n++ {
		_, err := Verify(Request{Image: image, ImageName: "k", Signature: sig[:n], SignatureName: "k.sig", Anchors: p.anchors(), Now: now})
		var ve *Error
		if !errors.As(err, &ve) {
			t.Fatalf("Verify(sig[:%d]) = %v; want a refusal", n, err)
		}
	}
}

func TestNoAnchors(t *testing.T) {
	p := newPKI(t)
	image := []byte("x")
	sig := testpki.GoSign(t, image, []*x509.Certificate{p.inter.Cert}, newCert(t, codeSigner("k"), p.inter, nil))
	_, err := Verify(Request{Image: image, ImageName: "x", Signature: sig, SignatureName: "x.sig", Now: now})
	var ve *Error
	if !errors.As(err, &ve) || ve.Reason != UnknownSigner {
		t.Fatalf("Verify without anchors = %v; want unknown signer", err)
	}
}

// FuzzVerify feeds arbitrary signatures to the parser and the policy:
// no panic (pkcs7.Parse is called directly too, so that the recover in
// parse does not hide one), and nothing but a refusal unless the input
// still is a valid signature of the image.
func FuzzVerify(f *testing.F) {
	p := newPKI(f)
	image := []byte("#!ipxe\nboot\n")
	leaf := newCert(f, codeSigner("fuzz.example.com"), p.inter, nil)
	good := testpki.GoSign(f, image, []*x509.Certificate{p.inter.Cert}, leaf)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(testpki.GoSign(f, image, nil, newCert(f, codeSigner("x"), p.other, nil)))
	if _, err := exec.LookPath("openssl"); err == nil {
		f.Add(testpki.OpensslSign(f, image, []*x509.Certificate{p.inter.Cert}, leaf))
	}
	anchors := p.anchors()
	f.Fuzz(func(t *testing.T, sig []byte) {
		if len(sig) > 0 {
			pkcs7.Parse(sig)
		}
		signers, err := Verify(Request{Image: image, ImageName: "i", Signature: sig, SignatureName: "s", Anchors: anchors, Now: now})
		if err == nil {
			for _, s := range signers {
				if s.Name != "fuzz.example.com" {
					t.Fatalf("accepted a signature by %+v", s)
				}
			}
			return
		}
		var ve *Error
		if !errors.As(err, &ve) {
			t.Fatalf("error %v is not an *Error", err)
		}
	})
}
