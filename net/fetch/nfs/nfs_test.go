package nfs

import (
	"bytes"
	"context"
	stdnet "net"
	"net/netip"
	"testing"
	"time"

	"github.com/snp-go/snp-go/net/fetch"
)

func content(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*17 + i>>11)
	}
	return b
}

func osDial(ctx context.Context, laddr, raddr netip.AddrPort) (stdnet.Conn, error) {
	d := stdnet.Dialer{}
	if laddr.IsValid() {
		d.LocalAddr = stdnet.TCPAddrFromAddrPort(laddr)
	}
	return d.DialContext(ctx, "tcp4", raddr.String())
}

func newClient(t testing.TB, cfg Config) *fetch.Client {
	t.Helper()
	if cfg.Dial == nil {
		cfg.Dial = osDial
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fc := fetch.NewClient()
	fc.Register("nfs", c)
	return fc
}

type result struct {
	body []byte
	reps []fetch.Progress
	err  error
}

func get(fc *fetch.Client, ctx context.Context, url string, opts fetch.Options) result {
	var r result
	var buf bytes.Buffer
	opts.Progress = func(p fetch.Progress) { r.reps = append(r.reps, p) }
	opts.ProgressInterval = time.Nanosecond
	_, r.err = fc.Fetch(ctx, url, &buf, opts)
	r.body = buf.Bytes()
	return r
}

// cancelWriter cancels its context once enough bytes were written.
type cancelWriter struct {
	n, after int
	cancel   func()
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	if w.n >= w.after {
		w.cancel()
	}
	return len(p), nil
}

func fetchOptions() fetch.Options { return fetch.Options{} }
