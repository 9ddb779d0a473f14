// Package imgverify checks an image against a detached CMS (PKCS#7,
// RFC 5652) signature the way iPXE's imgverify does: every signer (or
// every signer with the name asked for) must chain to a trust anchor at
// the current time, hold a certificate for digital signatures and code
// signing, and have signed exactly these bytes. Signatures are made with
//
//	openssl cms -sign -binary -noattr -in FILE -signer cert.pem -inkey key.pem \
//	    -certfile ca.pem -outform DER -out FILE.sig
//
// The CMS parsing is github.com/smallstep/pkcs7; the policy (names, key
// usage, which error) is here.
package imgverify

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/snp-go/snp-go/internal/certstore"
)

// Anchors are the certificate authorities a signer must chain to, and
// where they came from (for messages).
type Anchors struct {
	Pool   *x509.CertPool
	Source string // "embedded TRUST bundle (1 certificate(s))", "--trust ca.pem"
}

// Reason says why a verification failed.
type Reason int

const (
	Malformed     Reason = iota + 1 // the signature is not a CMS SignedData message
	NoSignatures                    // it holds no signer
	WrongName                       // no signer has the name asked for (--signer)
	UnknownSigner                   // the signer's certificate does not chain to a trust anchor
	Expired                         // a certificate of the chain is expired or not yet valid
	WrongUsage                      // the signer's certificate is not for (code) signing
	BadSignature                    // the image is not what was signed
)

var reasons = map[Reason]string{
	Malformed:     "not a CMS signature",
	NoSignatures:  "no signatures present",
	WrongName:     "wrong signer",
	UnknownSigner: "unknown signer",
	Expired:       "certificate expired",
	WrongUsage:    "wrong key usage",
	BadSignature:  "bad signature",
}

func (r Reason) String() string {
	if s, ok := reasons[r]; ok {
		return s
	}
	return fmt.Sprintf("reason %d", int(r))
}

