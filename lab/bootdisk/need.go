package bootdisk

import (
	"testing"

	"github.com/snp-go/snp-go/lab"
)

// Need builds a boot disk for a test in t.TempDir(), or skips the test with
// one line saying what is missing: disk tools, grub-mkimage, or the Debian
// arm64 packages (no route to the mirror). Any other failure fails it.
func Need(t testing.TB, opt Options) *Image {
	t.Helper()
	lab.SkipIfNoDiskTools(t)
	img, err := Build(t.TempDir(), opt)
	if err != nil {
		if errSkip(err) {
			t.Skip("SKIP: " + err.Error())
		}
		t.Fatal(err)
	}
	return img
}
