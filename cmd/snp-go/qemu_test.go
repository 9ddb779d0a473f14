package main

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/snp-go/snp-go/lab"
	"github.com/snp-go/snp-go/lab/firmware"
)

// boot starts the lab with snp-go.efi on its disk and stops at U-Boot's prompt.
func boot(t testing.TB, efi string, cfg lab.Config) *lab.Machine {
	t.Helper()
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := lab.BuildDisk(img, lab.EFIDisk(efi, false)); err != nil {
		t.Fatal(err)
	}
	cfg.Disks = []string{img}
	cfg.Snapshot = true
	m := lab.Start(t, cfg)
	if _, err := m.StopAutoboot(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	return m
}

// exitShell waits for the snp-go shell and leaves it with `exit`.
func exitShell(m *lab.Machine) error {
	if _, err := m.Expect("snp-go> ", 90*time.Second); err != nil {
		return err
	}
	if err := m.Send("exit\r"); err != nil {
		return err
	}
	_, err := m.Expect("snp-go: returning to firmware", 30*time.Second)
	return err
}

var bannerRE = regexp.MustCompile(`snp-go (\S+) \(go[^\n]*\n[^\n]*firmware: (Das U-Boot) rev (0x[0-9a-f]+), UEFI (\d+\.\d+), running at EL(\d)\r*\n[^\n]*memory: +(\d+) MiB runtime pool`)

// TestQEMUBanner boots snp-go.efi five times in one U-Boot session: each run
// prints the banner, returns, and leaves a working prompt. It reports the
// time from bootefi to the banner.
func TestQEMUBanner(t *testing.T) {
	lab.SkipIfMissing(t)
	efi := lab.NeedEFI(t, lab.EFIBuild{})
	m := boot(t, efi, lab.Config{})
	var times []time.Duration
	for run := 1; run <= 5; run++ {
		loaded, err := m.Bootefi("0:1", "snp-go.efi", 20*time.Second)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		b, err := m.Expect(bannerRE, 60*time.Second)
		if err != nil {
			t.Fatalf("run %d: no banner: %v", run, err)
		}
		if el := b.Groups[5]; el != "1" && el != "2" {
			t.Errorf("run %d: banner says EL%s; want EL1 or EL2", run, el)
		}
		if mib, _ := strconv.Atoi(b.Groups[6]); mib < 64 {
			t.Errorf("run %d: runtime pool %d MiB; want >= 64", run, mib)
		}
		if _, err := m.Expect("random:   EFI_RNG_PROTOCOL", 10*time.Second); err != nil {
			t.Errorf("run %d: RNG not used with virtio-rng attached: %v", run, err)
		}
		// Without EMBED the default script runs iPXE's autoboot; slirp's
		// DHCP offers no filename or root-path, so it ends in the shell.
		if err := exitShell(m); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if _, err := m.WaitPrompt(20 * time.Second); err != nil {
			t.Fatalf("run %d: no U-Boot prompt after snp-go returned: %v", run, err)
		}
		times = append(times, b.At.Sub(loaded.At))
	}
	// The prompt works: a U-Boot command after the runs.
	if out, err := m.Run("version", 10*time.Second); err != nil || !regexp.MustCompile(`U-Boot 20\d\d`).MatchString(out) {
		t.Fatalf("U-Boot after snp-go: version = %q, %v", out, err)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	t.Logf("bootefi (load done) to banner: %v (median of %d: %v)", times[len(times)/2], len(times), times)
}

// TestQEMUNoRNG: without virtio-rng snp-go says loudly that it is not secure.
func TestQEMUNoRNG(t *testing.T) {
	lab.SkipIfMissing(t)
	efi := lab.NeedEFI(t, lab.EFIBuild{})
	m := boot(t, efi, lab.Config{NoRNG: true})
	if _, err := m.Bootefi("0:1", "snp-go.efi", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Expect(regexp.MustCompile(`WARNING: no usable EFI_RNG_PROTOCOL \(EFI_NOT_FOUND.*NOT secure`), 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := exitShell(m); err != nil {
		t.Fatal(err)
	}
	if _, err := m.WaitPrompt(30 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// callbackCost is the line of snp-go's callbacks self-test: what a firmware
// call, one with a Go callback, and the callback's round trip cost; it is
// printed only when nested callbacks ran at the right depths.
var callbackCost = regexp.MustCompile(`callbacks: firmware call (\S+), firmware call \+ Go callback (\S+): callback round trip (\S+) \(n=\d+\); nesting ok`)

// BenchmarkQEMUCallbacks reports the callbacks self-test's figures on the
// default firmware, one boot per iteration: ns per firmware call, per
// firmware call with a Go callback, and per callback round trip.
func BenchmarkQEMUCallbacks(b *testing.B) {
	lab.SkipIfMissing(b)
	efi := lab.NeedEFI(b, lab.EFIBuild{})
	fw := firmware.All(b)[0]
	var sums [3]float64
	for range b.N {
		m, _ := lab.StartEFI(b, lab.Config{Firmware: fw}, efi, "--selftest=callbacks")
		cb, err := m.Expect(callbackCost, 60*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		for i := range sums {
			d, err := time.ParseDuration(cb.Groups[i+1])
			if err != nil {
				b.Fatalf("callbacks line %q: %v", cb.Text, err)
			}
			sums[i] += float64(d.Nanoseconds())
		}
		m.Close()
	}
	for i, unit := range []string{"ns/fwcall", "ns/fwcall+cb", "ns/cb-roundtrip"} {
		b.ReportMetric(sums[i]/float64(b.N), unit)
	}
}

// TestQEMUSelftests runs the platform self-tests in the lab: the callback
// mechanism (cost and nesting) and the memory disk that U-Boot's block and
// FAT drivers read through Go Block IO callbacks, read back through U-Boot's
// Simple File System.
func TestQEMUSelftests(t *testing.T) {
	lab.SkipIfMissing(t)
	efi := lab.NeedEFI(t, lab.EFIBuild{})
	for _, fw := range firmware.All(t) {
		t.Run(fw.Name, func(t *testing.T) {
			m, _ := lab.StartEFI(t, lab.Config{Firmware: fw}, efi, "--selftest=callbacks,memdisk")
			cb, err := m.Expect(callbackCost, 60*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			// A console that cannot show µ (EDK2's terminal) gets "us",
			// not "?s" (efi.conPutRune).
			if strings.Contains(cb.Text, "?") {
				t.Errorf("callbacks line %q has a '?' for a character the console cannot show", cb.Text)
			}
			if _, err := m.Expect("selftest callbacks: PASS", 10*time.Second); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{
				`memdisk: connected in \S+: \d+ reads`,
				`memdisk: file system at VenHw\([0-9A-F-]+,[0-9A-F]+\)/HD\(1,GPT,`,
				`memdisk: SNPGO.TXT: hello from a Go Block IO disk`,
				`memdisk: PAYLOAD.BIN \d+ bytes ok`,
				`selftest memdisk: PASS`,
				`staying resident`,
			} {
				mt, err := m.Expect(regexp.MustCompile(want), 60*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				t.Log(mt.Text)
			}
		})
	}
}

// TestQEMUEmbed: make EMBED=file puts the script into the image.
func TestQEMUEmbed(t *testing.T) {
	lab.SkipIfMissing(t)
	script := filepath.Join(t.TempDir(), "embed.ipxe")
	os.WriteFile(script, []byte("#!ipxe\necho embedded-marker-4711\n"), 0o644)
	efi := lab.NeedEFI(t, lab.EFIBuild{Embed: script})
	m := boot(t, efi, lab.Config{})
	if _, err := m.Bootefi("0:1", "snp-go.efi", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Expect("embedded-marker-4711", 60*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestQEMUEDK2Rerun: under EDK2, snp-go returns to the UEFI Shell with the
// firmware as it found it (runtime pool freed, the NIC given back to EDK2's
// network stack), so a second run in the same firmware session takes the
// NIC again and uses it.
func TestQEMUEDK2Rerun(t *testing.T) {
	lab.SkipIfMissing(t)
	efi := lab.NeedEFI(t, lab.EFIBuild{})
	m, _ := lab.StartEFI(t, lab.Config{Firmware: lab.EDK2}, efi, "--selftest=net --ping 10.0.2.2")
	for run := 1; run <= 2; run++ {
		if _, err := m.Expect(regexp.MustCompile(`net0: 52:54:00:12:34:56 \S+ \(MTU 1500, exclusive\)`), 60*time.Second); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if _, err := m.Expect(regexp.MustCompile(`ping: 10\.0\.2\.2: [1-3]/3 replies`), 60*time.Second); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if _, err := m.Expect("selftest net: PASS", 10*time.Second); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if err := m.WaitFirmware(lab.EDK2, true, 30*time.Second); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if run == 1 {
			m.Send(`fs0:\snp-go.efi --selftest=net --ping 10.0.2.2` + "\r")
		}
	}
}

// TestQEMUStrictNX: Debian 13's EDK2 with strict NX (every data region
// non-executable, images with writable+executable sections refused) starts
// snp-go.efi, whose shell runs a command and returns to the firmware.
func TestQEMUStrictNX(t *testing.T) {
	lab.SkipIfMissing(t)
	fw, err := firmware.EDK22025StrictNX()
	if err != nil {
		t.Skipf("SKIP: %v", err)
	}
	efi := lab.NeedEFI(t, lab.EFIBuild{})
	m, _ := lab.StartEFI(t, lab.Config{Firmware: fw}, efi, "")
	if _, err := m.Expect("Press Ctrl-B for the snp-go command line", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	m.Send("\x02")
	if _, err := m.Expect("snp-go> ", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	m.Send("echo strict-nx-${buildarch}\r")
	if _, err := m.Expect("strict-nx-arm64", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := exitShell(m); err != nil {
		t.Fatal(err)
	}
	if err := m.WaitFirmware(fw, false, 60*time.Second); err != nil {
		t.Fatal(err)
	}
}
