package fetch

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	stdnet "net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestFetchRequest: Options.Request sends its method, form body and
// headers to a real HTTPS server (the ##params of a script).
func TestFetchRequest(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Length", "99") // HEAD: announced, never sent
		if r.Method == http.MethodHead {
			return
		}
		s := fmt.Sprintf("%s %s type=%q len=%d body=%q token=%q ua=%q", r.Method, r.URL.Path,
			r.Header.Get("Content-Type"), r.ContentLength, b, r.Header.Values("X-Token"), r.Header.Values("User-Agent"))
		w.Header().Set("Content-Length", fmt.Sprint(len(s)))
		io.WriteString(w, s)
	}))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	d := &stdnet.Dialer{}
	h, err := NewHTTP(HTTPConfig{Dial: d.DialContext, Trust: &Trust{Pool: pool, Source: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient()
	c.Register("https", h)
	for _, tc := range []struct {
		name string
		req  *Request
		want string
	}{
		{"plain GET", nil, `GET /boot type="" len=0 body="" token=[] ua=["snp-go"]`},
		{"form POST with a header",
			&Request{Method: "POST", ContentType: "application/x-www-form-urlencoded", Body: []byte("a=1&b=x%20y"),
				Header: [][2]string{{"X-Token", "t0k"}, {"X-Token", "two"}, {"User-Agent", "extra"}}},
			`POST /boot type="application/x-www-form-urlencoded" len=11 body="a=1&b=x%20y" token=["t0k" "two"] ua=["extra"]`},
		{"headers only", &Request{Header: [][2]string{{"X-Token", "t0k"}}}, `GET /boot type="" len=0 body="" token=["t0k"] ua=["snp-go"]`},
		{"PUT", &Request{Method: "PUT", ContentType: "application/x-www-form-urlencoded", Body: []byte("k=v")},
			`PUT /boot type="application/x-www-form-urlencoded" len=3 body="k=v" token=[] ua=["snp-go"]`},
		{"HEAD: an empty file", &Request{Method: "HEAD"}, ``},
	} {
		var buf bytes.Buffer
		n, err := c.Fetch(context.Background(), srv.URL+"/boot", &buf, Options{Request: tc.req})
		if err != nil || buf.String() != tc.want || n != int64(len(tc.want)) {
			t.Errorf("%s: Fetch = %d, %v, %q; want %q", tc.name, n, err, buf.String(), tc.want)
		}
	}
}
