// Package testpki makes certificates and CMS signatures for tests: a CA
// chain, a code-signing leaf, their PEM files, and detached signatures made
// by openssl the way iPXE documents them. It is for _test.go files only.
package testpki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
)

// Cert is a certificate with its private key.
type Cert struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

var serial atomic.Int64

// New issues a certificate from tmpl for key (a new ECDSA P-256 key when
// nil), signed by parent (self-signed when nil). Serial numbers are unique
// within the process; a zero NotBefore or NotAfter becomes an hour before
// now or a year after it.
func New(t testing.TB, tmpl *x509.Certificate, parent *Cert, key crypto.Signer) *Cert {
	t.Helper()
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	}
	tmpl.SerialNumber = big.NewInt(serial.Add(1))
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	pc, pk := tmpl, key
	if parent != nil {
		pc, pk = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, pc, key.Public(), pk)
	if err != nil {
		t.Fatalf("testpki: creating certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Cert{c, key}
}

// CA returns a template for a certificate authority named name.
func CA(name string) *x509.Certificate {
	return &x509.Certificate{Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
}

// CodeSigner returns a template for a code-signing leaf named name.
func CodeSigner(name string) *x509.Certificate {
	return &x509.Certificate{Subject: pkix.Name{CommonName: name, Organization: []string{"snp-go test"}},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}
}

// CertPEM is the certificate as a PEM CERTIFICATE block.
func (c *Cert) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// KeyPEM is the private key as a PEM PKCS #8 PRIVATE KEY block.
func (c *Cert) KeyPEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// WriteFile writes data to dir/name and returns the path.
func WriteFile(t testing.TB, dir, name string, data ...[]byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, bytes.Join(data, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// NeedOpenssl skips the test when openssl is not installed.
func NeedOpenssl(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("SKIP: openssl not installed (apt-get install openssl): needed to make CMS signatures as iPXE documents")
	}
}

// OpensslSign signs data as iPXE documents it (openssl cms -sign -binary
// -noattr -in FILE -signer cert.pem -inkey key.pem -certfile ca.pem
// -outform DER), once for each of by, with extra certificates carried in
// the signature, and returns the DER signature.
func OpensslSign(t testing.TB, data []byte, extra []*x509.Certificate, by ...*Cert) []byte {
	t.Helper()
	dir := t.TempDir()
	in := WriteFile(t, dir, "image", data)
	args := []string{"cms", "-sign", "-binary", "-noattr", "-in", in, "-outform", "DER", "-out", in + ".sig"}
	for i, b := range by {
		args = append(args, "-signer", WriteFile(t, dir, strings.Repeat("c", i+1)+".pem", b.CertPEM()),
			"-inkey", WriteFile(t, dir, strings.Repeat("k", i+1)+".pem", b.KeyPEM(t)))
	}
	if len(extra) > 0 {
		var certs [][]byte
		for _, c := range extra {
			certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
		}
		args = append(args, "-certfile", WriteFile(t, dir, "ca.pem", certs...))
	}
	if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	sig, err := os.ReadFile(in + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// GoSign makes the signature OpensslSign makes (detached CMS SignedData,
// SHA-256, no signed attributes) with the Go pkcs7 library, so tests need
// no openssl.
func GoSign(t testing.TB, data []byte, extra []*x509.Certificate, by ...*Cert) []byte {
	t.Helper()
	sd, err := pkcs7.NewSignedData(data)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	for _, b := range by {
		if err := sd.SignWithoutAttr(b.Cert, b.Key, pkcs7.SignerInfoConfig{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range extra {
		sd.AddCertificate(c)
	}
	sd.Detach()
	der, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return der
}
