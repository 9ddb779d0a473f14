package tgt

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const iqn = "iqn.2025-01.dev.snp-go:lab-tgt"

// needTool skips t when an initiator program is missing.
func needTool(t *testing.T, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("SKIP: %s not installed (Debian %s); needed to log in to the test target", name, pkg)
	}
}

// backing writes a file of size random bytes and returns its path and data.
func backing(t *testing.T, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	p := filepath.Join(t.TempDir(), "lun.img")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, data
}

// libiscsi runs a libiscsi-bin program; the URL holds passwords, so errors
// name only the program.
func libiscsi(prog, url string, args ...string) (string, error) {
	cmd := exec.Command(prog, append(args, url)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v: %s", prog, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

var (
	in      = &Account{User: "snp-initiator", Password: "initiator-secret-1"}
	out     = &Account{User: "snp-target", Password: "target-secret-22"}
	wrongIn = &Account{User: in.User, Password: "not-the-secret"}
	wrongOt = &Account{User: out.User, Password: "not-the-secret"}
)

// TestLogin starts one daemon with a target per access rule and logs in
// to each with libiscsi's iscsi-inq, with and without the right
// credentials.
func TestLogin(t *testing.T) {
	needTool(t, "iscsi-inq", "libiscsi-bin")
	d := StartT(t, Options{})
	img, _ := backing(t, 1<<20)
	targets := map[string]Target{
		"open":      {},
		"chap":      {Incoming: in},
		"mutual":    {Incoming: in, Outgoing: out},
		"loopback":  {Initiators: []string{"127.0.0.1"}},
		"elsewhere": {Initiators: []string{"192.0.2.1"}}, // RFC 5737 TEST-NET-1: never us
	}
	for name, tg := range targets {
		tg.IQN = iqn + "-" + name
		tg.LUNs = []LUN{{Path: img}}
		if _, err := d.AddTarget(tg); err != nil {
			t.Fatalf("AddTarget(%s): %v", name, err)
		}
	}
	for _, c := range []struct {
		name, target string
		in, out      *Account
		ok           bool
	}{
		{"open", "open", nil, nil, true},
		{"chap", "chap", in, nil, true},
		{"chap-none", "chap", nil, nil, false},
		{"chap-wrong", "chap", wrongIn, nil, false},
		{"mutual", "mutual", in, out, true},
		{"mutual-one-way", "mutual", in, nil, true}, // mutual CHAP is the initiator's choice
		{"mutual-wrong-target-secret", "mutual", in, wrongOt, false},
		{"mutual-wrong-initiator-secret", "mutual", wrongIn, out, false},
		{"acl-loopback", "loopback", nil, nil, true},
		{"acl-elsewhere", "elsewhere", nil, nil, false},
	} {
		name := c.name
		t.Run(name, func(t *testing.T) {
			got, err := libiscsi("iscsi-inq", d.URL(iqn+"-"+c.target, 1, c.in, c.out))
			if c.ok && (err != nil || !strings.Contains(got, "Peripheral Device Type:DIRECT_ACCESS")) {
				t.Errorf("iscsi-inq %s = %v, %q; want a disk", name, err, got)
			}
			if !c.ok && err == nil {
				t.Errorf("iscsi-inq %s succeeded; want a refused login:\n%s", name, got)
			}
		})
	}
	// Discovery needs no CHAP and lists the targets whose ACL admits us.
	needTool(t, "iscsi-ls", "libiscsi-bin")
	got, err := libiscsi("iscsi-ls", "iscsi://"+d.Portal())
	if err != nil {
		t.Fatal(err)
	}
	for name := range targets {
		line := "Target:" + iqn + "-" + name + " Portal:" + d.Portal()
		if listed, want := strings.Contains(got, line), name != "elsewhere"; listed != want {
			t.Errorf("iscsi-ls lists %q: %v; want %v:\n%s", line, listed, want, got)
		}
	}
}

// TestLUNs checks what the initiator sees of the LUNs: block sizes and
// capacity (iscsi-readcapacity16) and the bytes of the backing file
// (qemu-img through libiscsi, with CHAP).
func TestLUNs(t *testing.T) {
	needTool(t, "iscsi-readcapacity16", "libiscsi-bin")
	d := StartT(t, Options{})
	img512, data := backing(t, 3<<20)
	img4k, _ := backing(t, 2<<20)
	if _, err := d.AddTarget(Target{IQN: iqn, LUNs: []LUN{{Path: img512}, {Path: img4k, BlockSize: 4096}}, Incoming: in}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		lun              int
		blockLen, blocks int
	}{{1, 512, 3 << 20 / 512}, {2, 4096, 2 << 20 / 4096}} {
		got, err := libiscsi("iscsi-readcapacity16", d.URL(iqn, c.lun, in, nil))
		if err != nil {
			t.Fatal(err)
		}
		// The returned logical block address is the last LBA.
		for _, want := range []string{fmt.Sprintf("LOGICAL BLOCK LENGTH IN BYTES:%d", c.blockLen), fmt.Sprintf("RETURNED LOGICAL BLOCK ADDRESS:%d", c.blocks-1)} {
			if !strings.Contains(got, want) {
				t.Errorf("iscsi-readcapacity16 LUN %d lacks %q:\n%s", c.lun, want, got)
			}
		}
	}
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("SKIP: qemu-img not installed (Debian qemu-utils); needed to read the LUN back")
	}
	dst := filepath.Join(t.TempDir(), "read.img")
	cmd := exec.Command("qemu-img", "convert", "-f", "raw", "-O", "raw", d.URL(iqn, 1, in, nil), dst)
	if msg, err := cmd.CombinedOutput(); err != nil {
		skipWithoutISCSIDriver(t, msg)
		t.Fatalf("qemu-img convert of LUN 1: %v: %s", err, msg)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("LUN 1 read through iSCSI (%d bytes) differs from its backing file (%d bytes)", len(got), len(data))
	}
}

// TestClose stops two daemons started side by side: each has its own
// ports, and after Close its process, socket files and portal are gone.
func TestClose(t *testing.T) {
	if _, _, err := Programs(); err != nil {
		t.Skip("SKIP: " + err.Error())
	}
	var ds []*Daemon
	for range 2 {
		ds = append(ds, StartT(t, Options{}))
	}
	if ds[0].Control == ds[1].Control || ds[0].Port == ds[1].Port {
		t.Fatalf("two daemons share ports: control %d/%d, portal %d/%d", ds[0].Control, ds[1].Control, ds[0].Port, ds[1].Port)
	}
	img, _ := backing(t, 1<<20)
	for _, d := range ds {
		// A target with a LUN: tgtd refuses "delete system" while targets
		// exist, so Close must remove them first.
		if _, err := d.AddTarget(Target{IQN: iqn, LUNs: []LUN{{Path: img}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ds[0].Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-ds[0].Exited():
	default:
		t.Errorf("tgtd still runs after Close")
	}
	sock := filepath.Join(SocketDir, fmt.Sprintf("socket.%d", ds[0].Control))
	for _, p := range []string{sock, sock + ".lock"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s still exists after Close", p)
		}
	}
	if c, err := net.DialTimeout("tcp", ds[0].Portal(), time.Second); err == nil {
		c.Close()
		t.Errorf("portal %s still accepts connections after Close", ds[0].Portal())
	}
	if tids, err := ds[1].TIDs(); err != nil || len(tids) != 1 {
		t.Errorf("the other daemon's TIDs() = %v, %v; want one target", tids, err)
	}
	if err := ds[0].Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}
}

// TestDropConns holds a session open with iscsi-perf and closes it from the
// target's side.
func TestDropConns(t *testing.T) {
	needTool(t, "iscsi-perf", "libiscsi-bin")
	d := StartT(t, Options{})
	img, _ := backing(t, 4<<20)
	tid, err := d.AddTarget(Target{IQN: iqn, LUNs: []LUN{{Path: img}}, Incoming: in, Outgoing: out})
	if err != nil {
		t.Fatal(err)
	}
	perf := exec.Command("iscsi-perf", "-t", "20", "-i", "iqn.2025-01.dev.snp-go:perf", d.URL(iqn, 1, in, out))
	if err := perf.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { perf.Process.Kill(); perf.Wait() })
	var conns []Conn
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if conns, err = d.Conns(tid); err != nil {
			t.Fatal(err)
		}
		if len(conns) > 0 {
			break
		}
	}
	if len(conns) != 1 || conns[0].Initiator != "iqn.2025-01.dev.snp-go:perf" || conns[0].Address != "127.0.0.1" {
		t.Fatalf("Conns(%d) = %+v; want one connection from iqn.2025-01.dev.snp-go:perf at 127.0.0.1", tid, conns)
	}
	n, err := d.DropConns(tid)
	if err != nil || n != 1 {
		t.Fatalf("DropConns(%d) = %d, %v; want 1, nil", tid, n, err)
	}
	after, err := d.Conns(tid)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range after {
		if c.Session == conns[0].Session {
			t.Errorf("session %d still listed after DropConns: %+v", c.Session, after)
		}
	}
}

