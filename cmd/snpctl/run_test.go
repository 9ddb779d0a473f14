package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snp-go/snp-go/blockio/memdisk"
	"github.com/snp-go/snp-go/lab/tgt"
)

// TestMain lets the test binary stand in for "snpctl run" as its own
// process, exit status included: snpctlRun re-executes it with
// SNPCTL_RUN_HELPER=1 and the arguments after "--"; without that variable
// the tests run.
func TestMain(m *testing.M) {
	if os.Getenv("SNPCTL_RUN_HELPER") != "1" {
		os.Exit(m.Run())
	}
	args := os.Args[1:]
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	if err := runRun(args); err != nil {
		fmt.Fprintf(os.Stderr, "snpctl run: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// snpctlRun returns the command that runs "snpctl run args..." in a child
// process (see TestMain).
func snpctlRun(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"--"}, args...)...)
	cmd.Env = append(os.Environ(), "SNPCTL_RUN_HELPER=1")
	return cmd
}

func runSnpctl(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := snpctlRun(context.Background(), args...)
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.Stdin = nil
	err := cmd.Run()
	stdout = visible(o.String())
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running snpctl run: %v", err)
	}
	return stdout, e.String(), code
}

// visible applies backspaces as a terminal does (the download progress
// overwrites itself).
func visible(s string) string {
	var out []string
	for _, l := range strings.SplitAfter(s, "\n") {
		var buf []rune
		col := 0
		for _, r := range l {
			if r == '\b' {
				if col > 0 {
					col--
				}
				continue
			}
			if col < len(buf) {
				buf[col] = r
			} else {
				buf = append(buf, r)
			}
			col++
		}
		line := string(buf)
		if strings.HasSuffix(line, "\n") {
			line = strings.TrimRight(strings.TrimSuffix(line, "\n"), " ") + "\n"
		}
		out = append(out, line)
	}
	return strings.Join(out, "")
}

