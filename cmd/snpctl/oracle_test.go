package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/snp-go/snp-go/script"
)

// oracleDir holds the iPXE oracle corpus: NAME.ipxe, and what iPXE's Linux
// userspace build printed (NAME.out) and exited with (NAME.status) when it
// ran that script. README.md there has the recipe.
const oracleDir = "../../script/testdata/oracle"

// TestIPXEOracle runs every case of the oracle corpus through `snpctl run`
// as its own process, stdin an open pipe that never delivers a byte (as
// the oracle ran), and compares the console output and the exit status
// with iPXE's.
func TestIPXEOracle(t *testing.T) {
	screens, err := readScreens(filepath.Join(oracleDir, "screens.txt"))
	if err != nil {
		t.Fatal(err)
	}
	cases, err := filepath.Glob(filepath.Join(oracleDir, "*.ipxe"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 100 {
		t.Fatalf("oracle corpus %s has %d cases; want at least 100", oracleDir, len(cases))
	}
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".ipxe")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			wantOut, err := os.ReadFile(filepath.Join(oracleDir, name+".out"))
			if err != nil {
				t.Fatalf("case %s: %v", name, err)
			}
			st, err := os.ReadFile(filepath.Join(oracleDir, name+".status"))
			if err != nil {
				t.Fatalf("case %s: %v", name, err)
			}
			wantStatus, err := strconv.Atoi(strings.TrimSpace(string(st)))
			if err != nil {
				t.Fatalf("case %s: %s.status: %v", name, name, err)
			}

			out, status, diag := runOracleCase(t, path)
			want, got := normaliseCodes(string(wantOut)), normaliseCodes(dropDiagnostics(out, name+".ipxe"))
			how := "output"
			if why, ok := screens[name]; ok {
				// A full-screen UI: compare what follows it.
				how = "output after the " + why
				want, got = lastLine(want), lastLine(got)
			}
			if d := firstDiff(want, got); d != "" {
				t.Errorf("case %s (%s): %s differs from iPXE's at %s\n--- iPXE (%s.out, normalised):\n%s--- snp-go (normalised):\n%s--- snp-go as printed:\n%s",
					name, path, how, d, name, want, got, out)
			}
			if status != wantStatus {
				t.Errorf("case %s (%s): exit status %d (%s); iPXE exited %d", name, path, status, diag, wantStatus)
			}
		})
	}
}

// runOracleCase runs `snpctl run path` with stdin an open, silent pipe
// and returns its output and the exit status iPXE's Linux build would
// have had for the script's status.
func runOracleCase(t *testing.T, path string) (out string, status int, diag string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := snpctlRun(ctx, path)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close() // only after the run: no byte and no EOF before
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("case %s: snpctl run did not finish in 30 s (hangs?); output so far:\n%s", path, o.String())
	}
	if err == nil {
		return o.String(), 0, "success"
	}
	if _, ok := err.(*exec.ExitError); !ok {
		t.Fatalf("case %s: running snpctl run: %v", path, err)
	}
	m := regexp.MustCompile(`script failed with status (0x[0-9a-f]+)`).FindStringSubmatch(e.String())
	if m == nil {
		t.Fatalf("case %s: snpctl run failed without a script status: %s", path, e.String())
	}
	n, err := strconv.ParseUint(m[1], 0, 32)
	if err != nil {
		t.Fatal(err)
	}
	return o.String(), linuxExitStatus(script.Errno(n)), "status " + m[1]
}

// linuxExitStatus is the exit status iPXE's Linux build ends with when the
// script ends with status n: main() returns rc = -errno, whose low byte
// comes from the Linux errno iPXE's Linux platform gives the error
// (src/include/ipxe/errno/linux.h); `exit N` returns N itself. snp-go's
// codes carry the same POSIX-like class (bits 30-24) as iPXE's, so the
// class picks the Linux errno.
func linuxExitStatus(n script.Errno) int {
	linux, ok := linuxErrno[uint32(n)>>24&0x7f]
	if !ok {
		return int(n & 0xff) // exit N
	}
	return (256 - linux) & 0xff
}

