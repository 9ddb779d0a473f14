package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/snp-go/snp-go/lab"
	"github.com/snp-go/snp-go/lab/bootdisk"
	"github.com/snp-go/snp-go/lab/firmware"
	"github.com/snp-go/snp-go/lab/tgt"
)

const (
	sanIQN       = "iqn.2026-11.dev.snp-go:boot"
	sanUser      = "initiator"
	sanSecret    = "initiator-secret-1"
	sanRevUser   = "target"
	sanRevSecret = "target-secret-22"
)

// sanLab is the whole chain's fixture: a boot disk (Grub, Linux, initrd)
// served by tgtd with mutual CHAP, an HTTPS server with the boot script,
// and snp-go built with the test CA and an embedded script that chains it.
type sanLab struct {
	img  *bootdisk.Image
	tgt  *tgt.Daemon
	efi  string
	port int
}

func newSANLab(t *testing.T, opt bootdisk.Options, reverseSecret string) *sanLab {
	t.Helper()
	lab.SkipIfMissing(t)
	img := bootdisk.Need(t, opt)
	d := tgt.StartT(t, tgt.Options{})
	if _, err := d.AddTarget(tgt.Target{
		IQN:      sanIQN,
		LUNs:     []tgt.LUN{{Path: img.Path}},
		Incoming: &tgt.Account{User: sanUser, Password: sanSecret},
		Outgoing: &tgt.Account{User: sanRevUser, Password: sanRevSecret},
	}); err != nil {
		t.Fatal(err)
	}
	pki := newPKI(t, "snp-go")
	boot := fmt.Sprintf("#!ipxe\nset username %s\nset password %s\nset reverse-username %s\nset reverse-password %s\nsanboot %s || goto failed\nexit\n:failed\necho SANBOOT-FAILED errno=${errno}\n",
		sanUser, sanSecret, sanRevUser, reverseSecret, d.RootPath("10.0.2.2", sanIQN, 1))
	port := serveHTTPS(t, pki, map[string][]byte{"/boot.ipxe": []byte(boot)})
	embed := writeFile(t, "embed.ipxe", []byte(fmt.Sprintf("#!ipxe\ndhcp\nchain https://10.0.2.2:%d/boot.ipxe\n", port)))
	efi := lab.NeedEFI(t, lab.EFIBuild{Embed: embed, Trust: []string{writeFile(t, "ca.pem", pki.caPEM)}})
	return &sanLab{img: img, tgt: d, efi: efi, port: port}
}

// run boots snp-go in a fresh lab on the default firmware (U-Boot 2023.01)
// and returns the machine and when the firmware started snp-go.
func (s *sanLab) run(t *testing.T) (*lab.Machine, lab.Match) {
	t.Helper()
	return s.runOn(t, lab.UBoot)
}

// runOn is run on firmware fw.
func (s *sanLab) runOn(t *testing.T, fw lab.Firmware) (*lab.Machine, lab.Match) {
	t.Helper()
	return lab.StartEFI(t, lab.Config{Firmware: fw}, s.efi, "")
}

