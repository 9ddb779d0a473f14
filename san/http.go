package san

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/snp-go/snp-go/blockio"
)

// HTTPBlockSize is the block size of an HTTP SAN disk (iPXE's
// HTTP_BLKSIZE: the image is addressed in 512-byte sectors).
const HTTPBlockSize = 512

// HTTPAttemptTimeout bounds one range request: a hung connection is
// abandoned and the request re-sent on a new one.
const HTTPAttemptTimeout = 30 * time.Second

// HTTPMaxConns is the most range requests (and so kept-alive connections)
// an HTTP disk has in flight at once. Each connection takes a share of the
// TCP receive budget that U-Boot's 32-frame receive ring allows in all;
// five at once, each starting with its full window, overflowed it in QEMU
// (the receive path then dies for good). HTTP/1.1 does not pipeline, so
// two give one read-ahead beside the read Grub waits for.
const HTTPMaxConns = 2

// HTTPMaxReadAhead caps the cache's read-ahead for an HTTP disk (chunks in
// flight beyond the one being read).
const HTTPMaxReadAhead = HTTPMaxConns - 1

// HTTPRetries is how often one range read is re-sent after a dropped
// connection, a short body or a server error before the read fails.
const HTTPRetries = 3

// HTTPDisk is a read-only disk image on a web server, read with HTTP range
// requests (RFC 9110 §14), iPXE's http_block_read.
type HTTPDisk struct {
	url    string
	client *http.Client
	size   int64

	// slots bounds the requests in flight (HTTPMaxConns).
	slots chan struct{}

	mu   sync.Mutex
	gone bool
}

// ErrNoRanges: the server does not answer range requests.
var ErrNoRanges = errors.New("the server ignores range requests")

