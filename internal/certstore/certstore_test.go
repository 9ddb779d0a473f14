package certstore

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/snp-go/snp-go/internal/testpki"
)

func TestParse(t *testing.T) {
	a := testpki.New(t, testpki.CA("a"), nil, nil)
	b := testpki.New(t, testpki.CA("b"), a, nil)
	for _, tc := range []struct {
		name string
		data []byte
		want []string // common names
		err  string
	}{
		{"DER", a.Cert.Raw, []string{"a"}, ""},
		{"two DER", append(append([]byte{}, a.Cert.Raw...), b.Cert.Raw...), []string{"a", "b"}, ""},
		{"PEM with text and a key", append(append([]byte("subject=a\n"), a.CertPEM()...), append(b.KeyPEM(t), b.CertPEM()...)...), []string{"a", "b"}, ""},
		{"truncated DER", a.Cert.Raw[:40], nil, "runs past the end"},
		{"PEM without certificates", b.KeyPEM(t), nil, "no PEM CERTIFICATE block"},
		{"text", []byte("#!ipxe\necho hi\n"), nil, ErrFormat.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certs, err := Parse(tc.data)
			var names []string
			for _, c := range certs {
				names = append(names, c.Subject.CommonName)
			}
			if strings.Join(names, ",") != strings.Join(tc.want, ",") || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse = %q, %v; want %q, error containing %q", names, err, tc.want, tc.err)
			}
		})
	}
	if _, err := Parse([]byte("plain")); !errors.Is(err, ErrFormat) {
		t.Errorf("Parse(text) error %v; want ErrFormat", err)
	}
}

func TestMatchNameAndName(t *testing.T) {
	c := testpki.New(t, &x509.Certificate{Subject: pkix.Name{CommonName: "*.example.test"}, DNSNames: []string{"boot.other.test"},
		IPAddresses: []net.IP{net.ParseIP("10.0.0.2")}}, nil, nil)
	for name, want := range map[string]bool{
		"a.example.test": true, "A.EXAMPLE.test": true, "example.test": false, "a.b.example.test": false,
		"boot.other.test": true, "other.test": false, "10.0.0.2": true, "10.0.0.3": false, "*.example.test": true,
	} {
		if got := MatchName(c.Cert, name); got != want {
			t.Errorf("MatchName(%q) = %v; want %v", name, got, want)
		}
	}
	noCN := testpki.New(t, &x509.Certificate{DNSNames: []string{"x.test"}}, nil, nil)
	if got := Name(noCN.Cert); got != Fingerprint(noCN.Cert) || len(got) != 40 {
		t.Errorf("Name(no commonName) = %q; want the SHA-1 fingerprint %q", got, Fingerprint(noCN.Cert))
	}
	long := testpki.New(t, testpki.CA(strings.Repeat("n", 70)), nil, nil)
	if got := Name(long.Cert); got != strings.Repeat("n", 63) {
		t.Errorf("Name(70-byte commonName) = %q; want 63 bytes", got)
	}
}

func TestStore(t *testing.T) {
	var s Store
	perm := testpki.New(t, testpki.CA("perm"), nil, nil).Cert
	expl := testpki.New(t, testpki.CA("explicit"), nil, nil).Cert
	s.AddPermanent(perm)
	s.AddExplicit(expl)
	var cached []*x509.Certificate
	for i := 0; i < MaxCached+3; i++ {
		c := testpki.New(t, testpki.CA("cached"), nil, nil).Cert
		cached = append(cached, c)
		s.Seen([]*x509.Certificate{c}, i%2 == 0)
	}
	l := s.List()
	if len(l) != MaxCached+2 {
		t.Fatalf("store holds %d certificates; want %d (MaxCached cached + permanent + explicit)", len(l), MaxCached+2)
	}
	if !l[0].X509.Equal(cached[len(cached)-1]) || !l[0].Validated {
		t.Errorf("first entry %q validated %v; want the last seen, validated", l[0].X509.Subject.CommonName, l[0].Validated)
	}
	for _, e := range l {
		if e.X509.Equal(cached[0]) {
			t.Errorf("least recently used cached certificate survived")
		}
	}
	// Seeing a stored certificate again moves it first, keeping its flags.
	s.Seen([]*x509.Certificate{perm}, false)
	if e := s.List()[0]; !e.X509.Equal(perm) || !e.Permanent {
		t.Errorf("after Seen(perm) first entry %+v; want perm, still permanent", e)
	}
	if s.Remove(perm) {
		t.Errorf("Remove(permanent) = true; want false")
	}
	if !s.Remove(expl) || len(s.List()) != MaxCached+1 {
		t.Errorf("Remove(explicit) left %d certificates; want %d", len(s.List()), MaxCached+1)
	}
}
