package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snp-go/snp-go/lab"
	"github.com/snp-go/snp-go/lab/tcgprof"
)

// tlsWitness is an HTTPS server (on 127.0.0.1, the guest's 10.0.2.2) that
// records what the client offered and what was negotiated: Go's TLS client
// offers AES-GCM first exactly when crypto/tls saw AES and PMULL in
// internal/cpu at its package init, so the ClientHello tells from outside
// whether the guest's Go found the CPU features in time.
type tlsWitness struct {
	mu         sync.Mutex
	offered    []uint16 // cipher suites of the last ClientHello, in order
	negotiated uint16
}

// serve serves body at path; tweak, if not nil, adjusts the server's
// configuration.
func (w *tlsWitness) serve(t testing.TB, pki *testPKI, path string, body []byte, tweak func(*tls.Config)) int {
	t.Helper()
	cfg := &tls.Config{
		Certificates: []tls.Certificate{pki.cert},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			w.mu.Lock()
			w.offered = append([]uint16(nil), h.CipherSuites...)
			w.mu.Unlock()
			return nil, nil
		},
	}
	if tweak != nil {
		tweak(cfg)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(rw, r)
			return
		}
		w.mu.Lock()
		w.negotiated = r.TLS.CipherSuite
		w.mu.Unlock()
		rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
		rw.Write(body)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// first13 is the first TLS 1.3 suite the client offered.
func (w *tlsWitness) first13() uint16 {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.offered {
		if s>>8 == 0x13 {
			return s
		}
	}
	return 0
}

var cpuRE = regexp.MustCompile(`cpu: +([a-z0-9 ]+) \(ID_AA64ISAR0_EL1 (0x[0-9a-f]+)\)`)