// OpenHTTP checks that the server at url answers range requests and sizes
// the image. A server that ignores Range (200, or no Accept-Ranges: bytes
// and no 206) is refused: every block read would download the whole image.
func OpenHTTP(ctx context.Context, url string, client *http.Client) (*HTTPDisk, error) {
	d := &HTTPDisk{url: url, client: client, slots: make(chan struct{}, HTTPMaxConns)}
	resp, err := d.get(ctx, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil, fmt.Errorf("%s: %w (200 to \"Range: bytes=0-0\", Accept-Ranges %q): HTTP SAN boot needs a server that honours Range (RFC 9110 §14)", url, ErrNoRanges, resp.Header.Get("Accept-Ranges"))
	case resp.StatusCode != http.StatusPartialContent:
		return nil, fmt.Errorf("%s: server answered %s", url, resp.Status)
	}
	first, last, total, err := ParseContentRange(resp.Header.Get("Content-Range"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	if first != 0 || last != 0 {
		return nil, fmt.Errorf("%s: asked for bytes 0-0, got %d-%d", url, first, last)
	}
	if total < 0 {
		return nil, fmt.Errorf("%s: the server does not say the image size (Content-Range */*)", url)
	}
	if total < HTTPBlockSize {
		return nil, fmt.Errorf("%s: image of %d bytes is smaller than one %d-byte block", url, total, HTTPBlockSize)
	}
	d.size = total
	return d, nil
}

// get sends GET with Range bytes=first-last.
func (d *HTTPDisk) get(ctx context.Context, first, last int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", first, last))
	// A cache between us and the server must not transform the bytes.
	req.Header.Set("Accept-Encoding", "identity")
	return d.client.Do(req)
}

// URL is the image's address.
func (d *HTTPDisk) URL() string { return d.url }

// Size is the image size in bytes (a trailing partial block is not
// addressable).
func (d *HTTPDisk) Size() int64 { return d.size }

func (d *HTTPDisk) BlockSize() int { return HTTPBlockSize }

func (d *HTTPDisk) NumBlocks() uint64 {
	if d.closed() {
		return 0
	}
	return uint64(d.size / HTTPBlockSize)
}

func (d *HTTPDisk) ReadOnly() bool { return true }
func (d *HTTPDisk) Flush() error   { return nil }

func (d *HTTPDisk) WriteBlocks(lba uint64, buf []byte) error {
	return fmt.Errorf("%s: an HTTP SAN disk is read-only", d.url)
}

func (d *HTTPDisk) closed() bool { d.mu.Lock(); defer d.mu.Unlock(); return d.gone }

// Close makes the disk report no media (sanunhook).
func (d *HTTPDisk) Close() error {
	d.mu.Lock()
	d.gone = true
	d.mu.Unlock()
	d.client.CloseIdleConnections()
	return nil
}

// ReadBlocks reads len(buf)/512 blocks at lba with one range request,
// re-sent up to HTTPRetries times.
func (d *HTTPDisk) ReadBlocks(lba uint64, buf []byte) error {
	if d.closed() {
		return blockio.ErrNoMedia
	}
	if len(buf)%HTTPBlockSize != 0 {
		return fmt.Errorf("%s: read of %d bytes is not whole blocks", d.url, len(buf))
	}
	if len(buf) == 0 {
		return nil
	}
	first := int64(lba) * HTTPBlockSize
	last := first + int64(len(buf)) - 1
	if lba > uint64(d.size/HTTPBlockSize) || last >= d.size/HTTPBlockSize*HTTPBlockSize {
		return fmt.Errorf("%s: read of blocks %d+%d beyond the image's %d blocks", d.url, lba, len(buf)/HTTPBlockSize, d.size/HTTPBlockSize)
	}
	var err error
	for try := 0; try <= HTTPRetries; try++ {
		if err = d.readRange(first, last, buf); err == nil || errors.Is(err, errPermanent) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("%s: bytes %d-%d: %w", d.url, first, last, err)
	}
	return nil
}

var errPermanent = errors.New("not retried")

func (d *HTTPDisk) readRange(first, last int64, buf []byte) error {
	d.slots <- struct{}{}
	defer func() { <-d.slots }()
	ctx, cancel := context.WithTimeout(context.Background(), HTTPAttemptTimeout)
	defer cancel()
	resp, err := d.get(ctx, first, last)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		return fmt.Errorf("server stopped honouring Range (200): %w", errPermanent)
	case resp.StatusCode >= 500:
		return fmt.Errorf("server answered %s", resp.Status)
	case resp.StatusCode != http.StatusPartialContent:
		return fmt.Errorf("server answered %s: %w", resp.Status, errPermanent)
	}
	f, l, _, err := ParseContentRange(resp.Header.Get("Content-Range"))
	if err != nil {
		return fmt.Errorf("%w: %w", err, errPermanent)
	}
	if f != first || l != last {
		return fmt.Errorf("asked for bytes %d-%d, got %d-%d: %w", first, last, f, l, errPermanent)
	}
	if n, err := io.ReadFull(resp.Body, buf); err != nil {
		return fmt.Errorf("connection closed after %d of %d bytes: %w", n, len(buf), err)
	}
	// Read to the end of the body so that the connection is kept for the
	// next request (net/http closes one whose body was not drained).
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return nil
}

// ParseContentRange parses a 206 response's "bytes FIRST-LAST/TOTAL"
// (RFC 9110 §14.4); total is -1 for "*".
func ParseContentRange(s string) (first, last, total int64, err error) {
	bad := func() (int64, int64, int64, error) {
		return 0, 0, 0, fmt.Errorf("malformed Content-Range %q (want \"bytes FIRST-LAST/TOTAL\", RFC 9110 §14.4)", s)
	}
	rng, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return bad()
	}
	rng, size, ok := strings.Cut(rng, "/")
	if !ok {
		return bad()
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return bad()
	}
	if first, err = digits(a); err != nil {
		return bad()
	}
	if last, err = digits(b); err != nil || last < first {
		return bad()
	}
	if size == "*" {
		return first, last, -1, nil
	}
	if total, err = digits(size); err != nil || last >= total {
		return bad()
	}
	return first, last, total, nil
}

// digits is RFC 9110's 1*DIGIT as a non-negative int64.
func digits(s string) (int64, error) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, errors.New("not digits")
	}
	return strconv.ParseInt(s, 10, 64)
}
