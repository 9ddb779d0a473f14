// Package certstore is snp-go's certificate store, the counterpart of
// iPXE's (crypto/certstore.c): the X.509 certificates snp-go holds, most
// recently used first. It is not a list of trust anchors. As in iPXE,
// the certificates in it complete chains: HTTPS and imgverify use them
// as intermediates when a server or a signature leaves an issuing
// certificate out, while trust still comes only from the roots (the
// embedded TRUST bundle or the public roots). Certificates seen in a
// verified HTTPS chain or CMS signature are cached here; the cache keeps
// at most MaxCached of them, dropping the least recently used.
// Certificates added by the certstore command are Explicit and stay until
// certfree removes them; Permanent ones cannot be removed.
package certstore

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
)

// MaxCached bounds the certificates that are neither Explicit nor
// Permanent (iPXE discards such certificates under memory pressure).
const MaxCached = 32

// Cert is one stored certificate and its flags.
type Cert struct {
	X509      *x509.Certificate
	Permanent bool // built in; certfree leaves it
	Explicit  bool // added by certstore; never dropped from the cache
	Validated bool // part of a chain verified against the trust roots
}

// Store is a certificate store, safe for concurrent use. The zero value
// is an empty store.
type Store struct {
	mu    sync.Mutex
	certs []*Cert // most recently used first
}

// find returns the index of c in the store, or -1.
func (s *Store) find(c *x509.Certificate) int {
	for i, e := range s.certs {
		if bytes.Equal(e.X509.Raw, c.Raw) {
			return i
		}
	}
	return -1
}

// add puts c first (adding it if new) and returns its entry.
func (s *Store) add(c *x509.Certificate) *Cert {
	e := &Cert{X509: c}
	if i := s.find(c); i >= 0 {
		e = s.certs[i]
		s.certs = append(s.certs[:i], s.certs[i+1:]...)
	}
	s.certs = append([]*Cert{e}, s.certs...)
	s.trim()
	return e
}

// trim drops the least recently used cached certificates beyond MaxCached.
func (s *Store) trim() {
	n := 0
	for i := 0; i < len(s.certs); i++ {
		e := s.certs[i]
		if e.Explicit || e.Permanent {
			continue
		}
		if n++; n > MaxCached {
			s.certs = append(s.certs[:i], s.certs[i+1:]...)
			i--
		}
	}
}

// Add caches c (a certificate seen in a chain, or parsed from an image)
// and returns a copy of its entry.
func (s *Store) Add(c *x509.Certificate) Cert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.add(c)
}

// AddExplicit adds c and marks it Explicit (the certstore command).
func (s *Store) AddExplicit(c *x509.Certificate) Cert {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.add(c)
	e.Explicit = true
	return *e
}

// AddPermanent adds c as a built-in certificate.
func (s *Store) AddPermanent(c *x509.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.add(c)
	e.Permanent = true
}

// Remove deletes c from the store (certfree). A Permanent certificate
// stays, as in iPXE; Remove reports whether c is gone.
func (s *Store) Remove(c *x509.Certificate) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.find(c)
	if i < 0 {
		return true
	}
	if s.certs[i].Permanent {
		return false
	}
	s.certs = append(s.certs[:i], s.certs[i+1:]...)
	return true
}

// List returns copies of the entries, most recently used first.
func (s *Store) List() []Cert {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Cert, len(s.certs))
	for i, e := range s.certs {
		out[i] = *e
	}
	return out
}

// Certificates returns the stored certificates, for use as intermediates.
func (s *Store) Certificates() []*x509.Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*x509.Certificate, len(s.certs))
	for i, e := range s.certs {
		out[i] = e.X509
	}
	return out
}

// Intermediates returns a pool of the stored certificates plus extra
// (the chain a peer sent), for x509.VerifyOptions.Intermediates.
func (s *Store) Intermediates(extra ...*x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range extra {
		pool.AddCert(c)
	}
	if s != nil {
		for _, c := range s.Certificates() {
			pool.AddCert(c)
		}
	}
	return pool
}

