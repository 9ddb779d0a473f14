package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/snp-go/snp-go/lab"
)

// TestQEMUParamsPost: snp-go.efi sends a ##params URI as an HTTP POST over
// HTTPS, form parameters in the body and --header parameters as request
// headers (iPXE's params/param), and chains the script the server answers.
func TestQEMUParamsPost(t *testing.T) {
	lab.SkipIfMissing(t)
	pki := newPKI(t, "snp-go")
	got := make(chan string, 1)
	port := serveHTTPSHandler(t, pki, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		seen := fmt.Sprintf("%s %s ct=%q host=%q mac=%q note=%q x-snp=%q",
			r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.PostForm.Get("host"), r.PostForm.Get("mac"),
			r.PostForm.Get("note"), r.Header.Get("X-Snp"))
		select {
		case got <- seen:
		default:
		}
		fmt.Fprintf(w, "#!ipxe\necho posted-%s\n", r.PostForm.Get("host"))
	}))

	embed := writeFile(t, "embed.ipxe", []byte(fmt.Sprintf("#!ipxe\ndhcp\nparams\nparam host pxe1\nparam mac ${net0/mac}\n"+
		"param note a&b c\nparam --header X-Snp yes\nchain https://10.0.2.2:%d/register##params\n", port)))
	efi := lab.NeedEFI(t, lab.EFIBuild{Embed: embed, Trust: []string{writeFile(t, "ca.pem", pki.caPEM)}})
	m, _ := lab.StartEFI(t, lab.Config{Firmware: lab.UBoot}, efi, "")
	if _, err := m.Expect("posted-pxe1", 120*time.Second); err != nil {
		t.Fatal(err)
	}
	want := `POST /register ct="application/x-www-form-urlencoded" host="pxe1" mac="52:52:52:52:52:52" note="a&b c" x-snp="yes"`
	if s := <-got; s != want {
		t.Errorf("server saw %s\nwant        %s", s, want)
	}
}
