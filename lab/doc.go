// Package lab is snp-go's QEMU lab: it builds boot disks without root, starts
// real U-Boot (Debian's u-boot-qemu) in qemu-system-aarch64, and drives the
// serial console from Go tests.
//
// A test that boots an EFI application and waits for its banner:
//
//	img := filepath.Join(t.TempDir(), "disk.img")
//	if err := lab.BuildDisk(img, lab.EFIDisk("../snp-go.efi", false)); err != nil {
//		t.Fatal(err)
//	}
//	m := lab.Start(t, lab.Config{Disks: []string{img}, Snapshot: true}) // skips if the lab is missing
//	if _, err := m.StopAutoboot(15 * time.Second); err != nil {
//		t.Fatal(err)
//	}
//	loaded, err := m.Bootefi("0:1", "snp-go.efi", 10*time.Second)
//	if err != nil {
//		t.Fatal(err)
//	}
//	b, err := m.Expect(regexp.MustCompile(`snp-go (\S+)\r*\n`), 20*time.Second)
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Logf("version %s, bootefi to banner %v", b.Groups[1], b.At.Sub(loaded.At))
//	if _, err := m.WaitPrompt(20 * time.Second); err != nil { // the app returned
//		t.Fatal(err)
//	}
//
// Start kills QEMU when the test ends (and the kernel kills it if the test
// binary dies), writes the whole transcript to a log file ($SNP_LAB_LOGDIR
// keeps it) and prints its tail when the test failed. Match.At is when the
// matched text arrived, not when Expect was called. Text an EFI application
// prints with "\r\n" arrives as "\r\r\n": U-Boot's serial driver adds a CR
// before every LF.
//
// The lab is host-only: it runs external programs (qemu-system-aarch64,
// sgdisk, mkfs.vfat, mtools) and is never linked into the EFI application.
// Check and SkipIfMissing name whatever of those is not installed.
//
// Facts about the Debian U-Boot (2023.01) that the lab relies on: autoboot
// counts down 2 s at "Hit any key to stop autoboot"; its distro boot scans
// qfw, usb0, scsi0, virtio0, nvme0, dhcp and on virtio 0:1 runs /boot.scr (a
// legacy uImage of type script; TestQEMUAutoboot); the console line buffer
// holds 511 characters (Run refuses longer lines); typed input is not
// dropped, because QEMU's PL011 stops reading the pipe while its receive FIFO
// is full (TestQEMUUBoot types 450 characters in one write) — but bootefi
// discards input typed before its EFI console starts.
package lab
