package tgt

import (
	"errors"
	"testing"
)

// StartT starts tgtd for a test and stops it at cleanup (logging the tail
// of its log if the test failed). It skips the test with one line when
// tgtd is not installed or the test does not run as root; any other
// failure fails it.
func StartT(t testing.TB, opt Options) *Daemon {
	t.Helper()
	if opt.Dir == "" {
		opt.Dir = t.TempDir()
	}
	d, err := Start(opt)
	if errors.Is(err, ErrNotInstalled) || errors.Is(err, ErrNotRoot) {
		t.Skip("SKIP: " + err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("tgtd log %s (tail):\n%s", d.Log, d.LogTail(6000))
		}
	})
	return d
}
