package script

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/snp-go/snp-go/script/lineedit"
	"github.com/snp-go/snp-go/script/settings"
)

const efiBinary = "MZ\x90\x00fake PE image"

func TestChainScriptRunsInPlace(t *testing.T) {
	te := newTestEnv()
	te.fetch.files["http://10.0.0.1/boot.ipxe"] = "#!ipxe\necho in boot.ipxe from ${cwuri}\nset from-child yes\nchain next.ipxe\necho back in boot.ipxe\n"
	te.fetch.files["http://10.0.0.1/next.ipxe"] = "#!ipxe\ngoto skip\necho skipped\n:skip\necho in next.ipxe\n"
	out, status, err := te.run("#!ipxe\nchain http://10.0.0.1/boot.ipxe\necho back in test, child set ${from-child}\n")
	if status != 0 {
		t.Fatalf("status %v (%v); output:\n%s", status, err, out)
	}
	for _, want := range []string{
		"http://10.0.0.1/boot.ipxe... ok\n",
		"in boot.ipxe from http://10.0.0.1/boot.ipxe\n",
		"http://10.0.0.1/next.ipxe... ok\n",
		"in next.ipxe\nback in boot.ipxe\nback in test, child set yes\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "skipped") {
		t.Errorf("goto in the chained script did not skip:\n%s", out)
	}
	if got, ok := te.e.Settings.Get("cwuri"); ok {
		t.Errorf("cwuri after the chain returned = %q; want unset", got)
	}
}

func TestChainFailures(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		script string
		status Errno
		out    string
	}{
		{"404", nil, "chain http://x/none\n", ENOENT, "fetching http://x/none: HTTP 404"},
		{"relative without base", nil, "chain boot.ipxe\n", ENOTSUP, "relative URI"},
		{"not executable", map[string]string{"http://x/a.txt": "hello"}, "chain http://x/a.txt\n", ENOEXEC, "neither an iPXE script"},
		{"chained script fails", map[string]string{"http://x/s": "#!ipxe\nisset ${nothing}\n"}, "chain http://x/s || echo caught ${errno}\n", 0, "caught 0x2d00008e"},
		{"chained exit status", map[string]string{"http://x/s": "#!ipxe\nexit 7\n"}, "chain http://x/s\n", Errno(7), ""},
		{"chain loop", map[string]string{"http://x/s": "#!ipxe\nchain http://x/s\n"}, "chain http://x/s\n", ELOOP, "nested more than 16"},
		{"quiet", map[string]string{"http://x/s": "#!ipxe\necho quiet run\n"}, "chain --quiet http://x/s\n", 0, "quiet run"},
	}
	for _, tc := range tests {
		te := newTestEnv()
		for k, v := range tc.files {
			te.fetch.files[k] = v
		}
		out, status, err := te.run(tc.script)
		if status != tc.status {
			t.Errorf("%s: status %v (%v); want %v\n%s", tc.name, status, err, tc.status, out)
		}
		if !strings.Contains(out, tc.out) {
			t.Errorf("%s: output %q lacks %q", tc.name, out, tc.out)
		}
		if tc.name == "quiet" && strings.Contains(out, "...") {
			t.Errorf("quiet: output %q shows download progress", out)
		}
	}
}

