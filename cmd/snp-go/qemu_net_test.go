package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/snp-go/snp-go/lab"
	"github.com/snp-go/snp-go/lab/firmware"
)

// testPKI is a CA and a server certificate for the guest's view of the
// host, 10.0.2.2 (slirp), and for 127.0.0.1.
type testPKI struct {
	caPEM  []byte
	cert   tls.Certificate
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

func newPKI(t testing.TB, name string) *testPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name + " test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "10.0.2.2"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("10.0.2.2"), net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{
		caPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		cert:   tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		caCert: caCert,
		caKey:  caKey,
	}
}

// serveHTTPS serves files on 127.0.0.1 with TLS; the guest reaches it as
// 10.0.2.2:port.
func serveHTTPS(t testing.TB, pki *testPKI, files map[string][]byte) int {
	t.Helper()
	return serveHTTPSHandler(t, pki, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	}))
}

// serveHTTPSHandler serves h over HTTPS on a loopback port (returned) with
// pki's server certificate until the test ends.
func serveHTTPSHandler(t testing.TB, pki *testPKI, h http.Handler) int {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pki.cert}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func writeFile(t testing.TB, name string, b []byte) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestQEMUNetwork: in the lab snp-go gets 10.0.2.15 by DHCP through the
// firmware's SNP, pings 10.0.2.2, and fetches a file over HTTPS from a
// server on the host whose certificate chains to the CA given with TRUST;
// on each firmware build of the matrix (on EDK2 started from the UEFI
// Shell, which has connected no NIC: snp-go connects it).
func TestQEMUNetwork(t *testing.T) {
	lab.SkipIfMissing(t)
	pki := newPKI(t, "snp-go")
	efi := lab.NeedEFI(t, lab.EFIBuild{Trust: []string{writeFile(t, "ca.pem", pki.caPEM)}})
	payload := make([]byte, 4<<20)
	rand.Read(payload)
	sum := sha256.Sum256(payload)
	port := serveHTTPS(t, pki, map[string][]byte{"/payload.bin": payload})

	url := fmt.Sprintf("https://10.0.2.2:%d/payload.bin", port)
	for _, fw := range firmware.All(t) {
		t.Run(fw.Name, func(t *testing.T) {
			m, _ := lab.StartEFI(t, lab.Config{Firmware: fw}, efi, "--selftest=net --ping 10.0.2.2 --fetch "+url)
			d, err := m.Expect(regexp.MustCompile(`dhcp: net0 got 10\.0\.2\.15/24 gateway 10\.0\.2\.2 dns \[10\.0\.2\.3\] from \S+ in (\S+)`), 60*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Expect(regexp.MustCompile(`ping: 10\.0\.2\.2: [1-3]/3 replies`), 30*time.Second); err != nil {
				t.Fatal(err)
			}
			f, err := m.Expect(regexp.MustCompile(`fetch: (\d+) bytes sha256 ([0-9a-f]+) in (\S+) \((\S+) MB/s\)`), 120*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if f.Groups[2] != hex.EncodeToString(sum[:]) || f.Groups[1] != strconv.Itoa(len(payload)) {
				t.Fatalf("guest fetched %s bytes with sha256 %s; want %d bytes, %x", f.Groups[1], f.Groups[2], len(payload), sum)
			}
			t.Logf("%s: DHCP %s; HTTPS %s bytes in %s (%s MB/s)", fw.Name, d.Groups[1], f.Groups[1], f.Groups[3], f.Groups[4])
			if _, err := m.Expect("selftest net: PASS", 10*time.Second); err != nil {
				t.Fatal(err)
			}
			// snp-go returned the NIC and the firmware is in charge again.
			if err := m.WaitFirmware(fw, true, 30*time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestQEMUNetworkWrongCA: a server certificate from another CA is refused
// with a message that names the URL and the reason.
func TestQEMUNetworkWrongCA(t *testing.T) {
	lab.SkipIfMissing(t)
	ours, theirs := newPKI(t, "snp-go"), newPKI(t, "mallory")
	efi := lab.NeedEFI(t, lab.EFIBuild{Trust: []string{writeFile(t, "ca.pem", ours.caPEM)}})
	port := serveHTTPS(t, theirs, map[string][]byte{"/x": []byte("secret")})
	m := boot(t, efi, lab.Config{})
	url := fmt.Sprintf("https://10.0.2.2:%d/x", port)
	if _, err := m.Run("setenv bootargs --selftest=net --fetch "+url, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Bootefi("0:1", "snp-go.efi", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	e, err := m.Expect(regexp.MustCompile(`selftest net: FAIL: `+regexp.QuoteMeta(url)+`: ([^\r\n]*)\r*\n`), 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?i)certificate|unknown authority|not trusted`).MatchString(e.Groups[1]) {
		t.Errorf("refusal does not say why: %q", e.Groups[1])
	}
	t.Logf("refused: %s", e.Groups[1])
}

// BenchmarkQEMUHTTPS measures HTTPS download throughput of a 32 MiB file in
// the lab (go test -run=^$ -bench=QEMUHTTPS ./cmd/snp-go).
func BenchmarkQEMUHTTPS(b *testing.B) {
	lab.SkipIfMissing(b)
	b.StopTimer()
	pki := newPKI(b, "bench")
	efi := lab.NeedEFI(b, lab.EFIBuild{Trust: []string{writeFile(b, "ca.pem", pki.caPEM)}})
	payload := make([]byte, 32<<20)
	rand.Read(payload)
	port := serveHTTPS(b, pki, map[string][]byte{"/p": payload})
	var rates []float64
	for i := 0; i < max(b.N, 3); i++ {
		img := filepath.Join(b.TempDir(), "disk.img")
		if err := lab.BuildDisk(img, lab.EFIDisk(efi, false)); err != nil {
			b.Fatal(err)
		}
		m := lab.Start(b, lab.Config{Disks: []string{img}, Snapshot: true})
		m.StopAutoboot(30 * time.Second)
		m.Run(fmt.Sprintf("setenv bootargs --selftest=net --fetch https://10.0.2.2:%d/p", port), 10*time.Second)
		m.Bootefi("0:1", "snp-go.efi", 20*time.Second)
		f, err := m.Expect(regexp.MustCompile(`fetch: \d+ bytes sha256 [0-9a-f]+ in \S+ \((\S+) MB/s\)`), 300*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		r, _ := strconv.ParseFloat(f.Groups[1], 64)
		rates = append(rates, r)
		m.Close()
	}
	sort.Float64s(rates)
	b.ReportMetric(rates[len(rates)/2], "MB/s")
}
