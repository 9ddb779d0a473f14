// Package lab is snp-go's QEMU lab: it builds boot disks without root, starts
// real U-Boot (Debian's u-boot-qemu) in qemu-system-aarch64, and drives the
// serial console from Go tests.
//
// A test that boots an EFI application and waits for its banner:
//
//	lab.SkipIfMissing(t)
//	img := filepath.Join(t.TempDir(), "disk.img")
//	if err := lab.BuildDisk(img, lab.EFIDisk("snp-go.efi", false)); err != nil {
//		t.Fatal(err)
//	}
//	c := lab.Start(t, lab.Config{Disks: []string{img}})
//	if err := c.StopAutoboot(10 * time.Second); err != nil {
//		t.Fatal(err)
//	}
//	loaded, err := c.Bootefi("0:1", "snp-go.efi", 10*time.Second)
//	if err != nil {
//		t.Fatal(err)
//	}
//	m, err := c.Expect(regexp.MustCompile(`snp-go (\S+)`), 20*time.Second)
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Logf("bootefi to banner: %v", m.At.Sub(loaded))
//
// The lab is host-only: it runs external programs (qemu-system-aarch64,
// sgdisk, mkfs.vfat, mtools) and is never linked into the EFI application.
// Check and SkipIfMissing name whatever of those is not installed.
//
// Facts about the Debian U-Boot (2023.01) that the lab relies on, all
// checked by this package's tests: autoboot waits 2 s at "Hit any key to
// stop autoboot"; its distro boot scans qfw, usb0, scsi0, virtio0, … and on
// virtio 0:1 runs /boot.scr (a legacy uImage of type script); the console
// line buffer holds 511 characters; typed input is never dropped, because
// QEMU's PL011 stops reading the pipe while its receive FIFO is full.
package lab
