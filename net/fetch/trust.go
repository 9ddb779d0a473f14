package fetch

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// Trust is the set of certificate authorities HTTPS accepts, and where it
// came from (for messages).
type Trust struct {
	Pool   *x509.CertPool
	Source string // "embedded TRUST bundle (2 certificates)", "public roots (NSS, 140 certificates)"
}

// TrustFromPEM parses the PEM bundle(s) embedded with `make TRUST=a.pem,b.pem`.
// Every CERTIFICATE block must parse; other block types are refused so that
// a key pasted by mistake is noticed.
func TrustFromPEM(bundles ...[]byte) (*Trust, error) {
	pool := x509.NewCertPool()
	n := 0
	for i, b := range bundles {
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				return nil, fmt.Errorf("trust bundle %d: PEM block %q is not a CERTIFICATE", i+1, blk.Type)
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("trust bundle %d, certificate %d: %w", i+1, n+1, err)
			}
			pool.AddCert(c)
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("trust bundle: no PEM CERTIFICATE blocks found")
	}
	return &Trust{Pool: pool, Source: fmt.Sprintf("embedded TRUST bundle (%d certificate(s))", n)}, nil
}

var (
	publicOnce sync.Once
	public     *Trust
)

// PublicRoots returns the NSS root store from golang.org/x/crypto/x509roots
// (parsed once, on first use), honouring its distrust-after constraints.
func PublicRoots() *Trust {
	publicOnce.Do(func() {
		pool := x509.NewCertPool()
		n := 0
		for r := range bundle.Roots() {
			c, err := x509.ParseCertificate(r.Certificate)
			if err != nil {
				continue
			}
			if r.Constraint != nil {
				pool.AddCertWithConstraint(c, r.Constraint)
			} else {
				pool.AddCert(c)
			}
			n++
		}
		public = &Trust{Pool: pool, Source: fmt.Sprintf("public roots (NSS via x509roots, %d certificates)", n)}
	})
	return public
}

// Clock is the wall clock used to check certificate validity and the name
// of where it came from ("EFI GetTime", "NTP pool.example", "build time").
type Clock struct {
	Now    func() time.Time
	Source string
}

func (c Clock) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c Clock) source() string {
	if c.Source == "" {
		return "system clock"
	}
	return c.Source
}