// peImage is a minimal PE/COFF header for an arm64 EFI application.
func peImage(size int) []byte {
	img := make([]byte, size)
	copy(img, "MZ")
	binary.LittleEndian.PutUint32(img[0x3c:], 0x80)
	copy(img[0x80:], "PE\x00\x00")
	binary.LittleEndian.PutUint16(img[0x84:], 0xAA64)
	return img
}

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunChainOverTLS(t *testing.T) {
	kernel := peImage(4096)
	files := map[string]string{
		"/boot.ipxe": "#!ipxe\necho chained from ${cwuri}\nset chained yes\nchain next.ipxe\n",
		"/next.ipxe": "#!ipxe\necho user=${username} chained=${chained} file=${filename}\n" +
			"kernel vmlinuz.efi console=ttyAMA0\ninitrd initrd.img\nboot\necho not reached\n",
		"/vmlinuz.efi": string(kernel),
		"/initrd.img":  "initrd",
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(d))
	}))
	defer srv.Close()
	dir := t.TempDir()
	ca := writeFile(t, dir, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	writeFile(t, dir, "local.ipxe", "#!ipxe\ndhcp\necho filename=${filename}\nchain ${filename}\necho not reached either\n")
	boot := srv.URL + "/boot.ipxe"

	out, errOut, code := runSnpctl(t, dir, "--ca", ca, "--set", "username=alice", "--dhcp", "filename="+boot, "local.ipxe")
	if code != 0 {
		t.Fatalf("snpctl run exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"Configuring (net0 ",
		"filename=" + boot + "\n",
		boot + "... ok\n",
		"chained from " + boot + "\n",
		"user=alice chained=yes file=" + boot + "\n",
		"would boot vmlinuz.efi (4096 bytes, PE/COFF arm64)\n",
		`command line: "vmlinuz.efi console=ttyAMA0"`,
		"with image initrd.img (6 bytes, data)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "not reached") {
		t.Errorf("the run went on after the boot:\n%s", out)
	}

	// Without --ca the server's certificate is not trusted: real TLS.
	out, errOut, code = runSnpctl(t, dir, "--dhcp", "filename="+boot, "local.ipxe")
	if code != 1 || !strings.Contains(out, "local.ipxe:4: chain:") || !strings.Contains(out, "certificate") {
		t.Errorf("untrusted TLS: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "script failed with status") {
		t.Errorf("stderr %q does not give the status", errOut)
	}

	// A URL as the script.
	out, errOut, code = runSnpctl(t, dir, "--ca", ca, srv.URL+"/next.ipxe")
	if code != 0 || !strings.Contains(out, "would boot vmlinuz.efi") {
		t.Errorf("snpctl run URL: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func TestRunFailuresAndFlags(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "fail.ipxe", "#!ipxe\necho start\nisset ${nothing}\necho not reached\n")
	out, errOut, code := runSnpctl(t, dir, "fail.ipxe")
	if code != 1 || !strings.Contains(out, `fail.ipxe:3: script stopped: "isset ${nothing}" failed`) {
		t.Errorf("failing script: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	writeFile(t, dir, "exit.ipxe", "#!ipxe\nshow 175.190 ||\nshow password ||\nexit 0\n")
	out, _, code = runSnpctl(t, dir, "--dhcp", "175.190=bob", "--dhcp", "password=pa55word", "--set", "x=1", "exit.ipxe")
	if code != 0 {
		t.Errorf("exit 0: exit %d\n%s", code, out)
	}
	// Before dhcp the lease is not applied; these come from nowhere.
	if !strings.Contains(out, "Could not find") {
		t.Errorf("show before dhcp found a lease value:\n%s", out)
	}
	for _, bad := range [][]string{{"--dhcp", "nonsense"}, {"--dhcp", "foo=1"}, {"--dhcp", "ip=1.2"}, {"--set", "x"}, {"a", "b"}} {
		_, errOut, code := runSnpctl(t, dir, append(bad, "exit.ipxe")...)
		if code != 1 || errOut == "" {
			t.Errorf("snpctl run %q: exit %d, stderr %q; want an error", bad, code, errOut)
		}
	}
	// No script: the shell, reading commands from stdin until EOF.
	cmd := snpctlRun(context.Background())
	cmd.Stdin = strings.NewReader("set a 42\necho a=${a}\n")
	b, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(b), "a=42\n") || !strings.Contains(string(b), "snp-go> ") {
		t.Errorf("shell from stdin: %v\n%s", err, b)
	}
}

func TestRunSanboot(t *testing.T) {
	d := tgt.StartT(t, tgt.Options{})
	dir := t.TempDir()
	img, err := memdisk.Build(8<<20, "SNPGO", []memdisk.File{
		{Path: "EFI/BOOT/BOOTAA64.EFI", Data: peImage(70000)},
		{Path: "EFI/debian/grubaa64.efi", Data: peImage(5000)},
	})
	if err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(disk, img, 0o644); err != nil {
		t.Fatal(err)
	}
	const target = "iqn.2025-01.dev.snp-go:snpctl-run"
	if _, err := d.AddTarget(tgt.Target{IQN: target, LUNs: []tgt.LUN{{Path: disk}},
		Incoming: &tgt.Account{User: "joe", Password: "joe-secret-123"},
		Outgoing: &tgt.Account{User: "tgt", Password: "tgt-secret-456"}}); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(d.Portal())
	root := fmt.Sprintf("iscsi:%s::%s:1:%s", host, port, target)
	writeFile(t, dir, "san.ipxe", "#!ipxe\ndhcp\nset initiator-iqn iqn.2025-01.dev.snp-go:test-initiator\nsanboot ${root-path}\necho not reached\n")
	args := []string{"--dhcp", "root-path=" + root, "--dhcp", "username=joe", "--dhcp", "password=joe-secret-123",
		"--dhcp", "reverse-username=tgt", "--dhcp", "reverse-password=tgt-secret-456", "san.ipxe"}
	out, errOut, code := runSnpctl(t, dir, args...)
	if code != 0 {
		t.Fatalf("sanboot: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"Registered SAN device 0x80",
		"iSCSI: logged in to " + root + " as iqn.2025-01.dev.snp-go:test-initiator: 16384 blocks of 512 bytes",
		`would boot \EFI\BOOT\BOOTAA64.EFI from SAN device 0x80, partition 1`,
		`(EFI System Partition, FAT16 "SNPGO")`,
		"70000 bytes, PE/COFF arm64",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret-") || strings.Contains(out, "not reached") {
		t.Errorf("stdout shows a secret or went on after the boot:\n%s", out)
	}

	// --filename picks another file; a missing one lists \EFI\BOOT.
	writeFile(t, dir, "san2.ipxe", "#!ipxe\ndhcp\nsanboot --filename \\EFI\\debian\\grubaa64.efi ${root-path}\n")
	args[len(args)-1] = "san2.ipxe"
	out, errOut, code = runSnpctl(t, dir, args...)
	if code != 0 || !strings.Contains(out, `would boot \EFI\debian\grubaa64.efi`) {
		t.Errorf("sanboot --filename: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	writeFile(t, dir, "san3.ipxe", "#!ipxe\ndhcp\nsanboot --filename \\EFI\\BOOT\\BOOTX64.EFI ${root-path}\n")
	args[len(args)-1] = "san3.ipxe"
	out, _, code = runSnpctl(t, dir, args...)
	if code != 1 || !strings.Contains(out, `\EFI\BOOT holds BOOTAA64.EFI`) || !strings.Contains(out, "Unregistered SAN device 0x80") {
		t.Errorf("sanboot of a missing file: exit %d\nstdout:\n%s", code, out)
	}
	// Wrong password: the login fails and says so.
	args[len(args)-1] = "san.ipxe"
	args[5] = "password=wrong-password-1"
	out, _, code = runSnpctl(t, dir, args...)
	if code != 1 || !strings.Contains(out, "sanboot: Could not open SAN device") {
		t.Errorf("sanboot with a wrong password: exit %d\nstdout:\n%s", code, out)
	}
}

// TestRunSanbootHTTP: sanboot of an http:// disk image reads the GPT and
// the EFI System Partition with range requests through package san; a
// server without range support is refused, naming the URL.
func TestRunSanbootHTTP(t *testing.T) {
	dir := t.TempDir()
	img, err := memdisk.Build(8<<20, "SNPGO", []memdisk.File{{Path: "EFI/BOOT/BOOTAA64.EFI", Data: peImage(70000)}})
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/disk.img":
			http.ServeContent(w, r, "disk.img", time.Time{}, bytes.NewReader(img))
		case "/plain.img":
			w.Write(img)
		default:
			http.NotFound(w, r)
		}
	}))
	defer s.Close()
	writeFile(t, dir, "san.ipxe", "#!ipxe\nsanboot "+s.URL+"/disk.img\necho not reached\n")
	out, errOut, code := runSnpctl(t, dir, "san.ipxe")
	if code != 0 {
		t.Fatalf("sanboot http: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"SAN: " + s.URL + "/disk.img: 16384 x 512 bytes (read-only)",
		`would boot \EFI\BOOT\BOOTAA64.EFI from SAN device 0x80, partition 1`,
		"70000 bytes, PE/COFF arm64",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	writeFile(t, dir, "plain.ipxe", "#!ipxe\nsanboot "+s.URL+"/plain.img\n")
	out, _, code = runSnpctl(t, dir, "plain.ipxe")
	if want := s.URL + "/plain.img: the server ignores range requests"; code != 1 || !strings.Contains(out, want) {
		t.Errorf("sanboot of a server without ranges: exit %d; want 1 and %q\nstdout:\n%s", code, want, out)
	}
}
