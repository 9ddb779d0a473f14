package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// helloEFI assembles testdata/hello.S into an arm64 PE32+ EFI application
// with Debian's binutils-aarch64-linux-gnu, or skips.
func helloEFI(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"aarch64-linux-gnu-as", "aarch64-linux-gnu-ld", "aarch64-linux-gnu-objcopy"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIP: %s not installed (Debian binutils-aarch64-linux-gnu); needed to build the test EFI app", tool)
		}
	}
	dir := t.TempDir()
	obj, elf, efi := filepath.Join(dir, "hello.o"), filepath.Join(dir, "hello.elf"), filepath.Join(dir, "hello.efi")
	for _, c := range [][]string{
		{"aarch64-linux-gnu-as", "-o", obj, "testdata/hello.S"},
		{"aarch64-linux-gnu-ld", "-e", "_start", "-Ttext", "0x1000", "-o", elf, obj},
		{"aarch64-linux-gnu-objcopy", "-O", "efi-app-aarch64", "--subsystem=efi-app", elf, efi},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	return efi
}

func buildDisk(t *testing.T, d Disk) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := BuildDisk(img, d); err != nil {
		t.Fatal(err)
	}
	return img
}

// helloBanner is hello.S's "LAB-EFI-OK\r\n": U-Boot's serial driver adds a
// CR before each LF, so EFI text arrives with "\r\r\n".
var helloBanner = regexp.MustCompile(`LAB-EFI-OK\r*\n`)

