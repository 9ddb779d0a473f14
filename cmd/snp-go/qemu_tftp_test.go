package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/snp-go/snp-go/lab"
)

// TestQEMUTFTPChain: iPXE's default protocol through slirp's built-in TFTP
// server: a script chained from tftp://, which fetches an image whose
// SHA-256 the test checks, and a clear error for a missing file.
func TestQEMUTFTPChain(t *testing.T) {
	lab.SkipIfMissing(t)
	dir := t.TempDir()
	payload := make([]byte, 3<<20)
	rand.Read(payload)
	sum := sha256.Sum256(payload)
	os.WriteFile(filepath.Join(dir, "payload.bin"), payload, 0o644)
	os.WriteFile(filepath.Join(dir, "next.ipxe"), []byte("#!ipxe\necho tftp-chain-ok\nimgfetch --name p tftp://10.0.2.2/payload.bin\nimgstat p\nimgfetch tftp://10.0.2.2/missing.bin || echo missing-errno=${errno}\n"), 0o644)
	embed := writeFile(t, "embed.ipxe", []byte("#!ipxe\ndhcp\nchain tftp://${next-server}/next.ipxe\n"))
	efi := lab.NeedEFI(t, lab.EFIBuild{Embed: embed})
	m := boot(t, efi, lab.Config{TFTP: dir})
	if _, err := m.Bootefi("0:1", "snp-go.efi", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Expect("tftp-chain-ok", 90*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Expect(regexp.MustCompile(`p : 3145728 bytes`), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Expect(regexp.MustCompile(`missing-errno=0x[0-9a-f]+`), 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.WaitPrompt(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	// The same file through the fetch path, hashed (BenchmarkQEMUTFTP times it).
	if _, err := m.Run("setenv bootargs --selftest=net --fetch tftp://10.0.2.2/payload.bin", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Bootefi("0:1", "snp-go.efi", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	f, err := m.Expect(regexp.MustCompile(`fetch: (\d+) bytes sha256 ([0-9a-f]+) in (\S+) \((\S+) MB/s\)`), 120*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if f.Groups[2] != hex.EncodeToString(sum[:]) {
		t.Fatalf("TFTP fetch sha256 %s; want %x", f.Groups[2], sum)
	}
}

// BenchmarkQEMUTFTP reports the TFTP download rate of a 3 MiB file through
// slirp's TFTP server: snp-go's (--selftest=net --fetch) and, as the anchor,
// U-Boot's tftpboot of the same file, both in MB/s (10^6 bytes/s), one boot
// per iteration.
func BenchmarkQEMUTFTP(b *testing.B) {
	lab.SkipIfMissing(b)
	dir := b.TempDir()
	payload := make([]byte, 3<<20)
	rand.Read(payload)
	os.WriteFile(filepath.Join(dir, "payload.bin"), payload, 0o644)
	efi := lab.NeedEFI(b, lab.EFIBuild{})
	uboot := regexp.MustCompile(`([\d.]+) ([KM])iB/s`)
	var snp, ub float64
	for range b.N {
		m := boot(b, efi, lab.Config{TFTP: dir})
		if _, err := m.Run("setenv bootargs --selftest=net --fetch tftp://10.0.2.2/payload.bin", 10*time.Second); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Bootefi("0:1", "snp-go.efi", 20*time.Second); err != nil {
			b.Fatal(err)
		}
		f, err := m.Expect(regexp.MustCompile(`fetch: 3145728 bytes sha256 [0-9a-f]+ in \S+ \((\S+) MB/s\)`), 120*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		r, err := strconv.ParseFloat(f.Groups[1], 64)
		if err != nil {
			b.Fatalf("fetch line %q: %v", f.Text, err)
		}
		snp += r
		if _, err := m.WaitPrompt(60 * time.Second); err != nil {
			b.Fatal(err)
		}
		m.Run("setenv autoload no", 10*time.Second)
		m.Run("dhcp", 30*time.Second)
		out, err := m.Run("tftpboot ${kernel_addr_r} 10.0.2.2:payload.bin", 120*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		g := uboot.FindStringSubmatch(out)
		if g == nil {
			b.Fatalf("tftpboot printed no rate:\n%s", out)
		}
		v, _ := strconv.ParseFloat(g[1], 64)
		unit := 1024.0
		if g[2] == "M" {
			unit = 1024 * 1024
		}
		ub += v * unit / 1e6
		m.Close()
	}
	b.ReportMetric(snp/float64(b.N), "MB/s-snp-go")
	b.ReportMetric(ub/float64(b.N), "MB/s-u-boot")
}
