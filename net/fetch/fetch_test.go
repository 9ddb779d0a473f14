package fetch

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	stdnet "net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snp-go/snp-go/net/nettest"
)

// testPKI is a CA and a server certificate for boot.example.test and
// 10.0.0.2, valid for one day from now.
type testPKI struct {
	caPEM  []byte
	server tls.Certificate
}

func newPKI(t testing.TB) testPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "snp-go test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "boot.example.test"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: []string{"boot.example.test"}, IPAddresses: []stdnet.IP{stdnet.ParseIP("10.0.0.2")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return testPKI{
		caPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		server: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
	}
}

func body(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

type env struct {
	pki     testPKI
	http    string // base URL http://10.0.0.2:80
	https   string // base URL https://10.0.0.2:443
	dial    func(ctx context.Context, network, addr string) (stdnet.Conn, error)
	mu      sync.Mutex
	sni     []string
	release chan struct{}
}

// newEnv starts an HTTP and an HTTPS (httptest) server on the peer stack.
// maxTLS caps the server's TLS version (0: 1.3).
func newEnv(t *testing.T, maxTLS uint16) *env {
	a, b := nettest.Pair(t, nettest.HostOptions{}, nettest.HostOptions{})
	e := &env{pki: newPKI(t), release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/file/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.Write(body(n))
	})
	mux.HandleFunc("/chunked/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		b := body(n)
		for len(b) > 0 {
			k := min(len(b), 1000)
			w.Write(b[:k])
			w.(http.Flusher).Flush()
			b = b[k:]
		}
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		w.Write(body(1000))
		w.(http.Flusher).Flush()
		select {
		case <-e.release:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/to-http", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, e.http+"/file/10", http.StatusFound)
	})
	for _, tlsOn := range []bool{false, true} {
		port := uint16(80)
		if tlsOn {
			port = 443
		}
		ln, err := b.Stack.ListenTCP(netip.AddrPortFrom(b.Addr, port))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(mux)
		srv.Listener = ln
		if tlsOn {
			srv.TLS = &tls.Config{
				Certificates: []tls.Certificate{e.pki.server},
				MaxVersion:   maxTLS,
				GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
					e.mu.Lock()
					e.sni = append(e.sni, h.ServerName)
					e.mu.Unlock()
					return nil, nil
				},
			}
			srv.StartTLS()
			e.https = "https://10.0.0.2:443"
		} else {
			srv.Start()
			e.http = "http://10.0.0.2:80"
		}
		t.Cleanup(srv.Close)
	}
	t.Cleanup(func() { close(e.release) }) // runs first (LIFO): frees /hang handlers
	// A fixed hosts table instead of DNS (net/dns has its own tests).
	hosts := map[string]string{"boot.example.test": "10.0.0.2", "other.example.test": "10.0.0.2"}
	e.dial = func(ctx context.Context, network, addr string) (stdnet.Conn, error) {
		h, p, _ := stdnet.SplitHostPort(addr)
		if ip, ok := hosts[h]; ok {
			h = ip
		}
		return a.Stack.DialContext(ctx, network, stdnet.JoinHostPort(h, p))
	}
	return e
}

