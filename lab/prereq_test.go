package lab

import (
	"strings"
	"testing"
)

func TestMissingNamesToolsAndPackages(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // nothing on PATH
	for _, tc := range []struct {
		disk, qemu bool
		want       []string
		notWant    []string
	}{
		{true, false, []string{"sgdisk (gdisk)", "mkfs.vfat (dosfstools)", "mcopy (mtools)"}, []string{"qemu"}},
		{false, true, []string{"qemu-system-aarch64 (qemu-system-arm)"}, []string{"sgdisk"}},
		{false, false, nil, []string{"sgdisk", "qemu"}},
	} {
		got := strings.Join(Missing(tc.disk, tc.qemu), ", ")
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("Missing(%v, %v) with an empty PATH = %q; want it to name %q", tc.disk, tc.qemu, got, w)
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(got, w) {
				t.Errorf("Missing(%v, %v) = %q; want no %q", tc.disk, tc.qemu, got, w)
			}
		}
	}
	err := Check()
	if err == nil || strings.Count(err.Error(), "\n") != 0 || !strings.Contains(err.Error(), "qemu-system-aarch64") {
		t.Errorf("Check() with an empty PATH = %v; want one line naming qemu-system-aarch64", err)
	}
}

// TestProbeCatchesRefusedMachine starts QEMU with a device whose option ROM
// does not exist: Probe's check must report QEMU's error, not time out
// quietly.
func TestProbeCatchesRefusedMachine(t *testing.T) {
	if err := Check(); err != nil {
		t.Skip("SKIP: " + err.Error())
	}
	if err := Probe(); err != nil {
		t.Fatalf("Probe() = %v; want nil on a complete lab", err)
	}
	bad := Config{NoNet: true, ExtraArgs: []string{"-device", "virtio-net-pci,romfile=/nonexistent/efi-virtio.rom"}}
	err := probeConfig(bad)
	if err == nil || !strings.Contains(err.Error(), "efi-virtio.rom") {
		t.Errorf("probeConfig(NIC with a missing option ROM) = %v; want an error quoting QEMU's complaint about efi-virtio.rom", err)
	}
}