func TestChainInterruptedByCtrlC(t *testing.T) {
	te := newTestEnv()
	done := make(chan error)
	go func() { done <- te.e.RunScript(context.Background(), "t.ipxe", []byte("chain http://slow/\n")) }()
	te.con.waitFor(t, "http://slow/... ")
	stop := time.After(5 * time.Second)
	for {
		te.con.Put(lineedit.KeyCtrlC)
		select {
		case err := <-done:
			if StatusOf(err) != ECANCELED {
				t.Fatalf("interrupted chain = %v; want ECANCELED", err)
			}
			return
		case <-stop:
			t.Fatal("Ctrl-C did not interrupt the download")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestCtrlCNotSwallowed: a Ctrl-C pressed while quick commands run
// interrupts the first command that waits, however the watcher
// goroutines of the quick ones are scheduled (one used to take it after
// its command had returned and drop it; the sleep then never ended).
func TestCtrlCNotSwallowed(t *testing.T) {
	for i := 0; i < 50; i++ {
		te := newTestEnv()
		te.con.typeKeys("\x03")
		done := make(chan error, 1)
		go func() {
			done <- te.e.RunScript(context.Background(), "t.ipxe", []byte("echo a\necho b\nset x 1\necho c\nsleep 3600\n"))
		}()
		select {
		case err := <-done:
			if StatusOf(err) != ECANCELED {
				t.Fatalf("run %d: sleep after an early Ctrl-C = %v; want ECANCELED", i, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("run %d: the Ctrl-C pressed before the script was lost: sleep still runs", i)
		}
	}
}

func TestKernelInitrdBoot(t *testing.T) {
	te := newTestEnv()
	te.fetch.files["http://x/vmlinuz"] = efiBinary
	te.fetch.files["http://x/initrd.img"] = "initrd data"
	out, status, err := te.run("#!ipxe\nkernel http://x/vmlinuz console=ttyAMA0 initrd=initrd.img\ninitrd http://x/initrd.img\nimgstat\nboot\n")
	if status != 0 {
		t.Fatalf("status %v (%v)\n%s", status, err, out)
	}
	if len(te.boot.boots) != 1 {
		t.Fatalf("booter called %d times; want 1", len(te.boot.boots))
	}
	r := te.boot.boots[0]
	if r.Image.Name != "vmlinuz" || r.Image.CommandLine() != "vmlinuz console=ttyAMA0 initrd=initrd.img" {
		t.Errorf("booted %q with %q; want vmlinuz with its arguments", r.Image.Name, r.Image.CommandLine())
	}
	var names []string
	for _, i := range r.Images {
		names = append(names, i.Name)
	}
	if !reflect.DeepEqual(names, []string{"initrd.img"}) {
		t.Errorf("images passed to the booter = %q; want only initrd.img (the running image is unregistered)", names)
	}
	for _, want := range []string{"vmlinuz : 17 bytes [efi] [SELECTED] \"console=ttyAMA0 initrd=initrd.img\"", "initrd.img : 11 bytes [data]"} {
		if !strings.Contains(out, want) {
			t.Errorf("imgstat output lacks %q:\n%s", want, out)
		}
	}
}

func TestImageCommands(t *testing.T) {
	te := newTestEnv()
	te.fetch.files["http://x/a.efi"] = efiBinary
	te.fetch.files["http://x/b.efi"] = efiBinary
	script := `#!ipxe
imgfetch --name first http://x/a.efi one two
imgfetch http://x/b.efi
imgargs first three
imgstat first
imgfree b.efi
imgstat
imgfree nosuch || echo no such image
boot || echo nothing selected
imgselect first
imgexec --autofree
imgstat
echo end
`
	out, status, err := te.run(script)
	if status != 0 {
		t.Fatalf("status %v (%v)\n%s", status, err, out)
	}
	want := []string{
		"first : 17 bytes [efi] \"three\"\n",
		"no such image\n",
		"No image selected",
		"nothing selected\n",
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "b.efi :") {
		t.Errorf("imgfree b.efi left it registered:\n%s", out)
	}
	if len(te.boot.args) != 1 || te.boot.args[0] != "first three" {
		t.Errorf("booted command lines %q; want [first three]", te.boot.args)
	}
	if n := len(te.e.Images()); n != 0 {
		t.Errorf("%d images left after imgexec --autofree; want 0", n)
	}
}

func TestChainReplace(t *testing.T) {
	te := newTestEnv()
	te.fetch.files["http://x/r.ipxe"] = "#!ipxe\necho replacement runs\n"
	out, status, err := te.run("chain --replace http://x/r.ipxe\necho not reached\n")
	if status != 0 || !strings.Contains(out, "replacement runs") || strings.Contains(out, "not reached") {
		t.Errorf("chain --replace: status %v (%v), output %q", status, err, out)
	}
}

func TestNotAvailable(t *testing.T) {
	// With no backends, every command that needs one fails clearly.
	cmds := []string{"chain http://x/y", "imgfetch http://x/y", "ifopen", "ifstat", "dhcp", "ifconf net0",
		"iflinkwait", "route", "ping 10.0.0.1", "nslookup a b", "ntp pool", "vcreate --tag 5 net0",
		"vdestroy net0-5", "sanboot iscsi:x::::iqn", "sanhook iscsi:x", "sanunhook", "reboot", "poweroff",
		"autoboot", "shell", "read x", "prompt", "login", "choose x"}
	for _, c := range cmds {
		con := newTestConsole()
		e := New(Env{Console: con})
		if strings.HasPrefix(c, "read") || strings.HasPrefix(c, "prompt") || strings.HasPrefix(c, "login") ||
			strings.HasPrefix(c, "shell") || strings.HasPrefix(c, "choose") {
			e = New(Env{})
			e.out = con
		}
		err := e.Exec(context.Background(), c)
		if StatusOf(err) != ENOTSUP || !errors.Is(err, ErrNotAvailable) {
			t.Errorf("Exec(%q) with no backend = %v (%v); want ENOTSUP not available", c, err, StatusOf(err))
		}
		if !strings.Contains(con.out.String(), "not available yet") {
			t.Errorf("Exec(%q) printed %q; want a \"not available yet\" message", c, con.out.String())
		}
	}
}

func TestNetworkCommands(t *testing.T) {
	te := newTestEnv()
	out, status, err := te.run(`#!ipxe
ifstat
dhcp
echo ip=${ip} mask=${netmask} gw=${gateway} dns=${dns} file=${filename} ns=${next-server}
echo netX=${netX/ip} net0=${net0.dhcp/ip} mac=${net0/mac}
show net0.dhcp/ip
route
nslookup server boot.example.test
echo server=${server}
nslookup other no.such.host || echo lookup failed
ping --count 2 10.0.0.1
ifclose net0
ifopen nosuch || echo open failed
`)
	if status != 0 {
		t.Fatalf("status %v (%v)\n%s", status, err, out)
	}
	for _, want := range []string{
		"net0: 52:54:00:12:34:56 (closed)\n  [Link:up, TX:0 TXE:0 RX:0 RXE:0]\n",
		"Configuring (net0 52:54:00:12:34:56)... ok\n",
		"ip=10.0.0.5 mask=255.255.255.0 gw=10.0.0.1 dns=10.0.0.53 file=http://10.0.0.1/boot.ipxe ns=10.0.0.1\n",
		"netX=10.0.0.5 net0=10.0.0.5 mac=52:54:00:12:34:56\n",
		"net0.dhcp/ip:ipv4 = 10.0.0.5\n",
		"net0: 10.0.0.5/255.255.255.0 gw 10.0.0.1\n",
		"server=10.0.0.80\n",
		"lookup failed\n",
		"64 bytes from 10.0.0.1: seq=1", "64 bytes from 10.0.0.1: seq=2",
		"Finished: 2 packets sent, 2 received\n",
		"\"nosuch\": no such network device", "open failed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if want := []string{"open net0", "dhcp net0", "close net0"}; !reflect.DeepEqual(te.links.log, want) {
		t.Errorf("link calls %q; want %q", te.links.log, want)
	}
}

func TestNetworkFailures(t *testing.T) {
	te := newTestEnv()
	delete(te.links.leases, "net0")
	te.links.ifs[0].Link = false
	te.e.env.Pinger = &fakePinger{lose: map[int]bool{2: true}}
	tests := []struct {
		line   string
		status Errno
	}{
		{"dhcp", ETIMEDOUT},
		{"dhcp --configurator ipv6", ENOTSUP},
		{"iflinkwait --timeout 30", ETIMEDOUT},
		{"ping -c 2 -t 20 10.0.0.1", ETIMEDOUT},
		{"vcreate net0", ENOTSUP},
		{"sleep x", EINVAL},
	}
	for _, tc := range tests {
		if err := te.e.Exec(context.Background(), tc.line); StatusOf(err) != tc.status {
			t.Errorf("Exec(%q) = %v (%v); want %v", tc.line, err, StatusOf(err), tc.status)
		}
	}
}

func TestSANCommands(t *testing.T) {
	te := newTestEnv()
	script := `#!ipxe
set username alice
set password s3cret
set reverse-username tgt
set reverse-password t4rget
set initiator-iqn iqn.2024-01.test:client
sanhook --drive 0x81 iscsi:10.0.0.3::::iqn.2024-01.test:disk
sanboot --no-describe --filename \EFI\BOOT\BOOTAA64.EFI --keep iscsi:10.0.0.3::::iqn.2024-01.test:disk
sanboot iscsi:10.0.0.3::::iqn.2024-01.test:disk2
sanunhook --drive 0x81
sanhook bad:target || echo hook failed
`
	out, status, err := te.run(script)
	if status != 0 {
		t.Fatalf("status %v (%v)\n%s", status, err, out)
	}
	want := []string{
		"hook 0x81 iscsi:10.0.0.3::::iqn.2024-01.test:disk",
		"hook 0x80 iscsi:10.0.0.3::::iqn.2024-01.test:disk", "boot 0x80",
		"hook 0x80 iscsi:10.0.0.3::::iqn.2024-01.test:disk2", "boot 0x80", "unhook 0x80",
		"unhook 0x81",
		"hook 0x80 bad:target",
	}
	if !reflect.DeepEqual(te.san.log, want) {
		t.Errorf("SAN calls %q; want %q", te.san.log, want)
	}
	cfg := te.san.cfgs[1]
	wantCreds := SANCredentials{InitiatorIQN: "iqn.2024-01.test:client", Username: "alice", Password: "s3cret",
		ReverseUsername: "tgt", ReversePassword: "t4rget"}
	if cfg.Credentials != wantCreds || !cfg.NoDescribe || !cfg.Keep || cfg.Filename != `\EFI\BOOT\BOOTAA64.EFI` {
		t.Errorf("sanboot config %+v; want credentials %+v, no-describe, keep, filename", cfg, wantCreds)
	}
	if !strings.Contains(out, "hook failed") || !strings.Contains(out, "Registered SAN device 0x81") {
		t.Errorf("output:\n%s", out)
	}
	if strings.Contains(out, "s3cret") || strings.Contains(out, "t4rget") {
		t.Errorf("SAN output shows a password:\n%s", out)
	}

	// A failed boot unhooks the drive unless --keep.
	te = newTestEnv()
	te.san.bootErr = errors.New("no bootable partition")
	_, status, _ = te.run("sanboot iscsi:x::::iqn.a:b\n")
	if status != EIO || te.san.log[len(te.san.log)-1] != "unhook 0x80" {
		t.Errorf("failed sanboot: status %v, calls %q; want EIO and unhook", status, te.san.log)
	}
}

func TestAutoboot(t *testing.T) {
	// filename: chained.
	te := newTestEnv()
	te.fetch.files["http://10.0.0.1/boot.ipxe"] = "#!ipxe\necho booted by ${filename}\n"
	out, status, err := te.run("autoboot\n")
	if status != 0 || !strings.Contains(out, "booted by http://10.0.0.1/boot.ipxe") {
		t.Errorf("autoboot with filename: status %v (%v)\n%s", status, err, out)
	}

	// root-path only: sanboot with the DHCP credentials.
	te = newTestEnv()
	l := te.links.leases["net0"]
	delete(l.Options, 67)
	l.Options[17] = []byte("iscsi:10.0.0.3::::iqn.2024-01.test:disk")
	l.Options[175] = []byte{190, 5, 'a', 'l', 'i', 'c', 'e', 191, 2, 'p', 'w'}
	te.links.leases["net0"] = l
	out, status, err = te.run("autoboot\n")
	if status != 0 || !reflect.DeepEqual(te.san.log, []string{"hook 0x80 iscsi:10.0.0.3::::iqn.2024-01.test:disk", "boot 0x80", "unhook 0x80"}) {
		t.Errorf("autoboot with root-path: status %v (%v), SAN %q\n%s", status, err, te.san.log, out)
	}
	if c := te.san.cfgs[0].Credentials; c.Username != "alice" || c.Password != "pw" {
		t.Errorf("autoboot SAN credentials %+v; want alice/pw from option 175", c)
	}

	// Relative filename: TFTP from next-server (which the fake cannot fetch).
	te = newTestEnv()
	l = te.links.leases["net0"]
	l.Options[67] = []byte("snp.efi")
	te.links.leases["net0"] = l
	te.run("autoboot\n")
	if len(te.fetch.fetched) != 1 || te.fetch.fetched[0] != "tftp://10.0.0.1/snp.efi" {
		t.Errorf("autoboot fetched %q; want tftp://10.0.0.1/snp.efi", te.fetch.fetched)
	}

	// Nothing to boot.
	te = newTestEnv()
	l = te.links.leases["net0"]
	delete(l.Options, 67)
	te.links.leases["net0"] = l
	if _, status, _ := te.run("autoboot\n"); status != ENOENT {
		t.Errorf("autoboot with nothing to boot: status %v; want ENOENT", status)
	}

}

// TestAutobootPXEMenu: a ProxyDHCP answer with a PXE boot menu (as
// dnsmasq sends for several pxe-service lines): the menu is listed, a
// digit within the prompt's timeout picks an item, the boot servers are
// asked for its type and the answer's file is booted from its
// next-server; no key takes the first item; Esc cancels.
func TestAutobootPXEMenu(t *testing.T) {
	// dnsmasq's option 43: unicast discovery, two servers, two items,
	// prompt "Choose" with the given timeout.
	menu := func(timeout byte) []byte {
		return []byte{6, 1, 3, 8, 14, 0x80, 0, 1, 10, 0, 0, 9, 0x80, 1, 1, 10, 0, 0, 9,
			9, 17, 0x80, 0, 5, 'f', 'i', 'r', 's', 't', 0x80, 1, 6, 's', 'e', 'c', 'o', 'n', 'd',
			10, 7, timeout, 'C', 'h', 'o', 'o', 's', 'e', 255}
	}
	setup := func(timeout byte) *testEnv {
		te := newTestEnv()
		l := te.links.leases["net0"]
		delete(l.Options, 67)
		l.Proxy = &settings.Lease{Options: map[uint8][]byte{60: []byte("PXEClient"), 43: menu(timeout)}, ServerIP: netip.MustParseAddr("10.0.0.9")}
		l.ProxyFrom = "10.0.0.9 (port 4011)"
		te.links.leases["net0"] = l
		for _, f := range []string{"item-8000.ipxe", "item-8001.ipxe"} {
			te.fetch.files["tftp://10.0.0.9/"+f] = "#!ipxe\necho booted " + f + " pxebs=${pxebs/filename}\n"
		}
		return te
	}
	te := setup(5)
	te.con.typeKeys("2")
	out, status, err := te.run("autoboot\n")
	for _, want := range []string{"net0: ProxyDHCP 10.0.0.9 (port 4011): no filename\n", "Booting from PXE menu (proxydhcp)\n  1. first\n  2. second\nChoose (5)\n",
		"PXE boot menu: second (type 0x8001)\n", "booted item-8001.ipxe pxebs=item-8001.ipxe\n"} {
		if status != 0 || !strings.Contains(out, want) {
			t.Errorf("autoboot with a PXE menu, key 2: status %v (%v); output lacks %q:\n%s", status, err, want, out)
		}
	}
	if got := te.links.log[len(te.links.log)-1]; got != "pxebs net0 0x8001" {
		t.Errorf("last link call %q; want pxebs net0 0x8001", got)
	}

	// Timeout 0: the first item at once, no prompt.
	te = setup(0)
	start := time.Now()
	if out, status, _ := te.run("autoboot\n"); status != 0 || !strings.Contains(out, "booted item-8000.ipxe") || strings.Contains(out, "Choose") || time.Since(start) > time.Second {
		t.Errorf("autoboot with a PXE menu, timeout 0: status %v\n%s", status, out)
	}

	// Esc cancels.
	te = setup(255)
	te.con.typeKeys("\x1b")
	if out, status, _ := te.run("autoboot\n"); status != ECANCELED {
		t.Errorf("autoboot with a PXE menu, Esc: status %v; want ECANCELED\n%s", status, out)
	}
}

// TestAutobootProxyDHCP: a DHCP lease without a filename plus a
// ProxyDHCP answer. The answer becomes the "proxydhcp" scope; autoboot
// boots its filename from its own next-server; a filename in the DHCP
// lease wins (iPXE's settings order); the next DHCP drops the scope.
func TestAutobootProxyDHCP(t *testing.T) {
	withProxy := func(te *testEnv, dhcpFile string) {
		l := te.links.leases["net0"]
		delete(l.Options, 67)
		if dhcpFile != "" {
			l.Options[67] = []byte(dhcpFile)
		}
		l.Proxy = &settings.Lease{
			Options:  map[uint8][]byte{60: []byte("PXEClient")},
			ServerIP: netip.MustParseAddr("10.0.0.9"),
			BootFile: "pxe/boot.ipxe",
		}
		l.ProxyFrom = "10.0.0.9 port 4011"
		te.links.leases["net0"] = l
	}
	te := newTestEnv()
	withProxy(te, "")
	te.fetch.files["tftp://10.0.0.9/pxe/boot.ipxe"] = "#!ipxe\necho chained ${proxydhcp/filename} from ${proxydhcp/next-server} dhcp-next ${net0.dhcp/next-server}\n"
	out, status, err := te.run("autoboot\n")
	if status != 0 {
		t.Errorf("autoboot with a ProxyDHCP filename: status %v (%v)\n%s", status, err, out)
	}
	for _, want := range []string{
		`net0: ProxyDHCP 10.0.0.9 port 4011: filename "pxe/boot.ipxe" next-server 10.0.0.9` + "\n",
		"Using the ProxyDHCP filename pxe/boot.ipxe\nNext server: 10.0.0.9\n",
		"chained pxe/boot.ipxe from 10.0.0.9 dhcp-next 10.0.0.1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("autoboot output lacks %q:\n%s", want, out)
		}
	}

	// ${filename} is the proxy's while the DHCP lease has none.
	te = newTestEnv()
	withProxy(te, "")
	if out, _, _ := te.run("dhcp\necho f=${filename} p=${proxydhcp/filename}\n"); !strings.Contains(out, "f=pxe/boot.ipxe p=pxe/boot.ipxe\n") {
		t.Errorf("settings after a ProxyDHCP lease:\n%s", out)
	}

	// A DHCP filename wins over the ProxyDHCP one.
	te = newTestEnv()
	withProxy(te, "http://10.0.0.1/dhcp.ipxe")
	te.fetch.files["http://10.0.0.1/dhcp.ipxe"] = "#!ipxe\necho dhcp-file-won\n"
	if out, status, _ := te.run("autoboot\n"); status != 0 || !strings.Contains(out, "dhcp-file-won") || strings.Contains(out, "Using the ProxyDHCP") {
		t.Errorf("autoboot with DHCP and ProxyDHCP filenames: status %v\n%s", status, out)
	}

	// The next DHCP without ProxyDHCP drops the old answer; a note is shown.
	te = newTestEnv()
	withProxy(te, "")
	te.run("dhcp\n")
	l := te.links.leases["net0"]
	l.Proxy, l.ProxyFrom, l.ProxyNote = nil, "", "ProxyDHCP server 10.0.0.9 gave no boot information on port 4011 within 2s"
	te.links.leases["net0"] = l
	out, _, _ = te.run("dhcp\nisset ${proxydhcp/filename} && echo still-set || echo proxy-gone\n")
	if !strings.Contains(out, "proxy-gone") || !strings.Contains(out, "net0: ProxyDHCP server 10.0.0.9 gave no boot information") {
		t.Errorf("second DHCP without ProxyDHCP:\n%s", out)
	}
}

func TestSystemCommands(t *testing.T) {
	te := newTestEnv()
	te.run("reboot\nreboot --warm\nreboot -s\npoweroff\n")
	want := []string{"reboot 0", "reboot 1", "reboot 2", "poweroff"}
	if !reflect.DeepEqual(te.system.log, want) {
		t.Errorf("system calls %q; want %q", te.system.log, want)
	}
}

func TestPromptAndSleep(t *testing.T) {
	te := newTestEnv()
	te.con.typeKeys("\x02")
	if _, status, _ := te.run("prompt --key 0x02 --timeout 2000 Press Ctrl-B\n"); status != 0 {
		t.Errorf("prompt with the right key: status %v; want 0", status)
	}
	te.con.typeKeys("x")
	if _, status, _ := te.run("prompt --key 0x02 Press Ctrl-B\n"); status != ECANCELED {
		t.Errorf("prompt with another key: status %v; want ECANCELED", status)
	}
	te.con.typeKeys("b")
	if _, status, _ := te.run("prompt -k b\n"); status != 0 {
		t.Errorf("prompt -k b with b: status %v; want 0", status)
	}
	out, status, _ := te.run("prompt --timeout 30 Waiting\n")
	if status != ETIMEDOUT {
		t.Errorf("prompt timing out: status %v; want ETIMEDOUT", status)
	}
	if !strings.HasPrefix(out, "test.ipxe:1: ") {
		t.Errorf("prompt did not erase its text: %q", out)
	}

	// Ctrl-C interrupts sleep.
	done := make(chan error)
	go func() { done <- te.e.Exec(context.Background(), "sleep 30") }()
	deadline := time.After(5 * time.Second)
	for {
		te.con.Put(lineedit.KeyCtrlC)
		select {
		case err := <-done:
			if StatusOf(err) != ECANCELED {
				t.Fatalf("interrupted sleep = %v; want ECANCELED", err)
			}
			return
		case <-deadline:
			t.Fatal("Ctrl-C did not interrupt sleep")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestReadAndLogin(t *testing.T) {
	te := newTestEnv()
	te.con.typeKeys("\x7f\x7fnew\r")
	out, status, _ := te.run("set name old\nread name\necho name=${name}\n")
	if status != 0 || !strings.Contains(out, "name=onew\n") {
		t.Errorf("read: status %v output %q; want name=onew", status, out)
	}
	te.con.typeKeys("alice\rs3cret\r")
	out, status, _ = te.run("login\necho user=${username}\nshow password\n")
	if status != 0 || !strings.Contains(out, "user=alice\n") || !strings.Contains(out, "password:string = <hidden>") {
		t.Errorf("login: status %v output %q", status, out)
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("login echoed the password: %q", out)
	}
	if v, _ := te.e.Settings.Get("password"); v != "s3cret" {
		t.Errorf("password after login = %q; want s3cret", v)
	}
	if _, status, _ := te.run("read --timeout 20 x\n"); status != ETIMEDOUT {
		t.Errorf("read timing out: status %v; want ETIMEDOUT", status)
	}
	te.con.typeKeys("abc\x03")
	if _, status, _ := te.run("read x\n"); status != ECANCELED {
		t.Errorf("read with Ctrl-C: status %v; want ECANCELED", status)
	}
}

func TestMenu(t *testing.T) {
	menu := `#!ipxe
menu Boot menu
item --gap -- Operating systems
item linux  Boot Linux
item --key w windows Boot Windows
item --default shell  snp-go shell
choose %s target && goto ${target} || goto cancelled
:linux
echo chose linux
exit
:windows
echo chose windows
exit
:shell
echo chose shell
exit
:cancelled
echo cancelled ${errno}
`
	tests := []struct {
		name, keys, opts, want string
	}{
		{"enter picks default", "\r", "", "chose shell"},
		{"up then enter", "\x1b[A\x1b[A\r", "", "chose linux"},
		{"down stops at end", "\x1b[A\x1b[B\x1b[B\x1b[B\r", "", "chose shell"},
		{"shortcut key", "w", "", "chose windows"},
		{"escape cancels", "\x1b", "", "cancelled 0xb000095"},
		{"--default", "\r", "--default linux", "chose linux"},
		{"timeout picks default", "", "--timeout 300", "chose shell"},
	}
	for _, tc := range tests {
		te := newTestEnv()
		te.con.typeKeys(tc.keys)
		out, status, err := te.run(strings.Replace(menu, "%s", tc.opts, 1))
		if status != 0 || !strings.Contains(out, tc.want+"\n") {
			t.Errorf("%s: status %v (%v); output lacks %q:\n%s", tc.name, status, err, tc.want, out)
		}
		if !strings.Contains(out, "Boot menu\n  Operating systems\n      Boot Linux\n  [w] Boot Windows\n") {
			t.Errorf("%s: menu not drawn as expected:\n%q", tc.name, out)
		}
		if _, ok := te.e.menus[""]; ok {
			t.Errorf("%s: menu kept after choose without --keep", tc.name)
		}
	}
	te := newTestEnv()
	if _, status, _ := te.run("choose x\n"); status != ENOENT {
		t.Errorf("choose without a menu: status %v; want ENOENT", status)
	}
	if _, status, _ := te.run("menu\nitem --gap heading\nchoose x\n"); status != ENOENT {
		t.Errorf("choose with no selectable item: status %v; want ENOENT", status)
	}
}

func TestShell(t *testing.T) {
	te := newTestEnv()
	done := make(chan error)
	go func() { done <- te.e.Shell(context.Background()) }()
	te.con.typeKeys("set greeting hello\r")
	te.con.typeKeys("echo ${greeting} world\r")
	te.con.waitFor(t, "hello world\n")
	te.con.typeKeys("ec\t${gree\t\r") // completion of a command and a setting
	te.con.waitFor(t, "\nhello\n")
	te.con.typeKeys("\x1b[A\x1b[A\r") // history: the echo line again
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(te.con.out.String(), "hello world\n") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("history recall did not rerun the echo:\n%s", te.con.out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	te.con.typeKeys("sleep 30\r")
	te.con.waitFor(t, "sleep 30\n")
	stop := time.After(5 * time.Second)
	for !strings.Contains(te.con.out.String(), "sleep interrupted") {
		te.con.Put(lineedit.KeyCtrlC)
		select {
		case <-stop:
			t.Fatal("Ctrl-C did not interrupt sleep in the shell")
		case <-time.After(20 * time.Millisecond):
		}
	}
	te.con.typeKeys("goto x\r")
	te.con.waitFor(t, "Not in a script")
	te.con.typeKeys("exit 5\r")
	select {
	case err := <-done:
		if StatusOf(err) != 5 {
			t.Errorf("Shell() after exit 5 = %v; want status 5", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("exit did not leave the shell")
	}
	if !strings.HasPrefix(te.con.out.String(), ShellPrompt) {
		t.Errorf("shell output does not start with the prompt: %q", te.con.out.String())
	}
}

func TestStartup(t *testing.T) {
	// Ctrl-B at the banner: the shell, and exit returns.
	te := newTestEnv()
	te.con.typeKeys("\x02echo in shell\rexit\r")
	if err := te.e.Startup(context.Background(), []byte("#!ipxe\necho embedded\n"), ShellPromptTimeout); err != nil {
		t.Errorf("Startup with Ctrl-B = %v; want nil", err)
	}
	out := te.con.out.String()
	if !strings.Contains(out, ShellPromptText) || !strings.Contains(out, "in shell\n") || strings.Contains(out, "embedded") {
		t.Errorf("Startup with Ctrl-B output:\n%q", out)
	}

	// Another key: the embedded script runs at once.
	te = newTestEnv()
	te.con.typeKeys("x")
	start := time.Now()
	if err := te.e.Startup(context.Background(), []byte("#!ipxe\necho embedded\n"), ShellPromptTimeout); err != nil {
		t.Errorf("Startup = %v; want nil", err)
	}
	if !strings.Contains(te.con.out.String(), "embedded\n") || time.Since(start) > time.Second {
		t.Errorf("Startup did not run the embedded script at once: %q", te.con.out.String())
	}
	// The prompt line is ended before the script's output.
	if out := te.con.out.String(); !strings.HasPrefix(out, ShellPromptText+"\n") {
		t.Errorf("Startup output = %q; want it to start with %q", out, ShellPromptText+"\n")
	}

	// No key: the prompt waits for the whole banner timeout.
	te = newTestEnv()
	start = time.Now()
	if err := te.e.Startup(context.Background(), []byte("#!ipxe\necho embedded\n"), 300*time.Millisecond); err != nil {
		t.Errorf("Startup = %v; want nil", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("Startup with a 300ms banner and no key returned after %v", d)
	}
	if out := te.con.out.String(); out != ShellPromptText+"\nembedded\n" {
		t.Errorf("Startup output = %q; want %q", out, ShellPromptText+"\nembedded\n")
	}

	// BANNER_TIMEOUT=0: no prompt and no wait, even with nothing typed.
	te = newTestEnv()
	start = time.Now()
	if err := te.e.Startup(context.Background(), []byte("#!ipxe\necho embedded\n"), 0); err != nil {
		t.Errorf("Startup(banner 0) = %v; want nil", err)
	}
	if out := te.con.out.String(); out != "embedded\n" || time.Since(start) > 200*time.Millisecond {
		t.Errorf("Startup(banner 0) printed %q after %v; want only %q at once", out, time.Since(start), "embedded\n")
	}

	// No embedded script: the default script; DHCP fails so it starts the shell.
	te = newTestEnv()
	delete(te.links.leases, "net0")
	te.con.typeKeys("x")
	go func() {
		for !strings.Contains(te.con.out.String(), ShellPrompt) {
			time.Sleep(5 * time.Millisecond)
		}
		te.con.typeKeys("exit\r")
	}()
	if err := te.e.Startup(context.Background(), nil, ShellPromptTimeout); err != nil {
		t.Errorf("Startup with the default script = %v; want nil after exit", err)
	}
	if out := te.con.out.String(); !strings.Contains(out, "network boot did not succeed (error 0x4c000092)") {
		t.Errorf("default script output:\n%s", out)
	}
}
