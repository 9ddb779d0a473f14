package board

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tamagoRoot is where the Makefile takes tamago-go from: the user cache
// (os.UserCacheDir honours XDG_CACHE_HOME as the Makefile does), directory
// tamago-go<version of the tamago module>.
func tamagoRoot(t *testing.T) string {
	t.Helper()
	v, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/usbarmory/tamago").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/usbarmory/tamago: %v", err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(cache, "tamago-go", "tamago-go"+strings.TrimPrefix(strings.TrimSpace(string(v)), "v"))
	if _, err := os.Stat(filepath.Join(root, "src")); err != nil {
		t.Skipf("SKIP: tamago-go's source is not at %s (TamaGo compiler missing; see README.md): the board/_goroot drift check needs it", root)
	}
	return root
}

// TestDRBGOverlayTracksUpstream: board/_goroot's rand.go is tamago-go's
// crypto/internal/fips140/drbg/rand.go with one change (the scratch buffer
// allocated at first use, see that file). The copy must be upstream's file
// but for that change, so a tamago-go upgrade that touches the DRBG fails
// here instead of building snp-go with stale crypto code.
func TestDRBGOverlayTracksUpstream(t *testing.T) {
	const rel = "src/crypto/internal/fips140/drbg/rand.go"
	up, err := os.ReadFile(filepath.Join(tamagoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	ours, err := os.ReadFile(filepath.Join("_goroot", rel))
	if err != nil {
		t.Fatal(err)
	}
	// The change, as the two files spell it: upstream's explanation and
	// declaration, and its two calls.
	cut := func(s, from, through string) (string, bool) {
		i := strings.Index(s, from)
		j := strings.Index(s, through)
		if i < 0 || j < i {
			return s, false
		}
		return s[:i] + s[j+len(through):], true
	}
	u, okU := cut(string(up), "// We reuse it and share it", "var memory entropy.ScratchBuffer\n")
	o, okO := cut(string(ours), "// snp-go's change (board/_goroot", "\treturn memory\n}\n")
	if !okU || !okO {
		t.Fatalf("%s: the scratch-buffer declaration changed upstream (found %v) or in board/_goroot (found %v): redo the copy from tamago-go's file", rel, okU, okO)
	}
	u = strings.ReplaceAll(u, "entropy.Seed(&memory)", "entropy.Seed(scratchMemory())")
	if u != o {
		t.Errorf("board/_goroot/%s differs from tamago-go's %s beyond snp-go's change: copy upstream's file again and reapply the change", rel, filepath.Join(tamagoRoot(t), rel))
	}
}
