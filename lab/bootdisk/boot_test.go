package bootdisk

import (
	"os"
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
func bootLocal(t testing.TB, img *Image) (lab.Match, *Grub, *Linux) {
	t.Helper()
	return boot(t, img, lab.Config{Disks: []string{img.Path}, Snapshot: true, NoNet: true})
}

// boot boots img, which cfg attaches as virtio 0, as bootLocal does.
func boot(t testing.TB, img *Image, cfg lab.Config) (lab.Match, *Grub, *Linux) {
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

// TestLocalBoot: the boot disk attached as local virtio-blk boots to the
// Linux marker and powers off. BenchmarkLocalBoot times it: the ceiling of
// the SAN boot.
func TestLocalBoot(t *testing.T) {
	lab.SkipIfMissing(t)
	bootLocal(t, Need(t, Options{}))
}

// BenchmarkLocalBoot reports seconds from bootefi to the Linux marker from
// local virtio-blk, and the kernel read's share, one boot per iteration.
func BenchmarkLocalBoot(b *testing.B) {
	lab.SkipIfMissing(b)
	img := Need(b, Options{})
	var total, kernel time.Duration
	for range b.N {
		loaded, _, l := bootLocal(b, img)
		total += l.Marker.At.Sub(loaded.At)
		kernel += l.KernelRead
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/bootefi-to-linux")
	b.ReportMetric(kernel.Seconds()/float64(b.N), "s/kernel-read")
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

// TestLocalGrubBigRead: Grub reads a 64 MiB file from local virtio-blk as
// an initrd and hashes it again; the digest must match (ExpectLinux checks
// it). -short skips it. BenchmarkLocalGrubRead reports the MB/s.
func TestLocalGrubBigRead(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: -short: Grub reads a 64 MiB file")
	}
	lab.SkipIfMissing(t)
	bootLocal(t, Need(t, Options{BigSize: 64 << 20}))
}

// BenchmarkLocalGrubRead reports Grub's read of a big file from local
// virtio-blk, the ceiling for Block IO over iSCSI, in MB/s (one boot per
// iteration). The size is SNP_LAB_BIG_MIB (default 64).
func BenchmarkLocalGrubRead(b *testing.B) {
	lab.SkipIfMissing(b)
	mib := int64(64)
	if s := os.Getenv("SNP_LAB_BIG_MIB"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("SNP_LAB_BIG_MIB=%q: want a positive number of MiB", s)
		}
		mib = n
	}
	img := Need(b, Options{BigSize: mib << 20})
	var read, hash time.Duration
	for range b.N {
		_, _, l := bootLocal(b, img)
		read += l.BigRead
		hash += l.BigHash
	}
	b.ReportMetric(float64(mib<<20)*float64(b.N)/1e6/read.Seconds(), "MB/s")
	b.ReportMetric(hash.Seconds()/float64(b.N), "s/hashsum")
}