// Seen caches the certificates of a chain; with validated, the chain
// was verified against the trust roots and each is marked Validated.
// The chain's certificates become the most recently used, the leaf
// first.
func (s *Store) Seen(chain []*x509.Certificate, validated bool) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(chain) - 1; i >= 0; i-- {
		e := s.add(chain[i])
		if validated {
			e.Validated = true
		}
	}
}

// SeenHeld marks the certificates of a verified chain Validated, and
// makes them the most recently used, leaving out those the store does
// not hold (a trust root that was not sent: roots are trusted, not held).
func (s *Store) SeenHeld(chain []*x509.Certificate) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(chain) - 1; i >= 0; i-- {
		if j := s.find(chain[i]); j >= 0 {
			s.add(chain[i]).Validated = true
		}
	}
}

// Fingerprint is the certificate's SHA-1 fingerprint in lower-case hex,
// as iPXE's certstat shows it.
func Fingerprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return hex.EncodeToString(sum[:])
}

// Name is iPXE's display name for a certificate: its commonName (at most
// 63 bytes), else its fingerprint.
func Name(c *x509.Certificate) string {
	n := c.Subject.CommonName
	if n == "" {
		return Fingerprint(c)
	}
	if len(n) > 63 {
		n = n[:63]
	}
	return n
}

// MatchName reports whether c is for name as iPXE's x509_check_name
// decides: the commonName or a subjectAltName DNS name equals name,
// ignoring case, a "*." wildcard standing for name's first label; or an
// IP address subjectAltName equals name.
func MatchName(c *x509.Certificate, name string) bool {
	for _, n := range append([]string{c.Subject.CommonName}, c.DNSNames...) {
		if dnsMatch(n, name) {
			return true
		}
	}
	if a, err := netip.ParseAddr(name); err == nil {
		for _, ip := range c.IPAddresses {
			if b, ok := netip.AddrFromSlice(ip); ok && b.Unmap() == a.Unmap() {
				return true
			}
		}
	}
	return false
}

func dnsMatch(pattern, name string) bool {
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		_, dom, ok := strings.Cut(name, ".")
		return ok && strings.EqualFold(dom, rest)
	}
	return pattern != "" && strings.EqualFold(pattern, name)
}

// ErrFormat is returned by Parse for data that is neither DER nor PEM.
var ErrFormat = errors.New("not a DER or PEM certificate")

// Parse reads the certificates of an image as iPXE's image_x509 does:
// DER (one certificate, or several one after another) or PEM (every
// CERTIFICATE block; text around the blocks is ignored). It returns the
// certificates parsed before an error, and the error.
func Parse(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	if len(data) > 0 && data[0] == 0x30 { // DER: an ASN.1 SEQUENCE
		for off := 0; off < len(data); {
			n, err := derLen(data[off:])
			if err != nil {
				return out, fmt.Errorf("DER certificate %d at offset %d: %w", len(out)+1, off, err)
			}
			c, err := x509.ParseCertificate(data[off : off+n])
			if err != nil {
				return out, fmt.Errorf("DER certificate %d: %w", len(out)+1, err)
			}
			out = append(out, c)
			off += n
		}
		return out, nil
	}
	if !bytes.Contains(data, []byte("-----BEGIN ")) {
		return nil, ErrFormat
	}
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return out, fmt.Errorf("PEM certificate %d: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return out, nil
}

// derLen returns the length of the DER object (header and contents) at
// the start of b.
func derLen(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, errors.New("truncated ASN.1 header")
	}
	hdr, l := 2, int(b[1])
	if l&0x80 != 0 {
		k := l & 0x7f
		if k == 0 || k > 4 || len(b) < 2+k {
			return 0, errors.New("bad ASN.1 length")
		}
		l = 0
		for _, x := range b[2 : 2+k] {
			l = l<<8 | int(x)
		}
		hdr += k
	}
	if hdr+l > len(b) {
		return 0, fmt.Errorf("ASN.1 object of %d bytes runs past the end (%d bytes)", hdr+l, len(b))
	}
	return hdr + l, nil
}
