package bootdisk

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/snp-go/snp-go/lab"
)

// step bounds each wait for the next marker; a local boot takes seconds.
const step = 60 * time.Second

// bootLocal boots img from local virtio-blk: U-Boot loads Grub from the ESP
// and starts it with bootefi; Grub hashes its files and boots Linux, whose
// /init prints the marker and powers off. It returns the Bootefi match (its
// At is when bootefi began) and what Grub and Linux printed.
func bootLocal(t *testing.T, img *Image) (lab.Match, *Grub, *Linux) {
	t.Helper()
	return boot(t, img, lab.Config{Disks: []string{img.Path}, Snapshot: true, NoNet: true})
}

// boot boots img, which cfg attaches as virtio 0, as bootLocal does.
func boot(t *testing.T, img *Image, cfg lab.Config) (lab.Match, *Grub, *Linux) {
	t.Helper()
	m := lab.Start(t, cfg)
	if _, err := m.StopAutoboot(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Run("virtio scan", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	loaded, err := m.Bootefi("0:1", GrubPath[1:], 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	g, err := img.ExpectGrub(m.Console, step)
	if err != nil {
		t.Fatal(err)
	}
	// The device-less prefix gets the device Grub was loaded from.
	if root, prefix := g.Early.Groups[1], g.Early.Groups[2]; root == "" || prefix != "("+root+")"+GrubPrefix {
		t.Errorf("Grub's $root, $prefix = %q, %q; want a device and (device)%s", root, prefix, GrubPrefix)
	}
	l, err := img.ExpectLinux(m.Console, step)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Exited():
	case <-time.After(20 * time.Second):
		t.Errorf("QEMU still runs 20 s after the Linux marker: /init did not power off")
	}
	return loaded, g, l
}

// TestLocalBoot is the ceiling of the SAN boot: the boot disk attached as
// local virtio-blk, booted three times; it reports the median time from
// bootefi to the Linux marker.
func TestLocalBoot(t *testing.T) {
	lab.SkipIfMissing(t)
	img := Need(t, Options{})
	var times []time.Duration
	for i := range 3 {
		loaded, g, l := bootLocal(t, img)
		if t.Failed() {
			return
		}
		d := l.Marker.At.Sub(loaded.At)
		t.Logf("boot %d: bootefi to Linux marker %.2f s: to grub.cfg %.2f s, to menu entry %.2f s, kernel read %.2f s, Linux %s from Grub's boot to /init %.2f s",
			i+1, d.Seconds(), g.Cfg.At.Sub(loaded.At).Seconds(), l.Entry.At.Sub(g.Cfg.At).Seconds(),
			l.KernelRead.Seconds(), l.Release, l.Marker.At.Sub(l.Loaded.At).Seconds())
		times = append(times, d)
	}
	slices.Sort(times)
	t.Logf("local virtio-blk: bootefi to Linux marker, median of 3: %.2f s", times[1].Seconds())
}

// TestLocalBootMenu makes Grub wait at its menu (no disk reads meanwhile)
// and checks that it boots when the timeout runs out.
func TestLocalBootMenu(t *testing.T) {
	lab.SkipIfMissing(t)
	const timeout = 3
	img := Need(t, Options{Timeout: timeout})
	_, g, l := bootLocal(t, img)
	if t.Failed() {
		return
	}
	if waited := l.Entry.At.Sub(g.Menu.At); waited < (timeout-1)*time.Second {
		t.Errorf("Grub left its menu %v after %s; want about %d s (set timeout=%d)", waited, MarkerMenu, timeout, timeout)
	}
	// Grub's menu (grub-core/normal/menu_text.c) draws its help text.
	if menu := l.Entry.Before; !strings.Contains(menu, "Press enter to boot the selected OS") || !strings.Contains(menu, "*"+MenuTitle) {
		t.Errorf("no Grub menu with entry %q between %s and %s:\n%q", MenuTitle, MarkerMenu, MarkerGrubLinux, menu)
	}
}

// TestLocalGrubThroughput measures Grub reading (and hashing) a big file
// from local virtio-blk, the ceiling for Block IO over iSCSI, in three
// boots. The size is SNP_LAB_BIG_MIB (default 64); -short skips it.
func TestLocalGrubThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: -short: Grub read throughput over a 64 MiB file")
	}
	lab.SkipIfMissing(t)
	mib := int64(64)
	if s := os.Getenv("SNP_LAB_BIG_MIB"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			t.Fatalf("SNP_LAB_BIG_MIB=%q: want a positive number of MiB", s)
		}
		mib = n
	}
	img := Need(t, Options{BigSize: mib << 20})
	var rates []float64
	for i := range 3 {
		_, _, l := bootLocal(t, img)
		if t.Failed() {
			return
		}
		t.Logf("boot %d: Grub read %d MiB in %.2f s: %.1f MB/s (hashsum of it: %.2f s)", i+1, mib, l.BigRead.Seconds(), l.BigMBps, l.BigHash.Seconds())
		rates = append(rates, l.BigMBps)
	}
	slices.Sort(rates)
	t.Logf("local virtio-blk: Grub read throughput, median of 3: %.1f MB/s", rates[1])
}
