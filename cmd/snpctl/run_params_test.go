package main

import (
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestRunParams: a script's "chain https://.../boot.php##params" sends
// the parameter list as an HTTP POST form and its header parameters as
// request headers, through snpctl run's real HTTPS fetcher; the server's
// answer is a script that echoes what the server saw.
func TestRunParams(t *testing.T) {
	type seen struct{ method, ctype, body, token string }
	got := make(chan seen, 4)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.Header.Get("Content-Type"), string(b), r.Header.Get("X-Auth-Token")}
		form, err := url.ParseQuery(string(b))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "#!ipxe\necho server saw %s user=%s note=%s\n", r.Method, form.Get("user"), form.Get("note"))
	}))
	defer srv.Close()
	dir := t.TempDir()
	ca := writeFile(t, dir, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	writeFile(t, dir, "form.ipxe", "#!ipxe\nset user alice\nparams --name login\n"+
		"param --params login user ${user}\nparam --params login note a&b c=d/é\n"+
		"param --params login --header X-Auth-Token s3cret\n"+
		"chain "+srv.URL+"/boot.php##params=login\n"+
		"chain "+srv.URL+"/boot.php##params=login\n")

	out, errOut, code := runSnpctl(t, dir, "--ca", ca, "form.ipxe")
	if code != 0 {
		t.Fatalf("snpctl run exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	want := seen{"POST", "application/x-www-form-urlencoded", "user=alice&note=a%26b%20c%3Dd%2F%C3%A9", "s3cret"}
	if s := <-got; s != want {
		t.Errorf("server saw %+v; want %+v", s, want)
	}
	// The first chain claimed the list: the second is a plain GET.
	if s := <-got; s != (seen{method: "GET"}) {
		t.Errorf("second request: server saw %+v; want a plain GET", s)
	}
	for _, w := range []string{
		srv.URL + "/boot.php... ok\n",
		"server saw POST user=alice note=a&b c=d/é\n",
		"server saw GET user= note=\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("stdout lacks %q:\n%s", w, out)
		}
	}
}