// TestQEMUUBoot proves the lab without any EFI application: U-Boot 2023.01
// comes up, autoboot stops, the virtio disk's FAT partition shows the file
// put there, and a long line typed in one burst arrives intact.
func TestQEMUUBoot(t *testing.T) {
	SkipIfMissing(t)
	marker := "lab-marker-" + strings.Repeat("x", 8) + ".txt"
	img := buildDisk(t, Disk{Files: map[string]File{"/" + marker: Bytes([]byte("hello\n"))}})
	m := Start(t, Config{Disks: []string{img}, Snapshot: true})

	p, err := m.StopAutoboot(15 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("U-Boot prompt %.2fs after QEMU started (key pressed as soon as the countdown showed)", p.At.Sub(m.Started()).Seconds())

	out, err := m.Run("version", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "U-Boot 2023.01") {
		t.Errorf("version printed %q; want U-Boot 2023.01", out)
	}
	out, err = m.Run("virtio scan; ls virtio 0:1", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^\s+6\s+` + regexp.QuoteMeta(marker) + `$`).MatchString(out) {
		t.Errorf("ls virtio 0:1 printed %q; want %s with size 6", out, marker)
	}
	long := strings.Repeat("0123456789", 45) // 450 characters in one write
	out, err = m.Run("echo "+long, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if out != long+"\n" {
		t.Errorf("echo of a 450-character burst printed %d characters; want %d (input dropped?)", len(out), len(long)+1)
	}
}

// TestQEMUBootefi boots an EFI application with Bootefi twice in one U-Boot
// session and reports the time from load to banner, with and without the
// console answering U-Boot's cursor position query.
func TestQEMUBootefi(t *testing.T) {
	SkipIfMissing(t)
	efi := helloEFI(t)
	img := buildDisk(t, EFIDisk(efi, false))
	for _, tc := range []struct {
		name    string
		noReply bool
	}{{"cursor-reply", false}, {"no-cursor-reply", true}} {
		t.Run(tc.name, func(t *testing.T) {
			m := StartWith(t, Config{Disks: []string{img}, Snapshot: true}, Options{NoCursorReply: tc.noReply})
			if _, err := m.StopAutoboot(15 * time.Second); err != nil {
				t.Fatal(err)
			}
			for run := 1; run <= 2; run++ {
				loaded, err := m.Bootefi("0:1", "snp-go.efi", 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				b, err := m.Expect(helloBanner, 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("run %d: load done to banner %.0f ms", run, b.At.Sub(loaded.At).Seconds()*1000)
				if _, err := m.WaitPrompt(10 * time.Second); err != nil {
					t.Fatalf("run %d: no prompt after the application returned: %v", run, err)
				}
			}
			if _, err := m.Bootefi("0:1", "missing.efi", 10*time.Second); err == nil || !strings.Contains(err.Error(), "missing.efi") {
				t.Errorf("Bootefi(missing.efi) = %v; want an error naming the file", err)
			}
		})
	}
}

// TestQEMUAutoboot checks that the Debian U-Boot's distro boot finds the
// lab's /boot.scr on virtio 0:1 and starts /snp-go.efi with no key pressed:
// what `make qemu` relies on.
func TestQEMUAutoboot(t *testing.T) {
	SkipIfMissing(t)
	efi := helloEFI(t)
	m := Start(t, Config{Disks: []string{buildDisk(t, EFIDisk(efi, true))}, Snapshot: true})
	if _, err := m.Expect("Found U-Boot script "+BootScriptPath, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	b, err := m.Expect(helloBanner, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("autoboot banner %.2fs after QEMU started", b.At.Sub(m.Started()).Seconds())
	// boot.scr ends distro boot: the prompt follows, with no DHCP or
	// removable-media boot in between.
	p, err := m.WaitPrompt(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, unwanted := range []string{"BOOTP", "bootaa64.efi", "EFI boot manager"} {
		if strings.Contains(p.Before, unwanted) {
			t.Errorf("after snp-go returned U-Boot went on booting (%q):\n%s", unwanted, printable(p.Before))
		}
	}
	if out, err := m.Run("echo alive", 5*time.Second); err != nil || out != "alive\n" {
		t.Errorf("prompt after autoboot: Run(echo alive) = %q, %v; want \"alive\\n\"", out, err)
	}
	t.Logf("prompt back %.2fs after the banner", p.At.Sub(b.At).Seconds())
}

func TestConfigArgs(t *testing.T) {
	if _, err := os.Stat(UBootPath); err != nil {
		t.Skipf("SKIP: %s missing (Debian u-boot-qemu)", UBootPath)
	}
	dir := t.TempDir()
	disk := filepath.Join(dir, "a,b.img")
	if err := os.WriteFile(disk, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		cfg     Config
		console bool
		want    []string // must appear, in this order
		absent  []string
	}{
		{"defaults", Config{}, true,
			[]string{"-M virt", "-cpu cortex-a57", "-m 1024", "-nographic", "-bios " + UBootPath, "-monitor none",
				"-netdev user,id=n0", "-device virtio-net-pci,netdev=n0,romfile=", "-device virtio-rng-pci"},
			[]string{"-drive"}},
		{"interactive", Config{}, false, []string{"-nographic"}, []string{"-monitor"}},
		{"network and disk", Config{
			MemoryMiB: 512, NoRNG: true, TFTP: dir, BootFile: "x.ipxe",
			HostFwd: []string{"tcp:127.0.0.1:8022-:22"}, NetOptions: []string{"dns=10.0.2.3"},
			Disks: []string{disk, disk}, Snapshot: true, ExtraArgs: []string{"-smp", "2"},
		}, true,
			[]string{"-m 512", "-netdev user,id=n0,tftp=" + dir + ",bootfile=x.ipxe,hostfwd=tcp:127.0.0.1:8022-:22,dns=10.0.2.3",
				"-drive if=none,id=d0,format=raw,file=" + strings.ReplaceAll(disk, ",", ",,") + ",snapshot=on -device virtio-blk-pci,drive=d0",
				"-drive if=none,id=d1,", "-smp 2"},
			[]string{"virtio-rng"}},
		{"no net", Config{NoNet: true}, true, []string{"-nic none", "-device virtio-rng-pci"}, []string{"-netdev", "virtio-net"}},
		{"edk2", Config{Firmware: Firmware{Name: "edk2", Code: disk, Vars: disk}}, true,
			[]string{"-drive if=pflash,format=raw,readonly=on,file=" + strings.ReplaceAll(disk, ",", ",,"),
				"-drive if=pflash,format=raw,snapshot=on,file=" + strings.ReplaceAll(disk, ",", ",,"), "-netdev user"},
			[]string{"-bios"}},
		{"tap", Config{Tap: "tap0", NetNS: "lan"}, true, []string{"-netdev tap,id=n0,ifname=tap0,script=no,downscript=no", "-device virtio-net-pci,netdev=n0,romfile="}, []string{"user,", "netns"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args, err := tc.cfg.Args(tc.console)
			if err != nil {
				t.Fatal(err)
			}
			line := strings.Join(args, " ")
			rest := line
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("Args = %q; want %q (in order)", line, w)
				}
				rest = rest[i+len(w):]
			}
			for _, a := range tc.absent {
				if strings.Contains(line, a) {
					t.Errorf("Args = %q; want no %q", line, a)
				}
			}
		})
	}
	// NetNS: QEMU runs through `ip netns exec NS`.
	if _, err := exec.LookPath("qemu-system-aarch64"); err == nil {
		cmd, err := Config{Tap: "tap0", NetNS: "lan"}.Command(true)
		if err != nil {
			t.Fatal(err)
		}
		if a := cmd.Args; len(a) < 5 || filepath.Base(a[0]) != "ip" || strings.Join(a[1:4], " ") != "netns exec lan" || filepath.Base(a[4]) != "qemu-system-aarch64" {
			t.Errorf("Command with NetNS: %q; want ip netns exec lan qemu-system-aarch64 ...", a)
		}
	}
	for _, bad := range []Config{{Disks: []string{filepath.Join(dir, "none.img")}}, {TFTP: filepath.Join(dir, "nodir")}, {NetOptions: []string{"restrict"}},
		{Firmware: Firmware{BIOS: "/nonexistent/u-boot.bin"}}, {Firmware: Firmware{Code: disk, Vars: "/nonexistent/vars.fd"}}, {Tap: "tap0", TFTP: dir}} {
		if _, err := bad.Args(true); err == nil {
			t.Errorf("Args(%+v) = nil error; want one", bad)
		}
	}
}

// TestQEMUMaxRuntime checks the lab's guarantee that a hung test cannot
// leave QEMU running: MaxRuntime kills it and a waiting Expect says why.
func TestQEMUMaxRuntime(t *testing.T) {
	SkipIfMissing(t)
	m := StartWith(t, Config{NoNet: true}, Options{MaxRuntime: time.Second})
	start := time.Now()
	_, err := m.Expect("never printed", 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "MaxRuntime") || !strings.Contains(err.Error(), "output ended") {
		t.Errorf("Expect while QEMU is killed = %v; want an 'output ended' error naming MaxRuntime", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("QEMU killed after %v; want about 1s", el)
	}
	select {
	case <-m.Exited():
	case <-time.After(5 * time.Second):
		t.Error("Exited() not closed 5 s after the kill")
	}
	if err := m.Send("x"); err == nil {
		t.Error("Send after QEMU exited = nil error; want a write error")
	}
}
