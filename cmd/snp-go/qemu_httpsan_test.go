package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-go/snp-go/lab"
	"github.com/snp-go/snp-go/lab/bootdisk"
	"github.com/snp-go/snp-go/san"
)

// serveDiskHTTPS serves the file at path as /disk.img over HTTPS with
// range support (net/http's ServeContent: Accept-Ranges, 206 and
// Content-Range) and counts the range requests and the connections.
func serveDiskHTTPS(t *testing.T, pki *testPKI, path string, ranges, conns *atomic.Int64) int {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pki.cert}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/disk.img" {
			http.NotFound(w, r)
			return
		}
		f, err := os.Open(path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		if r.Header.Get("Range") != "" {
			ranges.Add(1)
		}
		http.ServeContent(w, r, "disk.img", time.Time{}, f)
	}), ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew && conns != nil {
			conns.Add(1)
		}
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// TestQEMUHTTPSANBoot: `sanboot https://10.0.2.2:PORT/disk.img` serves the
// lab's Grub boot disk as EFI Block IO over HTTP range requests (through
// the read cache, as iSCSI); Grub and Linux boot from it to the marker.
func TestQEMUHTTPSANBoot(t *testing.T) {
	lab.SkipIfMissing(t)
	img := bootdisk.Need(t, bootdisk.Options{})
	pki := newPKI(t, "snp-go")
	var ranges, conns atomic.Int64
	port := serveDiskHTTPS(t, pki, img.Path, &ranges, &conns)
	url := fmt.Sprintf("https://10.0.2.2:%d/disk.img", port)
	embed := writeFile(t, "embed.ipxe", []byte(fmt.Sprintf("#!ipxe\ndhcp\nsanboot %s || goto failed\nexit\n:failed\necho SANBOOT-FAILED errno=${errno}\n", url)))
	efi := lab.NeedEFI(t, lab.EFIBuild{Embed: embed, Trust: []string{writeFile(t, "ca.pem", pki.caPEM)}})
	m, started := lab.StartEFI(t, lab.Config{Firmware: lab.UBoot}, efi, "")
	if _, err := m.Expect(regexp.MustCompile(`SAN device 0x80: `+regexp.QuoteMeta(url)+`: \d+ x 512 bytes \(read-only\)`), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Expect("Booting from SAN device 0x80: ", 90*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := img.ExpectGrub(m.Console, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	l, err := img.ExpectLinux(m.Console, 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if ranges.Load() == 0 {
		t.Errorf("the server saw no range requests")
	}
	// Kept-alive connections, at most san.HTTPMaxConns of them besides
	// OpenHTTP's probe: a burst on many new connections overflows U-Boot's
	// receive ring (its receive path then dies and Grub's reads hang).
	if c := conns.Load(); c > san.HTTPMaxConns+1 {
		t.Errorf("%d range requests used %d connections; want at most %d", ranges.Load(), c, san.HTTPMaxConns+1)
	}
	t.Logf("firmware starts snp-go to Linux marker over HTTPS SAN: %v (kernel %s; %d range requests on %d connections)", l.Marker.At.Sub(started.At), l.Release, ranges.Load(), conns.Load())
}

// TestQEMUHTTPSANNoRanges: a server that answers a Range request with the
// whole file (200) is refused with a message naming the URL, and the
// script's || path runs.
func TestQEMUHTTPSANNoRanges(t *testing.T) {
	lab.SkipIfMissing(t)
	pki := newPKI(t, "snp-go")
	port := serveHTTPS(t, pki, map[string][]byte{"/plain.img": make([]byte, 1<<20)})
	url := fmt.Sprintf("https://10.0.2.2:%d/plain.img", port)
	embed := writeFile(t, "embed.ipxe", []byte(fmt.Sprintf("#!ipxe\ndhcp\nsanboot %s || goto failed\nexit\n:failed\necho SANBOOT-FAILED errno=${errno}\n", url)))
	efi := lab.NeedEFI(t, lab.EFIBuild{Embed: embed, Trust: []string{writeFile(t, "ca.pem", pki.caPEM)}})
	m, _ := lab.StartEFI(t, lab.Config{Firmware: lab.UBoot}, efi, "")
	e, err := m.Expect(regexp.MustCompile(`Could not open SAN device[^\r\n]*\]`), 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if want := url + ": the server ignores range requests"; !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(e.Text) {
		t.Errorf("refusal %q; want it to contain %q", e.Text, want)
	}
	if _, err := m.Expect("SANBOOT-FAILED errno=0x", 30*time.Second); err != nil {
		t.Fatal(err)
	}
}
