// Package fetchtest holds what the tests of the download protocols (tftp,
// ftp, nfs) share: file contents, a fetch through a fetch.Client that
// records every progress report, and a writer that cancels mid-download.
package fetchtest

import (
	"bytes"
	"context"
	"time"

	"github.com/snp-go/snp-go/net/fetch"
)

// Content returns n bytes of a pattern that does not repeat at any
// power-of-two period up to 1 KiB, so a misplaced block shows.
func Content(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*13 + i>>10)
	}
	return b
}

// Client returns a fetch.Client with f registered for scheme.
func Client(scheme string, f fetch.Fetcher) *fetch.Client {
	fc := fetch.NewClient()
	fc.Register(scheme, f)
	return fc
}

// Result is what Get saw.
type Result struct {
	Body    []byte
	Reports []fetch.Progress // every progress report, in order
	Err     error
}

// Get fetches url through fc with progress reported on every write, as
// the script engine fetches.
func Get(fc *fetch.Client, ctx context.Context, url string, opts fetch.Options) Result {
	var r Result
	var buf bytes.Buffer
	opts.Progress = func(p fetch.Progress) { r.Reports = append(r.Reports, p) }
	opts.ProgressInterval = time.Nanosecond
	_, r.Err = fc.Fetch(ctx, url, &buf, opts)
	r.Body = buf.Bytes()
	return r
}

// CancelWriter discards what is written and calls Cancel once After bytes
// have been written.
type CancelWriter struct {
	N, After int
	Cancel   func()
}

func (w *CancelWriter) Write(p []byte) (int, error) {
	w.N += len(p)
	if w.N >= w.After {
		w.Cancel()
	}
	return len(p), nil
}
