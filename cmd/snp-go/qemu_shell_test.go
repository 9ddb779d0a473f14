package main

import (
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/snp-go/snp-go/lab"
	"github.com/snp-go/snp-go/lab/firmware"
)

// TestQEMUShell drives snp-go's shell over U-Boot's serial console: Ctrl-B
// at the start-up prompt, commands and settings, line editing, history,
// Tab completion, Ctrl-C interrupting a sleep, and exit back to the
// firmware; on each firmware build of the matrix.
func TestQEMUShell(t *testing.T) {
	lab.SkipIfMissing(t)
	efi := lab.NeedEFI(t, lab.EFIBuild{})
	for _, fw := range firmware.All(t) {
		t.Run(fw.Name, func(t *testing.T) {
			m, _ := lab.StartEFI(t, lab.Config{Firmware: fw}, efi, "")
			if _, err := m.Expect("Press Ctrl-B for the snp-go command line", 60*time.Second); err != nil {
				t.Fatal(err)
			}
			m.Send("\x02") // Ctrl-B
			prompt := func() {
				t.Helper()
				if _, err := m.Expect("snp-go> ", 30*time.Second); err != nil {
					t.Fatal(err)
				}
			}
			run := func(keys string, want any) Match {
				t.Helper()
				prompt()
				if err := m.Send(keys); err != nil {
					t.Fatal(err)
				}
				mt, err := m.Expect(want, 30*time.Second)
				if err != nil {
					t.Fatalf("after typing %q: %v", keys, err)
				}
				return Match(mt)
			}
			run("set greeting hello-from-shell\r", "\n")
			run("echo ${greeting} ${buildarch}\r", "hello-from-shell arm64")
			// Line editing: type "echo wrold", fix it with Left and Backspace.
			run("echo wrld\x1b[D\x1b[D\x1b[Do\r", regexp.MustCompile(`\r\nworld\r*\n`))
			// History: Up recalls the previous line.
			run("\x1b[A\r", regexp.MustCompile(`\r\nworld\r*\n`))
			// Tab completion of a command name.
			run("isse\t greeting && echo set-yes\r", "set-yes")
			// Ctrl-C interrupts a running command and returns to the prompt.
			prompt()
			m.Send("sleep 60\r")
			time.Sleep(1500 * time.Millisecond)
			start := time.Now()
			m.Send("\x03")
			run("echo after-interrupt\r", "after-interrupt")
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("Ctrl-C took %v to end sleep 60", d)
			}
			// A failing command reports its error and ${errno}.
			run("nosuchcmd || echo errno=${errno}\r", regexp.MustCompile(`errno=0x[0-9a-f]+`))
			prompt()
			m.Send("exit\r")
			if _, err := m.Expect("snp-go: returning to firmware", 30*time.Second); err != nil {
				t.Fatal(err)
			}
			if err := m.WaitFirmware(fw, false, 60*time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Match is lab.Match, named here for brevity.
type Match = lab.Match

// TestQEMUScriptError: an embedded script that fails names the script,
// the line and the command; || consumes a failure.
func TestQEMUScriptError(t *testing.T) {
	lab.SkipIfMissing(t)
	script := writeFile(t, "err.ipxe", []byte("#!ipxe\necho start\nimgfetch nosuch://x || echo consumed-${errno}\nset a b\nchain tftp://10.0.2.2/none.ipxe\necho not-reached\n"))
	efi := lab.NeedEFI(t, lab.EFIBuild{Embed: script})
	m := boot(t, efi, lab.Config{})
	if _, err := m.Bootefi("0:1", "snp-go.efi", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Expect(regexp.MustCompile(`consumed-0x[0-9a-f]+`), 60*time.Second); err != nil {
		t.Fatal(err)
	}
	e, err := m.Expect(regexp.MustCompile(`(\S+):5: chain[^\r\n]*\r*\n`), 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("error line: %s", e.Text)
	if _, err := m.Expect("snp-go: returning to firmware", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile("not-reached").MatchString(m.Tail()) {
		t.Errorf("script went on after a failed command")
	}
}

// TestQEMUFileChain: `chain file:...` loads a script that sits beside
// snp-go.efi on the boot partition (relative and absolute forms).
func TestQEMUFileChain(t *testing.T) {
	lab.SkipIfMissing(t)
	script := writeFile(t, "embed.ipxe", []byte("#!ipxe\nchain file:scripts/one.ipxe\n"))
	efi := lab.NeedEFI(t, lab.EFIBuild{Embed: script})
	d := lab.EFIDisk(efi, false)
	d.Files["/scripts/one.ipxe"] = lab.Bytes([]byte("#!ipxe\necho file-one-ok\nchain file:/two.ipxe\n"))
	d.Files["/two.ipxe"] = lab.Bytes([]byte("#!ipxe\necho file-two-ok\nimgfetch file:/missing.ipxe || echo missing-ok\n"))
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := lab.BuildDisk(img, d); err != nil {
		t.Fatal(err)
	}
	m := lab.Start(t, lab.Config{Disks: []string{img}, Snapshot: true})
	if _, err := m.StopAutoboot(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Bootefi("0:1", "snp-go.efi", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"file-one-ok", "file-two-ok", "missing-ok", "snp-go: returning to firmware"} {
		if _, err := m.Expect(want, 60*time.Second); err != nil {
			t.Fatal(err)
		}
	}
}