// Error is a refused verification: which image, which signature, which
// signer was expected and found, and why.
type Error struct {
	Image     string // the image's name
	Signature string // the signature image's name
	Expected  string // the signer asked for (--signer), "" for any
	Signer    string // the certificate concerned (its common name), "" if none
	Reason    Reason
	Detail    string
	Err       error // the underlying error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "image %s: signature %s: %s", e.Image, e.Signature, e.Reason)
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	b.WriteString(" (")
	if e.Signer != "" {
		fmt.Fprintf(&b, "signed by %q; ", e.Signer)
	}
	if e.Expected != "" {
		fmt.Fprintf(&b, "expected signer %q)", e.Expected)
	} else {
		b.WriteString("expected signer: any trusted)")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Request is one verification.
type Request struct {
	Image         []byte
	ImageName     string
	Signature     []byte // DER CMS SignedData, detached
	SignatureName string
	Signer        string // required signer name (CN or DNS subjectAltName), "" for any
	Anchors       Anchors
	Now           time.Time // when certificates must be valid
	// Store, if not nil, is the certificate store (iPXE's certstore):
	// its certificates are extra intermediates (never anchors), and the
	// signature's certificates are cached in it.
	Store *certstore.Store
}

// Signer is a certificate that signed the image.
type Signer struct {
	Subject string // "CN=...,O=..."
	Name    string // common name
}

// Verify checks req and returns the signers whose signatures it checked.
// Errors are *Error.
func Verify(req Request) ([]Signer, error) {
	fail := func(r Reason, cert *x509.Certificate, err error, format string, a ...any) *Error {
		e := &Error{Image: req.ImageName, Signature: req.SignatureName, Expected: req.Signer,
			Reason: r, Detail: fmt.Sprintf(format, a...), Err: err}
		if cert != nil {
			e.Signer = certName(cert)
		}
		return e
	}
	p7, err := parse(req.Signature)
	if err != nil {
		return nil, fail(Malformed, nil, err, "%v", err)
	}
	if len(p7.Signers) == 0 {
		return nil, fail(NoSignatures, nil, nil, "the message has no signer information")
	}
	if req.Anchors.Pool == nil {
		return nil, fail(UnknownSigner, nil, nil, "no trust anchors in this build")
	}
	req.Store.Seen(p7.Certificates, false)
	intermediates := req.Store.Intermediates(p7.Certificates...)
	var (
		done  []Signer
		names []string
	)
	for i := range p7.Signers {
		one := *p7
		one.Signers = p7.Signers[i : i+1]
		one.Content = req.Image
		cert := one.GetOnlySigner()
		if cert == nil {
			return nil, fail(UnknownSigner, nil, nil, "signer %d's certificate is not in the signature (sign with -signer cert.pem, without -nocerts)", i+1)
		}
		names = append(names, fmt.Sprintf("%q", certName(cert)))
		if req.Signer != "" && !nameMatches(cert, req.Signer) {
			continue
		}
		// The chain first (iPXE: validate, then usage, then digest).
		opts := x509.VerifyOptions{Roots: req.Anchors.Pool, Intermediates: intermediates,
			CurrentTime: req.Now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
		chains, err := cert.Verify(opts)
		if err != nil {
			r, detail := chainReason(cert, err, req.Now, req.Anchors.Source)
			return nil, fail(r, cert, err, "%s", detail)
		}
		req.Store.SeenHeld(chains[0])
		if cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
			return nil, fail(WrongUsage, cert, nil, "the certificate cannot make signatures (no digitalSignature key usage)")
		}
		if !hasEKU(cert, x509.ExtKeyUsageCodeSigning) {
			return nil, fail(WrongUsage, cert, nil, "not a code-signing certificate (extended key usage %s)", ekuNames(cert))
		}
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
		if _, err := cert.Verify(opts); err != nil {
			return nil, fail(WrongUsage, cert, err, "an issuing CA does not permit code signing: %v", err)
		}
		if err := one.Verify(); err != nil {
			return nil, fail(BadSignature, cert, err, "the image is not what was signed (altered image or signature): %v", err)
		}
		done = append(done, Signer{Subject: cert.Subject.String(), Name: certName(cert)})
	}
	if len(done) == 0 {
		return nil, fail(WrongName, nil, nil, "no signature by %q; signed by %s", req.Signer, strings.Join(names, ", "))
	}
	return done, nil
}

// parse decodes a CMS SignedData message. The library is not trusted to
// be total on hostile input: a panic is a malformed signature.
func parse(der []byte) (p7 *pkcs7.PKCS7, err error) {
	defer func() {
		if r := recover(); r != nil {
			p7, err = nil, fmt.Errorf("unparseable CMS message: %v", r)
		}
	}()
	if len(der) == 0 {
		return nil, errors.New("the signature is empty")
	}
	if bytes.HasPrefix(bytes.TrimSpace(der), []byte("-----BEGIN")) {
		return nil, errors.New("the signature is PEM; it must be DER (openssl cms -sign ... -outform DER)")
	}
	p7, err = pkcs7.Parse(der)
	if err != nil {
		return nil, fmt.Errorf("%w (want DER: openssl cms -sign -binary -noattr ... -outform DER)", err)
	}
	return p7, nil
}

// chainReason classifies an x509 chain error.
func chainReason(cert *x509.Certificate, err error, now time.Time, source string) (Reason, string) {
	var inv x509.CertificateInvalidError
	var ua x509.UnknownAuthorityError
	switch {
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		if now.After(cert.NotAfter) {
			return Expired, fmt.Sprintf("the certificate expired on %s (clock %s)", day(cert.NotAfter), day(now))
		}
		if now.Before(cert.NotBefore) {
			return Expired, fmt.Sprintf("the certificate is not valid before %s (clock %s)", day(cert.NotBefore), day(now))
		}
		return Expired, fmt.Sprintf("a certificate of its chain is outside its validity: %v", err)
	case errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage:
		return WrongUsage, err.Error()
	case errors.As(err, &ua):
		return UnknownSigner, fmt.Sprintf("the certificate (issuer %q) does not chain to a trust anchor [trust: %s]", ua.Cert.Issuer.String(), source)
	}
	return UnknownSigner, fmt.Sprintf("certificate chain refused: %v [trust: %s]", err, source)
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

func hasEKU(c *x509.Certificate, want x509.ExtKeyUsage) bool {
	for _, u := range c.ExtKeyUsage {
		if u == want {
			return true
		}
	}
	return false
}

func ekuNames(c *x509.Certificate) string {
	names := map[x509.ExtKeyUsage]string{
		x509.ExtKeyUsageAny: "any", x509.ExtKeyUsageServerAuth: "serverAuth", x509.ExtKeyUsageClientAuth: "clientAuth",
		x509.ExtKeyUsageCodeSigning: "codeSigning", x509.ExtKeyUsageEmailProtection: "emailProtection",
		x509.ExtKeyUsageTimeStamping: "timeStamping", x509.ExtKeyUsageOCSPSigning: "OCSPSigning",
	}
	var s []string
	for _, u := range c.ExtKeyUsage {
		if n, ok := names[u]; ok {
			s = append(s, n)
		} else {
			s = append(s, fmt.Sprintf("#%d", int(u)))
		}
	}
	for _, o := range c.UnknownExtKeyUsage {
		s = append(s, o.String())
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}

// certName is the certificate's common name, else its whole subject.
func certName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return c.Subject.String()
}

// nameMatches is iPXE's x509_check_name: the common name or a DNS
// subjectAltName equals name (case-insensitively), or is a wildcard
// "*.domain" covering it.
func nameMatches(c *x509.Certificate, name string) bool {
	for _, n := range append([]string{c.Subject.CommonName}, c.DNSNames...) {
		if n == "" {
			continue
		}
		if strings.EqualFold(n, name) {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			if _, dom, ok := strings.Cut(name, "."); ok && strings.EqualFold(dom, rest) {
				return true
			}
		}
	}
	return false
}
