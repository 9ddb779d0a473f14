package fetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	stdnet "net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/snp-go/snp-go/internal/certstore"
	"github.com/snp-go/snp-go/internal/testpki"
	"github.com/snp-go/snp-go/net/nettest"
)

// chainServer serves /ok over HTTPS on 10.0.0.2:443 with a leaf for
// 10.0.0.2 and boot.example.test issued by an intermediate CA under root;
// the server sends the leaf alone, as a misconfigured server does.
func chainServer(t *testing.T) (root, inter, leaf *testpki.Cert, dial func(ctx context.Context, network, addr string) (stdnet.Conn, error)) {
	a, b := nettest.Pair(t, nettest.HostOptions{}, nettest.HostOptions{})
	root = testpki.New(t, testpki.CA("snp-go chain root"), nil, nil)
	inter = testpki.New(t, testpki.CA("snp-go chain intermediate"), root, nil)
	leaf = testpki.New(t, &x509.Certificate{Subject: pkix.Name{CommonName: "boot.example.test"},
		DNSNames: []string{"boot.example.test"}, IPAddresses: []stdnet.IP{stdnet.ParseIP("10.0.0.2")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, inter, nil)
	ln, err := b.Stack.ListenTCP(netip.AddrPortFrom(b.Addr, 443))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	srv.Listener = ln
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	dial = func(ctx context.Context, network, addr string) (stdnet.Conn, error) {
		h, p, _ := stdnet.SplitHostPort(addr)
		if h == "boot.example.test" || h == "other.example.test" {
			h = "10.0.0.2"
		}
		return a.Stack.DialContext(ctx, network, stdnet.JoinHostPort(h, p))
	}
	return root, inter, leaf, dial
}

// TestFetchCertStore: the store's certificates complete a chain the
// server left incomplete, but never make a certificate trusted.
func TestFetchCertStore(t *testing.T) {
	root, inter, leaf, dial := chainServer(t)
	other := testpki.New(t, testpki.CA("unrelated root"), nil, nil)
	for _, tc := range []struct {
		name  string
		trust *testpki.Cert
		store []*x509.Certificate // nil: no store
		url   string
		want  string // error text; "" for success
	}{
		{"no store", root, nil, "https://10.0.0.2:443/ok", "does not lead to a trusted CA"},
		{"empty store", root, []*x509.Certificate{}, "https://10.0.0.2:443/ok", "does not lead to a trusted CA"},
		{"intermediate stored", root, []*x509.Certificate{inter.Cert}, "https://10.0.0.2:443/ok", ""},
		{"intermediate stored, DNS name", root, []*x509.Certificate{inter.Cert}, "https://boot.example.test:443/ok", ""},
		{"intermediate stored, wrong host", root, []*x509.Certificate{inter.Cert}, "https://other.example.test:443/ok", `not valid for host "other.example.test"`},
		{"root stored but not trusted", other, []*x509.Certificate{inter.Cert, root.Cert}, "https://10.0.0.2:443/ok", "does not lead to a trusted CA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := TrustFromPEM(tc.trust.CertPEM())
			if err != nil {
				t.Fatal(err)
			}
			cfg := HTTPConfig{Dial: dial, Trust: tr, Stall: 5 * time.Second}
			var st *certstore.Store
			if tc.store != nil {
				st = &certstore.Store{}
				for _, c := range tc.store {
					st.AddExplicit(c)
				}
				cfg.Store = st
			}
			h, err := NewHTTP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			c := NewClient()
			c.Register("https", h)
			var buf bytes.Buffer
			_, err = c.Fetch(context.Background(), tc.url, &buf, Options{})
			switch {
			case tc.want == "" && (err != nil || buf.String() != "ok"):
				t.Fatalf("Fetch(%s) = %q, %v; want ok", tc.url, buf.String(), err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Fetch(%s) error %v; want one containing %q", tc.url, err, tc.want)
			}
			if st == nil {
				return
			}
			// The leaf the server sent is cached, validated only if the chain was.
			var got *certstore.Cert
			for _, e := range st.List() {
				if e.X509.Equal(leaf.Cert) {
					got = &e
				}
			}
			if got == nil || got.Explicit || got.Validated != (tc.want == "") {
				t.Errorf("store entry for the leaf %+v; want cached, not explicit, validated %v", got, tc.want == "")
			}
			for _, e := range st.List() {
				if e.X509.Equal(root.Cert) && !tc.trust.Cert.Equal(other.Cert) {
					t.Errorf("trusted root %q joined the store; only sent or stored certificates should", e.X509.Subject.CommonName)
				}
			}
		})
	}
}