func TestParseConns(t *testing.T) {
	for _, c := range []struct {
		out  string
		want []Conn
	}{
		{"", nil},
		{"Session: 2\n    Connection: 0\n        Initiator: iqn.a:b\n        IP Address: 127.0.0.1\n",
			[]Conn{{2, 0, "iqn.a:b", "127.0.0.1"}}},
		{"Session: 3\n    Connection: 0\n        Initiator: x\n        IP Address: 10.0.0.1\n    Connection: 1\n        Initiator: x\n        IP Address: 10.0.0.2\nSession: 9\n    Connection: 4\n        Initiator: y\n        IP Address: ::1\n",
			[]Conn{{3, 0, "x", "10.0.0.1"}, {3, 1, "x", "10.0.0.2"}, {9, 4, "y", "::1"}}},
		{"    Connection: 0\n", nil}, // no session line: ignored
	} {
		got := parseConns(c.out)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("parseConns(%q) = %+v; want %+v", c.out, got, c.want)
		}
	}
}

func TestAccountRedacted(t *testing.T) {
	a := Account{User: "u", Password: "s3cret-value"}
	for _, s := range []string{fmt.Sprint(a), fmt.Sprintf("%v %+v %#v %s", a, a, a, &a)} {
		if strings.Contains(s, a.Password) {
			t.Errorf("formatting an Account printed its secret: %s", s)
		}
	}
	if got := redactArgs([]string{"--user", "u", "--password", "s3cret-value"}); strings.Contains(got, "s3cret") {
		t.Errorf("redactArgs = %q; want the password hidden", got)
	}
}

