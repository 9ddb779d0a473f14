// Package fetch downloads files for snp-go's scripts and images. A Client
// maps URI schemes to Fetchers; every Fetcher shares the same contract:
// context cancellation (Ctrl-C), a size limit, a throttled progress callback
// and errors that name the URL. http:// and https:// are provided (HTTP); tftp,
// ftp, nfs or file can be registered later with the same shape.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Progress is a snapshot of a running download.
type Progress struct {
	URL     string
	Bytes   int64         // received so far
	Total   int64         // expected size, -1 if unknown
	Elapsed time.Duration // since the request started
	Rate    float64       // average bytes per second since start
	Done    bool          // last report (success or failure)
}

// Options apply to one fetch.
type Options struct {
	// Limit refuses downloads larger than this many bytes (0: no limit).
	Limit int64
	// Progress, if set, is called at most every ProgressInterval
	// (default 500 ms) and once more with Done set.
	Progress         func(Progress)
	ProgressInterval time.Duration
	// Request, if set, makes an HTTP request other than a plain GET
	// (iPXE's request parameters, "##params"); other schemes ignore it.
	Request *Request
}

// Request is an HTTP method, body and extra headers.
type Request struct {
	Method      string // "" is GET
	ContentType string // of Body
	Body        []byte
	Header      [][2]string // added as written, in order, after snp-go's own
}

// Fetcher downloads one URL of the schemes it was registered for into w.
// It returns the number of bytes written. Implementations must honour ctx,
// opts.Limit (ErrTooLarge) and report progress through a Meter.
type Fetcher interface {
	Fetch(ctx context.Context, u *url.URL, w io.Writer, opts Options) (int64, error)
}

// ErrTooLarge is wrapped when a download exceeds Options.Limit.
var ErrTooLarge = errors.New("download exceeds the size limit")

// Error is what Client.Fetch returns on failure: the URL and the reason.
type Error struct {
	URL string
	Err error
}

func (e *Error) Error() string { return e.URL + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Client dispatches by URI scheme.
type Client struct {
	mu      sync.RWMutex
	schemes map[string]Fetcher
}

// NewClient returns a client with no schemes registered.
func NewClient() *Client { return &Client{schemes: map[string]Fetcher{}} }

// Register makes f handle scheme (lower case, e.g. "https").
func (c *Client) Register(scheme string, f Fetcher) {
	c.mu.Lock()
	c.schemes[strings.ToLower(scheme)] = f
	c.mu.Unlock()
}

// RegisterNew makes newF(cfg) handle scheme: how snp-go adds iPXE's other
// download protocols (tftp, ftp and nfs, each a package with New(Config)
// and StackConfig) next to NewStackClient's http and https:
//
//	err := fetch.RegisterNew(c, "tftp", tftp.New, tftp.StackConfig(resolver))
func RegisterNew[C any, F Fetcher](c *Client, scheme string, newF func(C) (F, error), cfg C) error {
	f, err := newF(cfg)
	if err != nil {
		return fmt.Errorf("fetch: setting up %s://: %w", scheme, err)
	}
	c.Register(scheme, f)
	return nil
}

// Schemes returns the registered schemes.
func (c *Client) Schemes() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var s []string
	for k := range c.schemes {
		s = append(s, k)
	}
	return s
}

// Fetch downloads rawURL into w. Errors are *Error naming the URL (with any
// user:password removed).
func (c *Client) Fetch(ctx context.Context, rawURL string, w io.Writer, opts Options) (int64, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, &Error{URL: redactRaw(rawURL), Err: fmt.Errorf("bad URL: %w", errors.Unwrap(err))}
	}
	c.mu.RLock()
	f, ok := c.schemes[strings.ToLower(u.Scheme)]
	c.mu.RUnlock()
	if !ok {
		return 0, &Error{URL: u.Redacted(), Err: fmt.Errorf("unsupported URI scheme %q (have %s)", u.Scheme, strings.Join(c.Schemes(), ", "))}
	}
	n, err := f.Fetch(ctx, u, w, opts)
	if err != nil {
		var fe *Error
		if !errors.As(err, &fe) {
			err = &Error{URL: u.Redacted(), Err: err}
		}
	}
	return n, err
}

func redactRaw(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "xxxxx" + s[i:]
		}
	}
	return s
}

// Meter counts bytes written through it, enforces the limit and reports
// progress; Fetcher implementations wrap their destination with it.
type Meter struct {
	w        io.Writer
	url      string
	opts     Options
	total    int64
	n        int64
	start    time.Time
	last     time.Time
	interval time.Duration
}

// NewMeter wraps w for the download of url with expected size total (-1:
// unknown). It fails fast when total already exceeds the limit.
func NewMeter(w io.Writer, url string, total int64, opts Options) (*Meter, error) {
	if opts.Limit > 0 && total > opts.Limit {
		return nil, fmt.Errorf("%w: %d bytes announced, limit %d", ErrTooLarge, total, opts.Limit)
	}
	iv := opts.ProgressInterval
	if iv <= 0 {
		iv = 500 * time.Millisecond
	}
	now := time.Now()
	return &Meter{w: w, url: url, opts: opts, total: total, start: now, last: now, interval: iv}, nil
}

// Write implements io.Writer.
func (m *Meter) Write(p []byte) (int, error) {
	if m.opts.Limit > 0 && m.n+int64(len(p)) > m.opts.Limit {
		return 0, fmt.Errorf("%w of %d bytes", ErrTooLarge, m.opts.Limit)
	}
	n, err := m.w.Write(p)
	m.n += int64(n)
	if m.opts.Progress != nil {
		if now := time.Now(); now.Sub(m.last) >= m.interval {
			m.last = now
			m.opts.Progress(m.snapshot(now, false))
		}
	}
	return n, err
}

// Finish sends the final progress report.
func (m *Meter) Finish() {
	if m.opts.Progress != nil {
		m.opts.Progress(m.snapshot(time.Now(), true))
	}
}

// N returns the bytes written.
func (m *Meter) N() int64 { return m.n }

func (m *Meter) snapshot(now time.Time, done bool) Progress {
	el := now.Sub(m.start)
	p := Progress{URL: m.url, Bytes: m.n, Total: m.total, Elapsed: el, Done: done}
	if el > 0 {
		p.Rate = float64(m.n) / el.Seconds()
	}
	return p
}

// Metered runs get for a protocol that learns the size only once the
// transfer starts (TFTP tsize, NFS GETATTR): get calls open with the size
// (-1: unknown) to obtain w wrapped in a Meter, and the Meter's final
// report follows whatever get returns.
func Metered(w io.Writer, url string, opts Options, get func(open func(size int64) (io.Writer, error)) (int64, error)) (int64, error) {
	var m *Meter
	n, err := get(func(size int64) (io.Writer, error) {
		var err error
		m, err = NewMeter(w, url, size, opts)
		return m, err
	})
	if m != nil {
		m.Finish()
	}
	return n, err
}