func (e *env) client(t *testing.T, trustPEM []byte, clock Clock) *Client {
	t.Helper()
	tr, err := TrustFromPEM(trustPEM)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHTTP(HTTPConfig{Dial: e.dial, Trust: tr, Clock: clock, Stall: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient()
	c.Register("http", h)
	c.Register("https", h)
	return c
}

func TestFetchOK(t *testing.T) {
	for _, v := range []struct {
		name string
		max  uint16
	}{{"TLS1.3", 0}, {"TLS1.2", tls.VersionTLS12}} {
		t.Run(v.name, func(t *testing.T) {
			e := newEnv(t, v.max)
			c := e.client(t, e.pki.caPEM, Clock{})
			for _, url := range []string{
				e.http + "/file/200000",
				e.https + "/file/200000",                    // IP SAN
				"https://boot.example.test:443/file/200000", // DNS SAN + SNI
				e.https + "/chunked/200000",
			} {
				var buf bytes.Buffer
				var reports []Progress
				n, err := c.Fetch(context.Background(), url, &buf, Options{
					Progress: func(p Progress) { reports = append(reports, p) }, ProgressInterval: time.Nanosecond,
				})
				if err != nil || n != 200000 || !bytes.Equal(buf.Bytes(), body(200000)) {
					t.Fatalf("Fetch(%s) = %d, %v; want 200000 bytes intact", url, n, err)
				}
				last := reports[len(reports)-1]
				if !last.Done || last.Bytes != 200000 || last.Rate <= 0 || len(reports) < 2 {
					t.Errorf("Fetch(%s) progress: %d reports, last %+v; want several, last Done with 200000 bytes", url, len(reports), last)
				}
			}
			e.mu.Lock()
			defer e.mu.Unlock()
			// Go sends no SNI for IP literals (RFC 6066 section 3).
			if want := []string{"", "boot.example.test", ""}; strings.Join(e.sni, ",") != strings.Join(want, ",") {
				t.Errorf("server saw SNI %q; want %q", e.sni, want)
			}
		})
	}
}

func TestFetchRefused(t *testing.T) {
	e := newEnv(t, 0)
	other := newPKI(t)
	for _, tc := range []struct {
		name  string
		trust []byte
		clock Clock
		url   string
		want  []string
	}{
		{"wrong CA", other.caPEM, Clock{}, e.https + "/file/10",
			[]string{e.https + "/file/10", "TLS certificate refused", "trusted CA", "embedded TRUST bundle"}},
		{"wrong host", e.pki.caPEM, Clock{}, "https://other.example.test:443/file/10",
			[]string{"https://other.example.test:443/file/10", "not valid for host \"other.example.test\""}},
		{"clock before validity", e.pki.caPEM, Clock{Now: func() time.Time { return time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC) }, Source: "build time"},
			e.https + "/file/10", []string{"not valid at 2001-01-01T00:00:00Z according to the build time"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.client(t, tc.trust, tc.clock)
			var buf bytes.Buffer
			_, err := c.Fetch(context.Background(), tc.url, &buf, Options{})
			if err == nil {
				t.Fatalf("Fetch(%s) succeeded; want refusal", tc.url)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Fetch(%s) error %q lacks %q", tc.url, err, w)
				}
			}
			t.Logf("%v", err)
			if buf.Len() != 0 {
				t.Errorf("refused fetch wrote %d bytes", buf.Len())
			}
		})
	}
}

func TestFetchLimitsAndErrors(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client(t, e.pki.caPEM, Clock{})
	ctx := context.Background()
	for _, tc := range []struct {
		url   string
		limit int64
		is    error
		want  string
	}{
		{e.https + "/file/5000", 4096, ErrTooLarge, "5000 bytes announced"},
		{e.https + "/chunked/5000", 4096, ErrTooLarge, "limit"},
		{e.http + "/nope", 0, nil, "server answered 404 Not Found"},
		{e.https + "/to-http", 0, nil, "refusing redirect from https"},
		{"tftp://10.0.0.2/x", 0, nil, "unsupported URI scheme \"tftp\""},
		{"https://user:secret@10.0.0.2:1/x", 0, nil, "https://user:xxxxx@10.0.0.2:1/x"},
	} {
		_, err := c.Fetch(ctx, tc.url, io.Discard, Options{Limit: tc.limit})
		if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Fetch(%s, limit %d) = %v; want error containing %q", tc.url, tc.limit, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}

func TestFetchCancelAndStall(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client(t, e.pki.caPEM, Clock{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	n, err := c.Fetch(ctx, e.https+"/hang", io.Discard, Options{})
	if !errors.Is(err, context.Canceled) || n != 1000 || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("cancelled Fetch = %d, %v; want 1000 bytes, interrupted", n, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("cancel took %v", d)
	}
	// Stall (2 s in e.client): the server sends 1000 bytes then nothing.
	start = time.Now()
	_, err = c.Fetch(context.Background(), e.http+"/hang", io.Discard, Options{})
	if err == nil || !strings.Contains(err.Error(), "no data for 2s") {
		t.Errorf("stalled Fetch = %v; want 'no data for 2s'", err)
	}
	if d := time.Since(start); d < 2*time.Second || d > 4*time.Second {
		t.Errorf("stall detected after %v; want ~2 s", d)
	}
}

func TestTrustFromPEM(t *testing.T) {
	p := newPKI(t)
	if tr, err := TrustFromPEM(p.caPEM, newPKI(t).caPEM); err != nil || !strings.Contains(tr.Source, "2 certificate") {
		t.Errorf("TrustFromPEM(two CAs) = %+v, %v", tr, err)
	}
	for _, bad := range [][]byte{nil, []byte("not pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2}})} {
		if _, err := TrustFromPEM(bad); err == nil {
			t.Errorf("TrustFromPEM(%q) = nil error; want refusal", bad)
		}
	}
	if pr := PublicRoots(); !strings.Contains(pr.Source, "public roots") || len(pr.Pool.Subjects()) < 50 { //nolint:staticcheck
		t.Errorf("PublicRoots() = %q with %d subjects; want the NSS bundle", pr.Source, len(pr.Pool.Subjects()))
	}
}