func TestAddTargetRejects(t *testing.T) {
	d := &Daemon{} // never reaches tgtadm
	for _, tg := range []Target{
		{IQN: ""},
		{IQN: "iqn.x y"},
		{IQN: "iqn.x", Outgoing: out},
	} {
		if _, err := d.AddTarget(tg); err == nil {
			t.Errorf("AddTarget(%+v) = nil error; want a refusal", tg)
		}
	}
}

// skipWithoutISCSIDriver skips t when qemu-img's output says it has no
// iSCSI block driver (Debian's qemu-block-extra, which .ci/run installs).
func skipWithoutISCSIDriver(t *testing.T, msg []byte) {
	t.Helper()
	if strings.Contains(string(msg), "Unknown protocol") || strings.Contains(string(msg), "iscsi") && strings.Contains(string(msg), "not supported") {
		t.Skipf("SKIP: qemu-img has no iSCSI driver (Debian qemu-block-extra): %s", msg)
	}
}

// TestReadOnly writes to a read-only and a writable LUN with qemu-img: the
// first must refuse, the second must land in the backing file.
func TestReadOnly(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("SKIP: qemu-img not installed (Debian qemu-utils); needed to write to the LUNs")
	}
	d := StartT(t, Options{})
	ro, roData := backing(t, 1<<20)
	rw, _ := backing(t, 1<<20)
	if _, err := d.AddTarget(Target{IQN: iqn, LUNs: []LUN{{Path: ro, ReadOnly: true}, {Path: rw}}}); err != nil {
		t.Fatal(err)
	}
	src, srcData := backing(t, 1<<20)
	for _, c := range []struct {
		lun  int
		path string
		ok   bool
	}{{1, ro, false}, {2, rw, true}} {
		msg, err := exec.Command("qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src, d.URL(iqn, c.lun, nil, nil)).CombinedOutput()
		if err != nil {
			skipWithoutISCSIDriver(t, msg)
		}
		if (err == nil) != c.ok {
			t.Errorf("qemu-img write to LUN %d (ReadOnly %v): %v %s", c.lun, !c.ok, err, msg)
		}
		got, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		want := roData
		if c.ok {
			want = srcData
		}
		if !bytes.Equal(got, want) {
			t.Errorf("backing file of LUN %d after the write: changed %v; want %v", c.lun, !bytes.Equal(got, roData), c.ok)
		}
	}
}

// TestPortTaken gives Start a portal port that another listener holds:
// tgtd runs on without a portal, and Start must notice and try another.
func TestPortTaken(t *testing.T) {
	if _, _, err := Programs(); err != nil {
		t.Skip("SKIP: " + err.Error())
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	calls := 0
	pickTCPPort = func() (int, error) {
		calls++
		if calls == 1 {
			return taken, nil
		}
		return freeTCPPort()
	}
	defer func() { pickTCPPort = freeTCPPort }()
	d := StartT(t, Options{})
	if d.Port == taken || calls != 2 {
		t.Errorf("Start with port %d taken: portal port %d after %d picks; want another port after 2", taken, d.Port, calls)
	}
	if _, err := d.AddTarget(Target{IQN: iqn}); err != nil {
		t.Fatal(err)
	}
	needTool(t, "iscsi-ls", "libiscsi-bin")
	if got, err := libiscsi("iscsi-ls", "iscsi://"+d.Portal()); err != nil || !strings.Contains(got, iqn) {
		t.Errorf("iscsi-ls on the new portal = %v, %q; want %s", err, got, iqn)
	}
}
