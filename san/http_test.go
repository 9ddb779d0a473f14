package san

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-go/snp-go/blockio"
)

func image(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(1)).Read(b)
	return b
}

// rangeServer serves img with net/http's range support (ServeContent);
// before answers each request (a non-nil return handles it instead).
func rangeServer(t *testing.T, img []byte, before func(w http.ResponseWriter, r *http.Request) bool) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if before != nil && before(w, r) {
			return
		}
		http.ServeContent(w, r, "disk.img", time.Time{}, bytes.NewReader(img))
	}))
	t.Cleanup(s.Close)
	return s
}

func TestHTTPDiskReads(t *testing.T) {
	img := image(1<<20 + 100) // a trailing partial block is not addressable
	s := rangeServer(t, img, nil)
	d, err := OpenHTTP(context.Background(), s.URL+"/disk.img", s.Client())
	if err != nil {
		t.Fatal(err)
	}
	if d.NumBlocks() != 2048 || d.Size() != int64(len(img)) || !d.ReadOnly() {
		t.Fatalf("OpenHTTP = %d blocks, size %d, read-only %v; want 2048, %d, true", d.NumBlocks(), d.Size(), d.ReadOnly(), len(img))
	}
	for _, tc := range []struct{ lba, n uint64 }{{0, 1}, {1, 7}, {2047, 1}, {100, 300}, {0, 2048}} {
		buf := make([]byte, tc.n*512)
		if err := d.ReadBlocks(tc.lba, buf); err != nil {
			t.Fatalf("ReadBlocks(%d, %d blocks) = %v", tc.lba, tc.n, err)
		}
		if want := img[tc.lba*512 : (tc.lba+tc.n)*512]; !bytes.Equal(buf, want) {
			t.Errorf("ReadBlocks(%d, %d blocks) returned other bytes than the image", tc.lba, tc.n)
		}
	}
	if err := d.ReadBlocks(2048, make([]byte, 512)); err == nil {
		t.Errorf("ReadBlocks(2048) past the end = nil; want an error")
	}
	if err := d.WriteBlocks(0, make([]byte, 512)); err == nil {
		t.Errorf("WriteBlocks = nil; want read-only error")
	}
	d.Close()
	if err := d.ReadBlocks(0, make([]byte, 512)); !errors.Is(err, blockio.ErrNoMedia) {
		t.Errorf("ReadBlocks after Close = %v; want ErrNoMedia", err)
	}
}

func TestHTTPDiskRefusesServerWithoutRanges(t *testing.T) {
	img := image(4096)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(img) }))
	defer s.Close()
	url := s.URL + "/plain.img"
	_, err := OpenHTTP(context.Background(), url, s.Client())
	if !errors.Is(err, ErrNoRanges) || !strings.Contains(err.Error(), url) {
		t.Fatalf("OpenHTTP(server without ranges) = %v; want ErrNoRanges naming %s", err, url)
	}
	// Open does not retry it.
	var n atomic.Int32
	s.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1); w.Write(img) })
	if _, err := Open(context.Background(), []string{url}, Config{HTTP: s.Client(), Retries: 3}, nopInstaller{}); !errors.Is(err, ErrNoRanges) || n.Load() != 1 {
		t.Errorf("Open(server without ranges, 3 retries) = %v after %d requests; want ErrNoRanges after 1", err, n.Load())
	}
}

func TestHTTPDiskOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"not found", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, "404"},
		{"no size", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Range", "bytes 0-0/*")
			w.WriteHeader(http.StatusPartialContent)
			w.Write([]byte{0})
		}, "does not say the image size"},
		{"bad content-range", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Range", "bytes 0-0")
			w.WriteHeader(http.StatusPartialContent)
		}, "malformed Content-Range"},
		{"tiny", func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "x", time.Time{}, bytes.NewReader(make([]byte, 100)))
		}, "smaller than one 512-byte block"},
	} {
		s := httptest.NewServer(tc.handler)
		_, err := OpenHTTP(context.Background(), s.URL+"/d", s.Client())
		s.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), s.URL+"/d") {
			t.Errorf("%s: OpenHTTP = %v; want an error naming the URL with %q", tc.name, err, tc.want)
		}
	}
}

// TestHTTPDiskRetries: a dropped connection (short body), a 503 and a
// dropped connection again are retried; a fourth failure in a row fails
// the read, naming the URL and the range.
func TestHTTPDiskRetries(t *testing.T) {
	img := image(64 << 10)
	var fail atomic.Int32
	s := rangeServer(t, img, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Range") == "bytes=0-0" || fail.Load() == 0 {
			return false
		}
		switch fail.Add(-1) % 2 {
		case 0: // promise the range, send half, drop the connection
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 512-4607/%d", len(img)))
			w.Header().Set("Content-Length", "4096")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(img[512:2560])
			panic(http.ErrAbortHandler)
		default:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
		return true
	})
	d, err := OpenHTTP(context.Background(), s.URL+"/disk.img", s.Client())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	fail.Store(HTTPRetries)
	if err := d.ReadBlocks(1, buf); err != nil || !bytes.Equal(buf, img[512:4608]) {
		t.Fatalf("ReadBlocks after %d failures = %v (data equal %v); want the image's bytes", HTTPRetries, err, bytes.Equal(buf, img[512:4608]))
	}
	fail.Store(HTTPRetries + 1)
	err = d.ReadBlocks(1, buf)
	if err == nil || !strings.Contains(err.Error(), "bytes 512-4607") || !strings.Contains(err.Error(), s.URL) {
		t.Errorf("ReadBlocks after %d failures = %v; want an error naming URL and range", HTTPRetries+1, err)
	}
}

// TestHTTPDiskWrongRange: a 206 for another range than asked is an error,
// not data.
func TestHTTPDiskWrongRange(t *testing.T) {
	img := image(8192)
	s := rangeServer(t, img, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Range") == "bytes=0-0" {
			return false
		}
		w.Header().Set("Content-Range", "bytes 0-511/8192")
		w.WriteHeader(http.StatusPartialContent)
		w.Write(img[:512])
		return true
	})
	d, err := OpenHTTP(context.Background(), s.URL, s.Client())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.ReadBlocks(3, make([]byte, 512)); err == nil || !strings.Contains(err.Error(), "got 0-511") {
		t.Errorf("ReadBlocks(3) answered with bytes 0-511 = %v; want a range mismatch error", err)
	}
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		s                  string
		first, last, total int64
		ok                 bool
	}{
		{"bytes 0-0/100", 0, 0, 100, true},
		{"bytes 512-1023/1048576", 512, 1023, 1048576, true},
		{"bytes 0-99/*", 0, 99, -1, true},
		{"bytes 0-100/100", 0, 0, 0, false}, // last beyond size
		{"bytes 5-4/100", 0, 0, 0, false},
		{"bytes */100", 0, 0, 0, false}, // unsatisfied-range (416 only)
		{"bytes -1-5/100", 0, 0, 0, false},
		{"bytes +1-5/100", 0, 0, 0, false},
		{"bytes 1-+5/100", 0, 0, 0, false},
		{"bytes 0-0/", 0, 0, 0, false},
		{"bytes 0-0", 0, 0, 0, false},
		{"items 0-0/1", 0, 0, 0, false},
		{"", 0, 0, 0, false},
		{"bytes 0-99999999999999999999/1", 0, 0, 0, false},
	} {
		f, l, n, err := ParseContentRange(tc.s)
		if (err == nil) != tc.ok || f != tc.first || l != tc.last || n != tc.total {
			t.Errorf("ParseContentRange(%q) = %d, %d, %d, %v; want %d, %d, %d, ok %v", tc.s, f, l, n, err, tc.first, tc.last, tc.total, tc.ok)
		}
	}
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-0/100", "bytes 0-99/*", "bytes 5-4/100", "bytes 1-2/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		first, last, total, err := ParseContentRange(s)
		if err != nil {
			return
		}
		if first < 0 || last < first || (total != -1 && last >= total) {
			t.Errorf("ParseContentRange(%q) = %d, %d, %d; want 0 <= first <= last < total", s, first, last, total)
		}
		if back := fmt.Sprintf("bytes %d-%d/", first, last); !strings.HasPrefix(s, back) {
			t.Errorf("ParseContentRange(%q) = %d-%d: not what it says", s, first, last)
		}
	})
}

type nopInstaller struct{}

func (nopInstaller) Install(context.Context, *Drive) error { return nil }

type failInstaller struct{ got *Drive }

func (f *failInstaller) Install(_ context.Context, d *Drive) error {
	f.got = d
	return errors.New("ConnectController: device error")
}

// TestOpenHTTPThroughCache: an https image opened by Open reads through
// the cache; an Installer that fails gets the drive closed (no leaked
// session or cache).
func TestOpenHTTPThroughCache(t *testing.T) {
	img := image(2 << 20)
	var requests atomic.Int32
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.ServeContent(w, r, "disk.img", time.Time{}, bytes.NewReader(img))
	}))
	defer s.Close()
	url := s.URL + "/disk.img"
	d, err := Open(context.Background(), []string{url}, Config{HTTP: s.Client()}, nopInstaller{})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for i := 0; i < 3; i++ { // U-Boot rereads the GPT
		if err := d.Cache.ReadBlocks(0, buf); err != nil || !bytes.Equal(buf, img[:4096]) {
			t.Fatalf("Cache.ReadBlocks(0) = %v (equal %v)", err, bytes.Equal(buf, img[:4096]))
		}
	}
	if st := d.Cache.Stats(); st.Hits < 2 {
		t.Errorf("cache stats after 3 reads of block 0 = %v; want at least 2 hits", st)
	}
	if !strings.Contains(d.Describe(), url) {
		t.Errorf("Describe() = %q; want it to name %s", d.Describe(), url)
	}
	d.Close()

	fi := &failInstaller{}
	if _, err := Open(context.Background(), []string{url}, Config{HTTP: s.Client()}, fi); err == nil {
		t.Fatal("Open with a failing installer = nil error")
	}
	if err := fi.got.Backend.ReadBlocks(0, buf); !errors.Is(err, blockio.ErrNoMedia) {
		t.Errorf("backend after a failed Install: ReadBlocks = %v; want ErrNoMedia (closed)", err)
	}
}

func TestOpenRootPathErrors(t *testing.T) {
	for _, tc := range []struct{ rp, want string }{
		{"nbd:server:10809", "iscsi:, http:// or https://"},
		{"http://127.0.0.1:1/x", "no HTTP client"},
		{"iscsi:10.0.0.1::::iqn.x", "no initiator name"},
	} {
		_, err := Open(context.Background(), []string{tc.rp}, Config{Retries: 5}, nopInstaller{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v; want %q", tc.rp, err, tc.want)
		}
	}
}

func TestMACUUID(t *testing.T) {
	a := MACUUID([]byte{0x52, 0x54, 0, 0x12, 0x34, 0x56})
	b := MACUUID([]byte{0x52, 0x54, 0, 0x12, 0x34, 0x57})
	if a == b || a != MACUUID([]byte{0x52, 0x54, 0, 0x12, 0x34, 0x56}) {
		t.Errorf("MACUUID: not stable per MAC or not distinct between MACs: %x %x", a, b)
	}
	if a[6]>>4 != 5 || a[8]>>6 != 2 {
		t.Errorf("MACUUID = %x; want version 5, RFC 9562 variant", a)
	}
}

// TestOpenRetries: a server that refuses connections is retried
// san-retries times, a second apart.
func TestOpenRetries(t *testing.T) {
	var lines []string
	cfg := Config{HTTP: http.DefaultClient, Retries: 2, Logf: func(f string, a ...any) { lines = append(lines, f) }}
	start := time.Now()
	if _, err := Open(context.Background(), []string{"http://127.0.0.1:1/disk.img"}, cfg, nopInstaller{}); err == nil {
		t.Fatal("Open of a dead server = nil error")
	}
	retries := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "Retrying SAN open") {
			retries++
		}
	}
	if el := time.Since(start); retries != 2 || el < 2*time.Second {
		t.Errorf("Open of a dead server with 2 retries: %d retries in %v; want 2, at least 2 s", retries, el)
	}
}

// TestHTTPDiskBoundsConnections: however many reads run at once (the
// cache's read-ahead beside a multi-chunk read), at most HTTPMaxConns
// range requests are in flight, on connections that are kept alive.
func TestHTTPDiskBoundsConnections(t *testing.T) {
	img := image(4 << 20)
	var inFlight, most, conns atomic.Int32
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(2 * time.Millisecond)
		http.ServeContent(w, r, "disk.img", time.Time{}, bytes.NewReader(img))
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	defer s.Close()
	d, err := OpenHTTP(context.Background(), s.URL+"/disk.img", s.Client())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lba := uint64(i * 256)
			buf := make([]byte, 256*512)
			if err := d.ReadBlocks(lba, buf); err != nil {
				errs <- err
			} else if !bytes.Equal(buf, img[lba*512:lba*512+uint64(len(buf))]) {
				errs <- fmt.Errorf("ReadBlocks(%d) returned other bytes than the image", lba)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if m := most.Load(); m > HTTPMaxConns {
		t.Errorf("%d range requests in flight at once; want at most HTTPMaxConns = %d", m, HTTPMaxConns)
	}
	// OpenHTTP's probe plus at most HTTPMaxConns for the 32 reads.
	if c := conns.Load(); c > HTTPMaxConns+1 {
		t.Errorf("32 reads opened %d connections; want at most %d (kept alive)", c, HTTPMaxConns+1)
	}
}