// linuxErrno maps iPXE's error classes (src/include/errno.h) to the Linux
// errno numbers of src/include/ipxe/errno/linux.h.
var linuxErrno = map[uint32]int{
	0x01: 7, 0x02: 13, 0x03: 98, 0x04: 99, 0x05: 97, 0x06: 11, 0x07: 114, 0x08: 9,
	0x09: 74, 0x0a: 16, 0x0b: 125, 0x0c: 10, 0x0d: 103, 0x0e: 111, 0x0f: 104, 0x10: 35,
	0x11: 89, 0x12: 33, 0x13: 122, 0x14: 17, 0x15: 14, 0x16: 27, 0x17: 113, 0x18: 43,
	0x19: 84, 0x1a: 115, 0x1b: 4, 0x1c: 22, 0x1d: 5, 0x1e: 106, 0x1f: 21, 0x20: 40,
	0x21: 24, 0x22: 31, 0x23: 90, 0x24: 72, 0x25: 36, 0x26: 100, 0x27: 102, 0x28: 101,
	0x29: 23, 0x2a: 105, 0x2b: 61, 0x2c: 19, 0x2d: 2, 0x2e: 8, 0x2f: 37, 0x30: 67,
	0x31: 12, 0x32: 42, 0x33: 92, 0x34: 28, 0x35: 63, 0x36: 60, 0x37: 38, 0x38: 107,
	0x39: 20, 0x3a: 39, 0x3b: 88, 0x3c: 95, 0x3d: 25, 0x3e: 6, 0x3f: 95, 0x40: 75,
	0x41: 1, 0x42: 32, 0x43: 71, 0x44: 93, 0x45: 91, 0x46: 34, 0x47: 30, 0x48: 29,
	0x49: 3, 0x4a: 116, 0x4b: 62, 0x4c: 110, 0x4d: 26, 0x4e: 11, 0x4f: 18,
}

// dropDiagnostics removes the lines snp-go adds where iPXE stays silent:
// the report of a failed command or a stopped script, which names the
// script and line and ends with the status in brackets
// ("case.ipxe:3: goto: no label :x in case.ipxe [No such file or
// directory (0x2d00008e)]"). Nothing else is removed.
func dropDiagnostics(out, script string) string {
	re := regexp.MustCompile(regexp.QuoteMeta(script) + `:[0-9]+: [^\n]*\[[^\n]*\((0x[0-9a-f]+)\)\]\n`)
	return re.ReplaceAllString(out, "")
}

// normaliseCodes keeps only the error class of a status code shown after
// an error text: iPXE writes "(https://ipxe.org/1c0c2016)", whose bits
// 23-8 name iPXE's source file and line and bits 7-0 the Linux errno;
// snp-go writes "(0x1c000082)". Both become "(error class 0x1c)".
func normaliseCodes(s string) string {
	re := regexp.MustCompile(`\((?:https://ipxe\.org/|0x)([0-9a-f]{2})[0-9a-f]{6}\)`)
	return re.ReplaceAllString(s, "(error class 0x$1)")
}

// readScreens reads screens.txt: the cases whose iPXE output is a
// full-screen UI (menus: iPXE draws them with curses and ANSI escapes,
// snp-go as text lines for serial consoles), as "name: what" lines. For
// those only the last line of output (escape sequences removed) and the
// exit status are compared.
func readScreens(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		name, why, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("%s: %q: want \"name: what\"", path, l)
		}
		m[strings.TrimSpace(name)] = strings.TrimSpace(why)
	}
	return m, nil
}

// lastLine returns the last line of s with ANSI escape sequences removed
// (iPXE's "\x1b0m", a reset missing its '[', included).
func lastLine(s string) string {
	s = regexp.MustCompile(`\x1b(\[[0-9;?]*[A-Za-z]|[0-9;]*m)`).ReplaceAllString(s, "")
	lines := strings.SplitAfter(strings.TrimSuffix(s, "\n"), "\n")
	return lines[len(lines)-1] + "\n"
}

// firstDiff describes the first line where got differs from want, or "".
func firstDiff(want, got string) string {
	if want == got {
		return ""
	}
	w, g := strings.SplitAfter(want, "\n"), strings.SplitAfter(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d: iPXE %q, snp-go %q", i+1, wl, gl)
		}
	}
	return "end of output"
}
