package script

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"
)

func gzipped(t testing.TB, data string) string {
	t.Helper()
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	w.Name = "original-name" // FNAME: iPXE skips it, so must we
	w.Write([]byte(data))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func zlibbed(t testing.TB, data string) string {
	t.Helper()
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write([]byte(data))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// testFDT is a minimal valid flattened device tree (Devicetree
// Specification 0.4 §5): the header, an empty reservation map, a root
// node with a "model" property, and the strings block.
func testFDT(model string) []byte {
	be := binary.BigEndian
	var st []byte
	tok := func(v ...uint32) {
		for _, x := range v {
			st = be.AppendUint32(st, x)
		}
	}
	tok(1, 0) // FDT_BEGIN_NODE "" (padded)
	val := append([]byte(model), 0)
	tok(3, uint32(len(val)), 0) // FDT_PROP len nameoff
	st = append(st, val...)
	for len(st)%4 != 0 {
		st = append(st, 0)
	}
	tok(2, 9) // FDT_END_NODE, FDT_END
	strs := []byte("model\x00")
	const hdr, rsv = 40, 16
	total := hdr + rsv + len(st) + len(strs)
	b := make([]byte, hdr+rsv, total)
	for i, v := range []uint32{0xd00dfeed, uint32(total), hdr + rsv, uint32(hdr + rsv + len(st)), hdr, 17, 16, 0, uint32(len(strs)), uint32(len(st))} {
		be.PutUint32(b[4*i:], v)
	}
	return append(append(b, st...), strs...)
}

func TestDigestCommands(t *testing.T) {
	te := newTestEnv()
	te.fetch.files["http://x/abc"] = "abc"
	te.fetch.files["http://x/empty"] = ""
	tests := []struct {
		script string
		status Errno
		out    string
	}{
		// coreutils' digests of "abc" and of nothing.
		{"md5sum http://x/abc", 0, "900150983cd24fb0d6963f7d28e17f72  abc\n"},
		{"sha1sum abc", 0, "a9993e364706816aba3e25717850c26c9cd0d89d  abc\n"},
		{"sha256sum abc http://x/empty", 0, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  abc\nhttp://x/empty... ok"},
		{"sha256sum empty", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  empty\n"},
		{"sha512sum empty", 0, "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e  empty\n"},
		{"md5sum --set sum abc && echo ${sum}", 0, "900150983cd24fb0d6963f7d28e17f72\n"},
		{"sha1sum --set sum:hex abc && echo ${sum}", 0, "a9:99:3e:36:47:06:81:6a:ba:3e:25:71:78:50:c2:6c:9c:d0:d8:9d\n"},
		{"md5sum", ERANGE, "Usage:\n\n  md5sum [-s|--set <set>] <image> [<image>...]\n"},
		{"md5sum nosuch", ENOTSUP, "relative URI"},
		{"md5sum http://x/none", ENOENT, "HTTP 404"},
	}
	for _, tc := range tests {
		out, status, err := te.run(tc.script + "\n")
		if status != tc.status || !strings.Contains(out, tc.out) {
			t.Errorf("run(%q) = %q, %v (%v); want %q, %v", tc.script, out, status, err, tc.out, tc.status)
		}
	}
}

func TestImgextract(t *testing.T) {
	payload := "#!ipxe\necho extracted script ran\n"
	gz := gzipped(t, payload)
	tests := []struct {
		name, script string
		status       Errno
		out          string
		images       []string // names left registered, in order
	}{
		{"gzip, default name", "imgextract http://x/boot.ipxe.gz\nimgstat\n", 0,
			"boot.ipxe : 33 bytes [script]\n", []string{"boot.ipxe"}},
		{"zlib", "imgextract --quiet http://x/boot.ipxe.zlib && chain boot.ipxe\n", 0,
			"extracted script ran\n", []string{"boot.ipxe"}},
		{"--name, --keep", "imgextract -k -n s.ipxe http://x/boot.ipxe.gz\nimgstat\n", 0,
			fmt.Sprintf("boot.ipxe.gz : %d bytes [gzip]\ns.ipxe : 33 bytes [script]\n", len(gz)), []string{"boot.ipxe.gz", "s.ipxe"}},
		{"name without suffix", "imgfetch -n kernel http://x/boot.ipxe.gz\nimgextract kernel\n", 0, "",
			[]string{"kernel"}},
		{"not compressed", "imgextract http://x/plain\n", ENOTSUP,
			"Could not extract image: Operation not supported (0x3c000083)", nil},
		{"not compressed, --keep", "imgextract --keep http://x/plain\n", ENOTSUP, "", []string{"plain"}},
		{"corrupt", "imgextract http://x/bad.gz\n", EINVAL, "Could not extract image: Invalid argument", nil},
		{"truncated", "imgextract http://x/short.gz\n", EINVAL, "Could not extract image: Invalid argument", nil},
		{"no argument", "imgextract\n", ERANGE,
			"Usage:\n\n  imgextract [-n|--name <name>] [-k|--keep] [-t|--timeout <timeout>] [-q|--quiet]\n", nil},
		{"timeout", "imgextract --timeout 10 http://slow/\n", ETIMEDOUT, "", nil},
		{"chain a gzip image", "chain http://x/boot.ipxe.gz\nimgstat\n", 0,
			fmt.Sprintf("extracted script ran\nboot.ipxe.gz : %d bytes [gzip]\n", len(gz)), []string{"boot.ipxe.gz"}},
	}
	bad := []byte(gz)
	bad[10+len("original-name\x00")] = 0xff // deflate block type 3: reserved
	for _, tc := range tests {
		te := newTestEnv()
		te.fetch.files["http://x/boot.ipxe.gz"] = gz
		te.fetch.files["http://x/boot.ipxe.zlib"] = zlibbed(t, payload)
		te.fetch.files["http://x/plain"] = "plain data"
		te.fetch.files["http://x/bad.gz"] = string(bad)
		te.fetch.files["http://x/short.gz"] = gz[:len(gz)/2]
		out, status, err := te.run(tc.script)
		if status != tc.status || !strings.Contains(out, tc.out) {
			t.Errorf("%s: run(%q) = %q, %v (%v); want %q, %v", tc.name, tc.script, out, status, err, tc.out, tc.status)
		}
		var names []string
		for _, img := range te.e.Images() {
			names = append(names, img.Name)
		}
		if !reflect.DeepEqual(names, tc.images) {
			t.Errorf("%s: images after %q = %q; want %q", tc.name, tc.script, names, tc.images)
		}
	}
}

func TestImgextractKeepsTrustAndURI(t *testing.T) {
	te := newTestEnv()
	te.e.RegisterImage(&Image{Name: "k.gz", URI: "http://x/k.gz", Data: []byte(gzipped(t, efiBinary)), Trusted: true})
	if _, status, err := te.run("imgextract k.gz\n"); status != 0 {
		t.Fatalf("imgextract k.gz = %v (%v)", status, err)
	}
	imgs := te.e.Images()
	if len(imgs) != 1 {
		t.Fatalf("images = %d; want 1", len(imgs))
	}
	if x := imgs[0]; x.Name != "k" || x.URI != "http://x/k.gz" || !x.Trusted || string(x.Data) != efiBinary {
		t.Errorf("extracted = %q %q trusted %v %q; want k, http://x/k.gz, trusted, the EFI binary", x.Name, x.URI, x.Trusted, x.Data)
	}
}

func TestCheckFDT(t *testing.T) {
	good := testFDT("snp-go test")
	if got, err := CheckFDT(append(good, 0, 0, 0)); err != nil || !bytes.Equal(got, good) {
		t.Fatalf("CheckFDT(good+3 bytes) = %d bytes, %v; want the %d-byte blob", len(got), err, len(good))
	}
	set := func(off int, v uint32) []byte {
		b := append([]byte(nil), good...)
		binary.BigEndian.PutUint32(b[off:], v)
		return b
	}
	tests := []struct {
		name string
		blob []byte
		want string
	}{
		{"short", good[:39], "too short"},
		{"magic", set(0, 0xfeedd00d), "bad magic 0xfeedd00d"},
		{"totalsize past end", set(4, uint32(len(good)+1)), "does not fit"},
		{"totalsize below header", set(4, 8), "does not fit"},
		{"version", set(24, 2), "last compatible version 2"},
		{"structure past end", set(8, uint32(len(good))), "structure block"},
		{"structure misaligned", set(8, 57), "not 4-byte aligned"},
		{"strings size overflow", set(32, 0xffffffff), "strings block"},
	}
	for _, tc := range tests {
		if _, err := CheckFDT(tc.blob); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckFDT(%s) = %v; want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// FuzzCheckFDT: any blob from the network is accepted only whole and
// inside its bytes, and never panics the checker.
func FuzzCheckFDT(f *testing.F) {
	f.Add(testFDT("m"))
	f.Add([]byte{0xd0, 0x0d, 0xfe, 0xed})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := CheckFDT(b)
		if err != nil {
			return
		}
		if len(got) < 40 || len(got) > len(b) || binary.BigEndian.Uint32(got) != 0xd00dfeed ||
			int(binary.BigEndian.Uint32(got[4:])) != len(got) {
			t.Fatalf("CheckFDT accepted %x as %d bytes", b, len(got))
		}
	})
}

// fakeDeviceTree records installs and restores.
type fakeDeviceTree struct {
	log []string
	err error
}

func (d *fakeDeviceTree) InstallFDT(blob []byte) error {
	d.log = append(d.log, fmt.Sprintf("install %d", len(blob)))
	return d.err
}

func (d *fakeDeviceTree) RestoreFDT() error {
	d.log = append(d.log, "restore")
	return nil
}

// logBooter logs boots into the device tree's log, to show the order.
type logBooter struct {
	dt  *fakeDeviceTree
	err error
	req []BootRequest
}

func (b *logBooter) Boot(ctx context.Context, r BootRequest) error {
	b.dt.log = append(b.dt.log, "boot "+r.Image.Name)
	b.req = append(b.req, r)
	return b.err
}

func TestFDT(t *testing.T) {
	dtb := testFDT("snp-go test")
	tests := []struct {
		name, script string
		status       Errno
		out          string
		log          []string
	}{
		{"installed for the boot", "fdt http://x/t.dtb\nimgstat\nchain http://x/k.efi\n", 0,
			fmt.Sprintf("t.dtb : %d bytes [data] [FDT] [HIDDEN]\n", len(dtb)),
			[]string{fmt.Sprintf("install %d", len(dtb)), "boot k.efi", "restore"}},
		{"cleared", "fdt http://x/t.dtb\nfdt\nchain http://x/k.efi\n", 0, "", []string{"boot k.efi"}},
		{"still selected after imgfree, as iPXE's tag", "fdt -q http://x/t.dtb\nimgfree\nchain http://x/k.efi\n", 0, "",
			[]string{fmt.Sprintf("install %d", len(dtb)), "boot k.efi", "restore"}},
		{"bad blob", "fdt http://x/bad.dtb\n", EINVAL, "bad.dtb is not a flattened device tree: bad magic 0x4d5a9000", nil},
		{"short blob", "fdt http://x/k.efi\n", EINVAL, "k.efi is not a flattened device tree: 17 bytes is too short", nil},
		{"missing", "fdt http://x/none.dtb\n", ENOENT, "HTTP 404", nil},
		{"usage", "fdt a b\n", ERANGE, "Usage:\n\n  fdt [-t|--timeout <timeout>] [-q|--quiet] [<uri>]\n", nil},
		{"not for scripts", "fdt http://x/t.dtb\nchain http://x/s.ipxe\n", 0, "script ran", nil},
	}
	for _, tc := range tests {
		te := newTestEnv()
		dt := &fakeDeviceTree{}
		te.e.env.DeviceTree = dt
		te.e.env.Booter = &logBooter{dt: dt}
		te.fetch.files["http://x/t.dtb"] = string(dtb)
		te.fetch.files["http://x/k.efi"] = efiBinary
		te.fetch.files["http://x/s.ipxe"] = "#!ipxe\necho script ran\n"
		te.fetch.files["http://x/bad.dtb"] = efiBinary + strings.Repeat("\x00", 64)
		out, status, err := te.run(tc.script)
		if status != tc.status || !strings.Contains(out, tc.out) {
			t.Errorf("%s: run(%q) = %q, %v (%v); want %q, %v", tc.name, tc.script, out, status, err, tc.out, tc.status)
		}
		if !reflect.DeepEqual(dt.log, tc.log) {
			t.Errorf("%s: device tree and boot calls = %q; want %q", tc.name, dt.log, tc.log)
		}
	}
}

func TestFDTHiddenFromBootedImage(t *testing.T) {
	te := newTestEnv()
	dt := &fakeDeviceTree{}
	b := &logBooter{dt: dt}
	te.e.env.DeviceTree, te.e.env.Booter = dt, b
	te.fetch.files["http://x/t.dtb"] = string(testFDT("m"))
	te.fetch.files["http://x/initrd"] = "initrd"
	te.fetch.files["http://x/k.efi"] = efiBinary
	if out, status, err := te.run("fdt http://x/t.dtb\ninitrd http://x/initrd\nchain http://x/k.efi\n"); status != 0 {
		t.Fatalf("status %v (%v)\n%s", status, err, out)
	}
	var names []string
	for _, i := range b.req[0].Images {
		names = append(names, i.Name)
	}
	if !reflect.DeepEqual(names, []string{"initrd"}) {
		t.Errorf("images offered to the booted image = %q; want [initrd] (the device tree is hidden, as in iPXE)", names)
	}
}

func TestFDTFailures(t *testing.T) {
	// No firmware tables: fdt says so instead of selecting what no boot can install.
	te := newTestEnv()
	te.fetch.files["http://x/t.dtb"] = string(testFDT("m"))
	out, status, err := te.run("fdt http://x/t.dtb\n")
	if status != ENOTSUP || !errors.Is(err, ErrNotAvailable) || !strings.Contains(out, "not available") {
		t.Errorf("fdt without a DeviceTree backend = %q, %v (%v); want ENOTSUP not available", out, status, err)
	}
	if _, status, _ := te.run("fdt\n"); status != 0 {
		t.Errorf("fdt (clear) without a DeviceTree backend = %v; want 0", status)
	}
	// The firmware refuses the table: the image is not booted.
	te = newTestEnv()
	dt := &fakeDeviceTree{err: errors.New("out of resources")}
	te.e.env.DeviceTree, te.e.env.Booter = dt, &logBooter{dt: dt}
	te.fetch.files["http://x/t.dtb"] = string(testFDT("m"))
	te.fetch.files["http://x/k.efi"] = efiBinary
	out, status, err = te.run("fdt http://x/t.dtb\nchain http://x/k.efi\n")
	if status != EIO || !strings.Contains(out, "installing device tree t.dtb: out of resources") {
		t.Errorf("boot with a refused table = %q, %v (%v); want EIO naming the table", out, status, err)
	}
	if want := []string{fmt.Sprintf("install %d", len(testFDT("m")))}; !reflect.DeepEqual(dt.log, want) {
		t.Errorf("calls = %q; want %q", dt.log, want)
	}
}

func TestShim(t *testing.T) {
	refused := fmt.Errorf("k.efi: the firmware refused to load it: %w", fs.ErrPermission)
	tests := []struct {
		name, script string
		bootErr      error
		status       Errno
		out          string
	}{
		{"registered and hidden", "shim http://x/shimaa64.efi\nimgstat\n", nil, 0, "shimaa64.efi : 17 bytes [efi] [SHIM] [HIDDEN]\n"},
		{"loadable target boots directly", "shim http://x/shimaa64.efi\nchain http://x/k.efi && echo booted\n", nil, 0, "booted\n"},
		{"refused target, shim registered", "shim --require-loader http://x/shimaa64.efi\nchain http://x/k.efi\n", refused, EACCES,
			"snp-go cannot start it through shim shimaa64.efi as iPXE would"},
		{"refused target, shim cleared", "shim http://x/shimaa64.efi\nshim\nchain http://x/k.efi\n", refused, EACCES, "refused to load it: permission denied [Permission denied"},
		{"options", "shim -l -p -s -q -t 1000 http://x/shimaa64.efi\n", nil, 0, ""},
		{"usage", "shim a b\n", nil, ERANGE,
			"Usage:\n\n  shim [-t|--timeout <timeout>] [-q|--quiet] [-l|--require-loader] [-p|--allow-pxe] [-s|--allow-sbat]\n"},
	}
	for _, tc := range tests {
		te := newTestEnv()
		te.boot.err = tc.bootErr
		te.fetch.files["http://x/shimaa64.efi"] = efiBinary
		te.fetch.files["http://x/k.efi"] = efiBinary
		out, status, err := te.run(tc.script)
		if status != tc.status || !strings.Contains(out, tc.out) {
			t.Errorf("%s: run(%q) = %q, %v (%v); want %q, %v", tc.name, tc.script, out, status, err, tc.out, tc.status)
		}
		for _, r := range te.boot.boots {
			if r.Image.Name != "k.efi" {
				t.Errorf("%s: booted %s; want only k.efi", tc.name, r.Image.Name)
			}
			for _, i := range r.Images {
				if i.Name == "shimaa64.efi" {
					t.Errorf("%s: the shim was offered to the booted image", tc.name)
				}
			}
		}
	}
	te := newTestEnv()
	te.fetch.files["http://x/shimaa64.efi"] = efiBinary
	te.run("shim -l -s http://x/shimaa64.efi\n")
	if x := te.e.imgx; x.shim == nil || !x.shimRequireLoader || x.shimAllowPXE || !x.shimAllowSBAT {
		t.Errorf("after shim -l -s: %+v; want the shim with require-loader and allow-sbat", x)
	}
}

// fakeSyncer has work pending until done is closed.
type fakeSyncer struct{ done chan struct{} }

func (s *fakeSyncer) Sync(ctx context.Context) error {
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestSync(t *testing.T) {
	te := newTestEnv()
	if out, status, err := te.run("sync\n"); status != 0 || out != "" {
		t.Errorf("sync with nothing pending = %q, %v (%v); want \"\", 0", out, status, err)
	}
	s := &fakeSyncer{done: make(chan struct{})}
	te.e.env.Syncer = s
	start := time.Now()
	out, status, _ := te.run("sync --timeout 50\n")
	if status != ETIMEDOUT || !strings.Contains(out, "Operations did not complete: Connection timed out (0x4c000092)\n") {
		t.Errorf("sync --timeout 50 with work pending = %q, %v; want ETIMEDOUT and iPXE's message", out, status)
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > 2*time.Second {
		t.Errorf("sync --timeout 50 took %v", d)
	}
	close(s.done)
	if out, status, err := te.run("sync -t 50\n"); status != 0 {
		t.Errorf("sync after the work ended = %q, %v (%v); want 0", out, status, err)
	}
	if out, status, _ := te.run("sync now\n"); status != ERANGE || !strings.Contains(out, "Usage:\n\n  sync [-t|--timeout <timeout>]\n") {
		t.Errorf("sync now = %q, %v; want usage and ERANGE", out, status)
	}
}

func TestHelpListsImgxCommands(t *testing.T) {
	te := newTestEnv()
	out, _, _ := te.run("help\n")
	for _, c := range []string{"md5sum", "sha1sum", "sha256sum", "sha512sum", "imgextract", "fdt", "shim", "sync"} {
		if !strings.Contains(out, " "+c+" ") && !strings.Contains(out, " "+c+"\n") {
			t.Errorf("help lacks %s:\n%s", c, out)
		}
		if o, status, _ := te.run(c + " --help\n"); status != ECANCELED || !strings.Contains(o, "Usage:\n\n  "+c) {
			t.Errorf("%s --help = %q, %v; want its usage and ECANCELED", c, o, status)
		}
	}
}
