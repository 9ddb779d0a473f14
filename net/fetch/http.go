package fetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	stdnet "net"
	"net/http"
	"net/url"
	"time"

	"github.com/snp-go/snp-go/internal/certstore"
	"github.com/snp-go/snp-go/net/dns"
)

// HTTPConfig configures the http/https Fetcher.
type HTTPConfig struct {
	// Dial opens connections; host names in addresses must be resolved by
	// it (dns.Resolver.Dialer does both). Required.
	Dial func(ctx context.Context, network, address string) (stdnet.Conn, error)
	// Trust is the set of CAs for https (nil: PublicRoots()).
	Trust *Trust
	// Clock checks certificate validity (zero: time.Now, "system clock").
	Clock Clock
	// Store, if not nil, is the certificate store (iPXE's certstore): its
	// certificates complete a server's chain as intermediates (never as
	// roots), and the certificates servers send are cached in it.
	Store *certstore.Store
	// UserAgent (default "snp-go").
	UserAgent string
	// Stall aborts a download when no data arrived for this long
	// (default 30 s): a dead receive path looks like a silent connection.
	Stall time.Duration
}

// HTTP fetches http:// and https:// URLs (TLS 1.2 and 1.3, SNI, host name
// and IP SAN verification by crypto/tls).
type HTTP struct {
	cfg    HTTPConfig
	client *http.Client
}

// NewHTTP builds the fetcher.
func NewHTTP(cfg HTTPConfig) (*HTTP, error) {
	if cfg.Dial == nil {
		return nil, errors.New("fetch: HTTPConfig.Dial is required")
	}
	if cfg.Trust == nil {
		cfg.Trust = PublicRoots()
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "snp-go"
	}
	if cfg.Stall <= 0 {
		cfg.Stall = 30 * time.Second
	}
	tr := &http.Transport{
		DialContext: cfg.Dial,
		TLSClientConfig: &tls.Config{
			RootCAs:    cfg.Trust.Pool,
			MinVersion: tls.VersionTLS12,
			Time:       cfg.Clock.now,
		},
		DialTLSContext:        dialTLS(cfg),
		TLSHandshakeTimeout:   cfg.Stall,
		ResponseHeaderTimeout: cfg.Stall,
		// A kept-alive idle connection would hold a share of the stack's
		// receive budget; boot downloads are few and large.
		DisableKeepAlives:  true,
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
	}
	c := &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("more than 10 redirects")
			}
			if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
				return fmt.Errorf("refusing redirect from https to %s", req.URL.Redacted())
			}
			return nil
		},
	}
	return &HTTP{cfg: cfg, client: c}, nil
}

// RangeClient returns a client with h's TLS trust, clock, dialer and
// redirect policy for many small requests to one server (an HTTP SAN
// disk's range reads), without Fetch's stall timer: the caller bounds
// each request. Unlike Fetch's, its connections are kept alive, at most
// maxConns per server: a new connection costs a TCP and TLS handshake, and
// every open connection takes a share of the stack's receive budget (a
// burst on several new ones at once is what overflows U-Boot's 32-frame
// receive ring). Close the disk's idle connections when done with it.
func (h *HTTP) RangeClient(maxConns int) *http.Client {
	if maxConns < 1 {
		maxConns = 1
	}
	tr := h.client.Transport.(*http.Transport).Clone()
	tr.DisableKeepAlives = false
	tr.MaxConnsPerHost = maxConns
	tr.MaxIdleConnsPerHost = maxConns
	tr.IdleConnTimeout = 60 * time.Second
	return &http.Client{Transport: tr, CheckRedirect: h.client.CheckRedirect}
}

var errStalled = errors.New("stalled")

// Fetch implements Fetcher.
func (h *HTTP) Fetch(ctx context.Context, u *url.URL, w io.Writer, opts Options) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	method, body := http.MethodGet, io.Reader(nil)
	if r := opts.Request; r != nil {
		if r.Method != "" {
			method = r.Method
		}
		if r.Body != nil {
			body = bytes.NewReader(r.Body)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", h.cfg.UserAgent)
	if r := opts.Request; r != nil {
		if r.ContentType != "" {
			req.Header.Set("Content-Type", r.ContentType)
		}
		for _, kv := range r.Header {
			switch http.CanonicalHeaderKey(kv[0]) {
			case "Host": // Go sends req.Host, not a header
				req.Host = kv[1]
			case "User-Agent": // Go sends one: the script's replaces ours
				req.Header.Set("User-Agent", kv[1])
			default:
				// As written, not canonicalised: iPXE sends the name given.
				req.Header[kv[0]] = append(req.Header[kv[0]], kv[1])
			}
		}
	}
	stall := time.AfterFunc(h.cfg.Stall, func() { cancel(errStalled) })
	defer stall.Stop()

	resp, err := h.client.Do(req)
	if err != nil {
		return 0, h.explain(ctx, err, u)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("server answered %s", resp.Status)
	}
	if method == http.MethodHead {
		return 0, nil // headers only: an empty file, as iPXE's HEAD
	}
	m, err := NewMeter(w, u.Redacted(), resp.ContentLength, opts)
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 64<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			stall.Reset(h.cfg.Stall)
			if _, err := m.Write(buf[:n]); err != nil {
				m.Finish()
				return m.N(), err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			m.Finish()
			return m.N(), h.explain(ctx, rerr, u)
		}
	}
	m.Finish()
	if resp.ContentLength >= 0 && m.N() != resp.ContentLength {
		return m.N(), fmt.Errorf("connection closed after %d of %d bytes", m.N(), resp.ContentLength)
	}
	return m.N(), nil
}

// explain turns transport errors into reasons a user can act on.
func (h *HTTP) explain(ctx context.Context, err error, u *url.URL) error {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errStalled):
		return fmt.Errorf("no data for %v: server or network silent (link receive path dead?)", h.cfg.Stall)
	case errors.Is(cause, context.Canceled):
		return fmt.Errorf("interrupted: %w", context.Canceled)
	case errors.Is(cause, context.DeadlineExceeded):
		return fmt.Errorf("timed out: %w", context.DeadlineExceeded)
	}
	var cve *tls.CertificateVerificationError
	var hn x509.HostnameError
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	reason := ""
	switch {
	case errors.As(err, &hn):
		reason = fmt.Sprintf("certificate is not valid for host %q: %v", u.Hostname(), hn.Error())
	case errors.As(err, &ua):
		reason = fmt.Sprintf("certificate chain does not lead to a trusted CA: %v", ua.Error())
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		reason = fmt.Sprintf("certificate not valid at %s according to the %s: %v", h.cfg.Clock.now().UTC().Format(time.RFC3339), h.cfg.Clock.source(), ci.Error())
	case errors.As(err, &cve):
		reason = cve.Err.Error()
	}
	if reason != "" {
		return fmt.Errorf("TLS certificate refused, download not started: %s [trust: %s; clock: %s]", reason, h.cfg.Trust.Source, h.cfg.Clock.source())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err
}

// NewStackClient returns a Client with http and https registered, resolving
// names with r and dialing through r.Stack.
func NewStackClient(r *dns.Resolver, trust *Trust, clock Clock) (*Client, error) {
	h, err := NewHTTP(HTTPConfig{Dial: r.Dialer(), Trust: trust, Clock: clock})
	if err != nil {
		return nil, err
	}
	c := NewClient()
	c.Register("http", h)
	c.Register("https", h)
	return c, nil
}
