package bootdisk

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/snp-go/snp-go/lab"
	"github.com/snp-go/snp-go/lab/tgt"
)

// TestQEMUiSCSIBoot serves the boot disk from tgtd with CHAP and lets QEMU's
// own iSCSI initiator (libiscsi, on the host side) back the guest's
// virtio-blk with it: the two fixtures of the SAN boot test working
// together, without snp-go. U-Boot still sees a local disk; the figure is
// the local boot plus tgtd's latency.
func TestQEMUiSCSIBoot(t *testing.T) {
	lab.SkipIfMissing(t)
	// Debian builds QEMU's iSCSI driver as a module.
	if mods, _ := filepath.Glob("/usr/lib/*/qemu/block-iscsi.so"); len(mods) == 0 {
		t.Skip("SKIP: QEMU's iSCSI block driver block-iscsi.so not installed (Debian qemu-block-extra)")
	}
	img := Need(t, Options{})
	d := tgt.StartT(t, tgt.Options{})
	const iqn = "iqn.2025-01.dev.snp-go:bootdisk"
	in := &tgt.Account{User: "snp-initiator", Password: "initiator-secret-1"}
	if _, err := d.AddTarget(tgt.Target{
		IQN:        iqn,
		LUNs:       []tgt.LUN{{Path: img.Path, ReadOnly: true}},
		Initiators: []string{"127.0.0.1"},
		Incoming:   in,
		Outgoing:   &tgt.Account{User: "snp-target", Password: "target-secret-22"},
	}); err != nil {
		t.Fatal(err)
	}
	// The secret goes to QEMU in a file, so the command line in the
	// transcript does not show it.
	secret := filepath.Join(t.TempDir(), "chap-secret")
	if err := os.WriteFile(secret, []byte(in.Password), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, _, l := boot(t, img, lab.Config{NoNet: true, ExtraArgs: []string{
		"-object", "secret,id=chap0,format=raw,file=" + secret,
		"-iscsi", "user=" + in.User + ",password-secret=chap0",
		// QEMU's option parser splits at commas; the URL has none.
		"-drive", "if=none,id=d0,format=raw,readonly=on,file=" + d.URL(iqn, 1, nil, nil),
		"-device", "virtio-blk-pci,drive=d0",
	}})
	if t.Failed() {
		return
	}
	t.Logf("virtio-blk backed by QEMU's iSCSI initiator on tgtd: bootefi to Linux marker %.2f s (kernel read %.2f s)",
		l.Marker.At.Sub(loaded.At).Seconds(), l.KernelRead.Seconds())
}