// TestQEMUCPUFeatures: on QEMU's cortex-a57 (AES, PMULL, SHA1, SHA2, CRC32)
// the banner lists those features, and Go inside snp-go uses them: its TLS
// client offers AES-GCM first (crypto/tls read internal/cpu after the
// board/_goroot overlay filled it in) and the server, which has AES too,
// picks TLS_AES_128_GCM_SHA256; the fetched file's SHA-256 (computed in the
// guest with the SHA2 instructions) is right. Without the overlay the banner
// still lists the features, but the client offers ChaCha20-Poly1305 first.
func TestQEMUCPUFeatures(t *testing.T) {
	lab.SkipIfMissing(t)
	pki := newPKI(t, "snp-go cpu")
	efi := lab.NeedEFI(t, lab.EFIBuild{Trust: []string{writeFile(t, "ca.pem", pki.caPEM)}})
	payload := make([]byte, 4<<20)
	rand.Read(payload)
	sum := sha256.Sum256(payload)
	var w tlsWitness
	port := w.serve(t, pki, "/p", payload, nil)

	m := boot(t, efi, lab.Config{CPU: "cortex-a57"})
	if _, err := m.Run(fmt.Sprintf("setenv bootargs --selftest=net --fetch https://10.0.2.2:%d/p", port), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Bootefi("0:1", "snp-go.efi", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	c, err := m.Expect(cpuRE, 60*time.Second)
	if err != nil {
		t.Fatalf("no cpu line in the banner: %v", err)
	}
	t.Logf("banner: cpu: %s (ID_AA64ISAR0_EL1 %s)", c.Groups[1], c.Groups[2])
	if want := "aes pmull sha1 sha2 crc32"; c.Groups[1] != want {
		t.Errorf("cortex-a57: banner lists %q; want %q", c.Groups[1], want)
	}
	f, err := m.Expect(regexp.MustCompile(`fetch: (\d+) bytes sha256 ([0-9a-f]+) in (\S+) \((\S+) MB/s\)`), 120*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if f.Groups[2] != hex.EncodeToString(sum[:]) || f.Groups[1] != strconv.Itoa(len(payload)) {
		t.Fatalf("guest fetched %s bytes with sha256 %s; want %d bytes, %x", f.Groups[1], f.Groups[2], len(payload), sum)
	}
	w.mu.Lock()
	neg := w.negotiated
	w.mu.Unlock()
	t.Logf("HTTPS %s bytes in %s (%s MB/s); client offered %s first among TLS 1.3 suites; negotiated %s",
		f.Groups[1], f.Groups[3], f.Groups[4], tls.CipherSuiteName(w.first13()), tls.CipherSuiteName(neg))
	if s := w.first13(); s != tls.TLS_AES_128_GCM_SHA256 {
		t.Errorf("guest's TLS client offered %s first: crypto/tls saw no AES+PMULL in internal/cpu (is the board/_goroot overlay applied?)", tls.CipherSuiteName(s))
	}
	if neg != tls.TLS_AES_128_GCM_SHA256 {
		t.Errorf("negotiated %s; want TLS_AES_128_GCM_SHA256", tls.CipherSuiteName(neg))
	}
	if _, err := m.Expect("selftest net: PASS", 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkQEMUHTTPSCipher measures a 32 MiB HTTPS download on cortex-a57
// from two servers: one that follows the client's preference (Go's default:
// AES-128-GCM when the guest's Go found AES and PMULL, ChaCha20-Poly1305
// when not) and one that allows only AES-128-GCM (TLS 1.2), as servers that
// prefer their own order do. Under TCG wall time moves with the host's load
// and an AES or PMULL instruction costs a C helper call, so each run also
// counts the guest instructions of the download (lab/tcgprof): per byte in
// all, and the share of snp-go's crypto and hash code. Metrics: medians of
// three runs.
//
//	go test -run '^$' -bench QEMUHTTPSCipher -benchtime 1x ./cmd/snp-go
func BenchmarkQEMUHTTPSCipher(b *testing.B) {
	lab.SkipIfMissing(b)
	pki := newPKI(b, "bench")
	efi := lab.NeedEFI(b, lab.EFIBuild{Trust: []string{writeFile(b, "ca.pem", pki.caPEM)}})
	image, err := tcgprof.OpenGoImage(efi + ".build/snp-go-0x50010000.elf")
	if err != nil {
		b.Fatal(err)
	}
	so, err := tcgprof.Build(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 32<<20)
	rand.Read(payload)
	imageAt := regexp.MustCompile(`image:\s+\d+ KiB at (0x[0-9a-f]+),`)
	for _, sv := range []struct {
		name  string
		tweak func(*tls.Config)
	}{
		{"server=client-order", nil},
		{"server=aes128gcm", func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
		}},
	} {
		b.Run(sv.name, func(b *testing.B) {
			b.StopTimer()
			var w tlsWitness
			port := w.serve(b, pki, "/p", payload, sv.tweak)
			var rates, perByte, cryptoShare []float64
			for i := 0; i < max(b.N, 3); i++ {
				dir := b.TempDir()
				img := filepath.Join(dir, "disk.img")
				if err := lab.BuildDisk(img, lab.EFIDisk(efi, false)); err != nil {
					b.Fatal(err)
				}
				rec := tcgprof.NewRecorder(so, dir)
				m := lab.Start(b, lab.Config{CPU: "cortex-a57", Disks: []string{img}, Snapshot: true, ExtraArgs: rec.Args()})
				m.StopAutoboot(30 * time.Second)
				m.Run(fmt.Sprintf("setenv bootargs --selftest=net --fetch https://10.0.2.2:%d/p", port), 10*time.Second)
				m.Bootefi("0:1", "snp-go.efi", 20*time.Second)
				im, err := m.Expect(imageAt, time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				load, _ := strconv.ParseUint(im.Groups[1], 0, 64)
				if _, err := m.Expect("fetch: https://", time.Minute); err != nil {
					b.Fatal(err)
				}
				c0, err := rec.Snapshot(10 * time.Second)
				if err != nil {
					b.Fatal(err)
				}
				f, err := m.Expect(regexp.MustCompile(`fetch: \d+ bytes sha256 [0-9a-f]+ in (\S+) \((\S+) MB/s\)`), 10*time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				c1, err := rec.Snapshot(10 * time.Second)
				if err != nil {
					b.Fatal(err)
				}
				m.Close()
				run := c1.Sub(c0)
				funcs, _ := image.Funcs(run, load, 0x50000000)
				var cr uint64
				for name, n := range funcs {
					if strings.HasPrefix(name, "crypto/") || strings.HasPrefix(name, "vendor/golang.org/x/crypto/") || strings.HasPrefix(name, "hash/") {
						cr += n
					}
				}
				r, _ := strconv.ParseFloat(f.Groups[2], 64)
				rates = append(rates, r)
				perByte = append(perByte, float64(run.Total())/float64(len(payload)))
				cryptoShare = append(cryptoShare, 100*float64(cr)/float64(run.Total()))
				w.mu.Lock()
				neg := w.negotiated
				w.mu.Unlock()
				var top []string
				for _, fc := range tcgprof.Top(funcs, 5) {
					top = append(top, fmt.Sprintf("%s %.1f%%", fc.Name, 100*float64(fc.Count)/float64(run.Total())))
				}
				b.Logf("run %d: %s MB/s in %s, %s; %.1f guest instructions/byte, crypto+hash %.1f%%; top: %s",
					i+1, f.Groups[2], f.Groups[1], tls.CipherSuiteName(neg), perByte[i], cryptoShare[i], strings.Join(top, ", "))
			}
			median := func(v []float64) float64 { sort.Float64s(v); return v[len(v)/2] }
			b.ReportMetric(median(rates), "MB/s")
			b.ReportMetric(median(perByte), "insn/byte")
			b.ReportMetric(median(cryptoShare), "%crypto")
		})
	}
}

// BenchmarkQEMUCrypto reports what the guest's CPU does with the ciphers an
// HTTPS download costs (--selftest=crypto: AES-128-GCM opening 16 KiB
// records, SHA-256), in MB/s, medians of three boots. Under TCG each AES,
// PMULL or SHA-256 instruction is a C helper call: these rates bound
// BenchmarkQEMUHTTPS (which also hashes what it fetches) whatever the
// network path costs.
//
//	go test -run '^$' -bench 'QEMUCrypto$' -benchtime 3x ./cmd/snp-go
func BenchmarkQEMUCrypto(b *testing.B) {
	lab.SkipIfMissing(b)
	b.StopTimer()
	efi := lab.NeedEFI(b, lab.EFIBuild{})
	line := regexp.MustCompile(`crypto: AES-128-GCM open ([\d.]+) MB/s, SHA-256 ([\d.]+) MB/s`)
	var gcm, sha []float64
	for i := 0; i < max(b.N, 3); i++ {
		m := boot(b, efi, lab.Config{NoNet: true})
		if _, err := m.Run("setenv bootargs --selftest=crypto", 10*time.Second); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Bootefi("0:1", "snp-go.efi", 20*time.Second); err != nil {
			b.Fatal(err)
		}
		f, err := m.Expect(line, 120*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		g, _ := strconv.ParseFloat(f.Groups[1], 64)
		s, _ := strconv.ParseFloat(f.Groups[2], 64)
		gcm, sha = append(gcm, g), append(sha, s)
		if _, err := m.Expect("selftest crypto: PASS", 10*time.Second); err != nil {
			b.Fatal(err)
		}
		m.Close()
	}
	sort.Float64s(gcm)
	sort.Float64s(sha)
	b.ReportMetric(gcm[len(gcm)/2], "AES-GCM-MB/s")
	b.ReportMetric(sha[len(sha)/2], "SHA-256-MB/s")
	b.Logf("guest: AES-128-GCM open %.1f MB/s, SHA-256 %.1f MB/s (medians of %d); together at most %.1f MB/s for a download that is decrypted and hashed",
		gcm[len(gcm)/2], sha[len(sha)/2], len(gcm), 1/(1/gcm[len(gcm)/2]+1/sha[len(sha)/2]))
}