// bootToLinux waits for the chain after the firmware started snp-go:
// mutual CHAP, the SAN disk, Grub, Linux's marker.
func (s *sanLab) bootToLinux(t *testing.T, m *lab.Machine) *bootdisk.Linux {
	t.Helper()
	if _, err := m.Expect(regexp.MustCompile(`CHAP \(\S+, mutual\) accepted`), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Expect("Booting from SAN device 0x80: ", 90*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := s.img.ExpectGrub(m.Console, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	l, err := s.img.ExpectLinux(m.Console, 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestQEMUSANBoot is the mission's whole chain: U-Boot runs snp-go; snp-go
// does DHCP, fetches its script over HTTPS, logs in to iSCSI with mutual
// CHAP, installs the LUN as Block IO and connects it; snp-go starts Grub
// from the disk; Grub checks a file's SHA-256 and loads Linux through the
// same Block IO; Linux's /init prints its marker.
//
// It runs once on each firmware build of the matrix (firmware.All: U-Boot
// 2023.01, U-Boot 2025.01, EDK2). How long it takes is BenchmarkQEMUSAN's
// business (`make bench`).
func TestQEMUSANBoot(t *testing.T) {
	s := newSANLab(t, bootdisk.Options{}, sanRevSecret)
	for _, fw := range firmware.All(t) {
		t.Run(fw.Name, func(t *testing.T) {
			m, _ := s.runOn(t, fw)
			s.bootToLinux(t, m) // the marker carries the kernel release and nonce it must
			m.Close()
		})
	}
}

// TestQEMUSANWrongReverseSecret: a target that cannot prove the reverse
// secret is refused, snp-go says so, and the script's || path runs.
// On each firmware build of the matrix.
func TestQEMUSANWrongReverseSecret(t *testing.T) {
	s := newSANLab(t, bootdisk.Options{}, "not-the-target-secret")
	for _, fw := range firmware.All(t) {
		t.Run(fw.Name, func(t *testing.T) {
			m, _ := s.runOn(t, fw)
			e, err := m.Expect(regexp.MustCompile(`Could not open SAN device[^\r\n]*\r*\n`), 120*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("refusal: %s", e.Text)
			if !regexp.MustCompile(`(?i)target.*(authenticat|CHAP)|mutual`).MatchString(e.Text) {
				t.Errorf("refusal does not say the target failed to authenticate: %q", e.Text)
			}
			if _, err := m.Expect("SANBOOT-FAILED errno=0x", 30*time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestQEMUSANIdleDrop: while Grub waits at its menu nobody reads the disk;
// the target drops the session then. The next read (Grub loading Linux)
// must log in again transparently.
func TestQEMUSANIdleDrop(t *testing.T) {
	s := newSANLab(t, bootdisk.Options{Timeout: 8}, sanRevSecret)
	m, _ := s.run(t)
	g, err := s.img.ExpectGrub(m.Console, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_ = g
	tids, err := s.tgt.TIDs()
	if err != nil || len(tids) == 0 {
		t.Fatalf("target ids: %v, %v", tids, err)
	}
	n, err := s.tgt.DropConns(tids[0])
	if err != nil || n == 0 {
		t.Fatalf("DropConns = %d, %v; want the session dropped", n, err)
	}
	t.Logf("dropped %d connection(s) while Grub waits at its menu", n)
	if _, err := s.img.ExpectLinux(m.Console, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(m.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	// After Grub's menu marker: the initiator noticed the dropped session
	// and logged in again (whatever the exact reason it prints).
	after := log
	if i := strings.LastIndex(string(log), bootdisk.MarkerMenu); i >= 0 {
		after = log[i:]
	}
	// The initiator may say why (a failed command: "...; reconnecting")
	// or notice the closed connection first and just log in again.
	re := regexp.MustCompile(`logged in to [^\r\n]*`)
	if r := re.Find(after); r == nil {
		t.Errorf("no transparent re-login in the transcript after the drop; after the menu: %q", regexp.MustCompile(`(?m)^.*(iscsi|SAN).*$`).FindAll(after, 20))
	} else {
		t.Logf("after the drop: %s", r)
	}
}

// TestQEMUSANBigRead: Grub reads a 64 MiB file through snp-go's Block IO
// over iSCSI, as an initrd and again through hashsum, whose SHA-256 must
// match (ExpectLinux checks it). The read's MB/s is BenchmarkQEMUSAN's;
// BenchmarkLocalGrubRead in lab/bootdisk is the same read from local
// virtio-blk.
func TestQEMUSANBigRead(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB read; skipped with -short")
	}
	s := newSANLab(t, bootdisk.Options{BigSize: 64 << 20}, sanRevSecret)
	m, _ := s.run(t)
	if _, err := s.img.ExpectGrub(m.Console, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.img.ExpectLinux(m.Console, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
}
