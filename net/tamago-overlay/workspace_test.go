// Package tamagooverlay holds the files and the script that make
// insomniacslk/dhcp compile for GOOS=tamago; see README.md.
package tamagooverlay

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTamagoWorkspace runs mkworkspace.sh and compiles every package under
// net/ for tamago/arm64 with the workspace, and checks that dhcpv4 still
// fails without it (when it stops failing, this directory can go).
func TestTamagoWorkspace(t *testing.T) {
	if testing.Short() {
		t.Skip("compiling gVisor for tamago takes minutes; skipped with -short")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	run := func(env []string, name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	tamago, err := run(nil, "go", "tool", "-n", "tamago")
	if err != nil {
		t.Skipf("tamago toolchain missing (go tool -n tamago: %v: %s)", err, tamago)
	}
	if _, err := os.Stat(tamago); err != nil {
		t.Skipf("tamago toolchain missing: %v", err)
	}
	work, err := run(nil, "sh", "net/tamago-overlay/mkworkspace.sh", t.TempDir())
	if err != nil {
		t.Fatalf("mkworkspace.sh: %v\n%s", err, work)
	}
	env := []string{"GOOS=tamago", "GOARCH=arm64", "GOOSPKG=github.com/usbarmory/tamago"}
	if out, err := run(append(env, "GOWORK="+work), tamago, "build", "./net/..."); err != nil {
		t.Fatalf("GOWORK=%s tamago build ./net/... failed: %v\n%s", work, err, out)
	}
	out, err := run(append(env, "GOWORK=off"), tamago, "build", "github.com/insomniacslk/dhcp/dhcpv4")
	if err == nil {
		t.Logf("note: dhcpv4 now builds for tamago without the workspace; net/tamago-overlay may be obsolete")
	} else if !strings.Contains(out, "defaultContextReader") && !strings.Contains(out, "BindToInterface") {
		t.Errorf("dhcpv4 without workspace failed differently than documented:\n%s", out)
	}
}
