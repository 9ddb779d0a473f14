package bootdisk

import (
	"fmt"
	"regexp"
	"time"

	"github.com/snp-go/snp-go/lab"
)

// Grub is what Grub printed on its way from BOOTAA64.EFI to its menu (or,
// without a menu, to loading the kernel).
type Grub struct {
	Early lab.Match // MarkerGrubEarly: Groups[1] is $root, Groups[2] $prefix
	Cfg   lab.Match // MarkerGrubCfg: grub.cfg from the ESP started
	Menu  lab.Match // MarkerMenu, with Options.Timeout: the menu is next
}

// Linux is the kernel's side of the boot.
type Linux struct {
	Entry   lab.Match // MarkerGrubLinux: the menu entry started
	Loaded  lab.Match // MarkerGrubBoot: Grub has read kernel and initrd
	Marker  lab.Match // the /init marker line
	Release string    // uname -r in the guest
	// KernelRead is how long Grub took to load the kernel (from
	// MarkerGrubLinux to MarkerKernel).
	KernelRead time.Duration

	// With Options.BigSize: BigRead is how long Grub took to read BigPath
	// as an initrd, BigMBps that as MB/s (10^6 bytes per second), and
	// BigHash how long hashsum took to read and hash it again (its digest
	// is checked).
	BigRead time.Duration
	BigMBps float64
	BigHash time.Duration
}

var (
	earlyRE = regexp.MustCompile(MarkerGrubEarly + ` root=(\S*) prefix=(\S*)\r*\n`)
	// hashsum prints "<hex digest>  <file name>" (grub-core/commands/hashsum.c).
	hashRE      = regexp.MustCompile(`([0-9a-f]{64})  (\S+)\r*\n`)
	linuxRE     = regexp.MustCompile(LinuxMarker + ` (\S+) (\S*)\r*\n`)
	grubErrRE   = regexp.MustCompile(`error: [^\r\n]*`)
	grubShellRE = regexp.MustCompile(`(?m)^grub(?: rescue)?> `)
	panicRE     = regexp.MustCompile(`Kernel panic[^\r\n]*`)
)

// expect waits for want, but fails at once on the signs of a broken boot:
// a Grub error message, Grub's shell prompt (it found no grub.cfg), a
// kernel panic, or /init failing to power off.
func expect(c *lab.Console, want any, what string, timeout time.Duration) (lab.Match, error) {
	i, m, err := c.ExpectAny(timeout, want, grubErrRE, grubShellRE, panicRE, LinuxPowerOffFail)
	if err != nil {
		return m, fmt.Errorf("bootdisk: waiting %v for %s: %w", timeout, what, err)
	}
	switch i {
	case 0:
		return m, nil
	case 1:
		return m, fmt.Errorf("bootdisk: Grub said %q while %s was expected", m.Text, what)
	case 2:
		return m, fmt.Errorf("bootdisk: Grub dropped to its shell (no usable grub.cfg?) while %s was expected", what)
	case 3:
		return m, fmt.Errorf("bootdisk: %q while %s was expected", m.Text, what)
	default:
		return m, fmt.Errorf("bootdisk: /init could not power off while %s was expected", what)
	}
}

// expectHash waits for Grub's digest of file and compares it with want.
func expectHash(c *lab.Console, file, want string, timeout time.Duration) (lab.Match, error) {
	m, err := expect(c, hashRE, "the SHA-256 of "+file, timeout)
	if err != nil {
		return m, err
	}
	if m.Groups[2] != file || m.Groups[1] != want {
		return m, fmt.Errorf("bootdisk: Grub's hashsum printed %s %s; want %s %s (data read from the disk is corrupt)", m.Groups[1], m.Groups[2], want, file)
	}
	return m, nil
}

// ExpectGrub follows Grub from its start until it goes on to Linux or, with
// a menu timeout, until MarkerMenu: it checks that Grub read grub.cfg and
// that the SHA-256 digests it printed match the files on the disk. Each
// step may take up to step.
func (img *Image) ExpectGrub(c *lab.Console, step time.Duration) (*Grub, error) {
	var g Grub
	var err error
	if g.Early, err = expect(c, earlyRE, "Grub's early.cfg marker", step); err != nil {
		return nil, err
	}
	if g.Cfg, err = expect(c, MarkerGrubCfg, "the grub.cfg marker", step); err != nil {
		return nil, err
	}
	if _, err = expect(c, MarkerHashBegin, MarkerHashBegin, step); err != nil {
		return nil, err
	}
	if _, err = expectHash(c, RandomPath, img.RandomSHA256, step); err != nil {
		return nil, err
	}
	if _, err = expect(c, MarkerHashEnd, MarkerHashEnd, step); err != nil {
		return nil, err
	}
	if img.Timeout > 0 {
		if g.Menu, err = expect(c, MarkerMenu, MarkerMenu, step); err != nil {
			return nil, err
		}
	}
	return &g, nil
}

// ExpectLinux follows the boot from Grub's menu entry to the initrd's
// marker line, checking that the kernel release is the packaged one and
// that the kernel command line came from this disk's grub.cfg (the nonce).
func (img *Image) ExpectLinux(c *lab.Console, step time.Duration) (*Linux, error) {
	var l Linux
	var err error
	if l.Entry, err = expect(c, MarkerGrubLinux, MarkerGrubLinux, step); err != nil {
		return nil, err
	}
	kernel, err := expect(c, MarkerKernel, MarkerKernel+" (kernel loaded)", step)
	if err != nil {
		return nil, err
	}
	l.KernelRead = kernel.At.Sub(l.Entry.At)
	if img.BigSHA256 != "" {
		if err := img.expectBig(c, &l, step); err != nil {
			return nil, err
		}
	}
	if l.Loaded, err = expect(c, MarkerGrubBoot, MarkerGrubBoot+" (kernel and initrd loaded)", step); err != nil {
		return nil, err
	}
	if l.Marker, err = expect(c, linuxRE, "the Linux marker "+LinuxMarker, step); err != nil {
		return nil, err
	}
	l.Release = l.Marker.Groups[1]
	if l.Release != img.Packages.KernelRelease || l.Marker.Groups[2] != img.Nonce {
		return nil, fmt.Errorf("bootdisk: Linux marker says release %q nonce %q; want %q %q", l.Release, l.Marker.Groups[2], img.Packages.KernelRelease, img.Nonce)
	}
	return &l, nil
}

// expectBig follows Grub reading BigPath as an initrd and then hashing it.
func (img *Image) expectBig(c *lab.Console, l *Linux, step time.Duration) error {
	var m [4]lab.Match
	for i, marker := range []string{MarkerReadBegin, MarkerReadEnd, MarkerBigBegin} {
		var err error
		if m[i], err = expect(c, marker, marker, step); err != nil {
			return err
		}
	}
	if _, err := expectHash(c, BigPath, img.BigSHA256, step); err != nil {
		return err
	}
	var err error
	if m[3], err = expect(c, MarkerBigEnd, MarkerBigEnd, step); err != nil {
		return err
	}
	l.BigRead = m[1].At.Sub(m[0].At)
	l.BigMBps = float64(img.BigSize) / 1e6 / l.BigRead.Seconds()
	l.BigHash = m[3].At.Sub(m[2].At)
	return nil
}
