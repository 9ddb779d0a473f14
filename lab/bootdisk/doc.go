// Package bootdisk builds the lab's Linux boot disk without root, the
// fixture of the SAN boot test: a GPT image with one FAT32 EFI System
// Partition that holds Grub as \EFI\BOOT\BOOTAA64.EFI (grub-mkimage from
// Debian's grub-efi-arm64-bin), its grub.cfg, a Debian arm64 kernel and an
// initrd whose /init (internal/initmarker, a static Go program) prints
// LinuxMarker and powers the machine off. grub.cfg prints markers and the
// SHA-256 of random files on the ESP, so a test checks that every byte
// Grub read arrived intact and can time Grub's reads.
//
//	img := bootdisk.Need(t, bootdisk.Options{})  // skips if packages/tools are missing
//	m := lab.Start(t, lab.Config{Disks: []string{img.Path}, Snapshot: true})
//	... bootefi Grub from the disk (or from a SAN LUN serving img.Path) ...
//	g, err := img.ExpectGrub(m.Console, time.Minute) // markers, hashes checked
//	l, err := img.ExpectLinux(m.Console, time.Minute) // kernel release and nonce checked
//
// The Debian packages are downloaded with apt-get on a private arm64
// package list, never installed, and kept in lab/cache/arm64 (git-ignored)
// for later runs and other processes (Fetch). The pieces are exposed for
// other tests: Fetch (Grub modules, kernel), GrubEFI, InitBinary, Initrd,
// CPIO.
//
// Host-only: it runs apt-get, dpkg-deb, grub-mkimage, go build and the
// lab's disk tools, and is never linked into the EFI application.
package bootdisk
