package tcgprof

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/snp-go/snp-go/lab"
)

func TestLoadSubSpan(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c")
	if err := os.WriteFile(p, []byte("1000 10\n2000 5\n7fef7000 100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Total(); got != 115 {
		t.Errorf("Total() = %d; want 115", got)
	}
	if got := c.In(0x1000, 0x2001); got != 15 {
		t.Errorf("In(0x1000, 0x2001) = %d; want 15", got)
	}
	d := c.Sub(Counts{0x1000: 4, 0x2000: 5})
	if !reflect.DeepEqual(d, Counts{0x1000: 6, 0x7fef7000: 100}) {
		t.Errorf("Sub = %v; want 0x1000:6 0x7fef7000:100", d)
	}
	if lo, hi, ok := c.Span(0x1000, 0x7fef7000); !ok || lo != 0x1000 || hi != 0x2000 {
		t.Errorf("Span = %#x, %#x, %v; want 0x1000, 0x2000, true", lo, hi, ok)
	}
	if err := os.WriteFile(p, []byte("zz 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Errorf("Load(bad line) = %v; want an error naming line 1", err)
	}
}

func marker() int { return len(os.Args) }

// TestFuncs names a function of this test binary (not position
// independent: it runs where it is linked) from a count at its address,
// as if the image had been loaded 0x100000 higher.
func TestFuncs(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	g, err := OpenGoImage(exe)
	if err != nil {
		t.Skipf("SKIP: test binary has no readable pclntab: %v", err)
	}
	pc := uint64(reflect.ValueOf(marker).Pointer())
	const shift = 0x100000
	base := pc &^ 0xfff
	funcs, outside := g.Funcs(Counts{pc + shift: 7, 1: 3}, base+shift, base)
	want := "github.com/snp-go/snp-go/lab/tcgprof.marker"
	if funcs[want] != 7 || outside != 3 {
		t.Errorf("Funcs = %v, outside %d; want %s: 7, outside 3", funcs, outside, want)
	}
	pk := Packages(map[string]uint64{"gvisor.dev/gvisor/pkg/buffer.(*Buffer).PullUp": 2, "gvisor.dev/gvisor/pkg/buffer.NewView": 3, "runtime.memmove": 4})
	if pk["gvisor.dev/gvisor/pkg/buffer"] != 5 || pk["runtime"] != 4 || len(pk) != 2 {
		t.Errorf("Packages = %v; want gvisor.dev/gvisor/pkg/buffer: 5, runtime: 4", pk)
	}
	if top := Top(map[string]uint64{"a": 1, "b": 3, "c": 2}, 2); len(top) != 2 || top[0].Name != "b" || top[1].Name != "c" {
		t.Errorf("Top = %v; want b, c", top)
	}
}

// uBootUnderPlugin builds the plugin and runs U-Boot to its prompt under
// it (with the TLB model of 2^tlbBits entries if tlbBits > 0).
func uBootUnderPlugin(t *testing.T, tlbBits int) (*Recorder, *lab.Machine) {
	t.Helper()
	lab.SkipIfMissing(t)
	dir := t.TempDir()
	so, err := Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRecorder(so, dir)
	r.TLBBits = tlbBits
	m := lab.StartWith(t, lab.Config{NoNet: true, ExtraArgs: r.Args()}, lab.Options{})
	if _, err := m.StopAutoboot(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	return r, m
}

// TestPluginCountsUBoot runs U-Boot to its prompt under the plugin: a
// snapshot there must count instructions in U-Boot's relocated copy at the
// top of RAM (0x7fxxxxxx in a 1 GiB guest), and a second one, after a
// command ran, must count more.
func TestPluginCountsUBoot(t *testing.T) {
	r, m := uBootUnderPlugin(t, 0)
	first, err := r.Snapshot(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if n := first.In(0x7f000000, 0x80000000); n < 1000 {
		t.Errorf("instructions in relocated U-Boot at the prompt = %d; want thousands", n)
	}
	if _, err := m.Run("crc32 0x40000000 0x100000", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	second, err := r.Snapshot(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// crc32 over 1 MiB runs at least one instruction per byte.
	if d := second.Sub(first).Total(); d < 1<<20 {
		t.Errorf("instructions between the snapshots around crc32 of 1 MiB = %d; want more than 1 Mi", d)
	}
}

// TestPluginModelsTLB: U-Boot's crc32 over 1 MiB reads 256 pages it has
// not touched since the prompt, each once and in order: under the TLB
// model each of those pages misses once, and the misses by instruction add
// up to the misses by page.
func TestPluginModelsTLB(t *testing.T) {
	r, m := uBootUnderPlugin(t, 8)
	if _, err := r.Snapshot(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	insn0, page0, err := r.TLB()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Run("crc32 0x40000000 0x100000", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Snapshot(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	insn1, page1, err := r.TLB()
	if err != nil {
		t.Fatal(err)
	}
	byInsn, byPage := insn1.Sub(insn0), page1.Sub(page0)
	if got := byPage.In(0x40000000, 0x40100000); got != 256 {
		t.Errorf("misses on the 256 pages crc32 read = %d; want 256 (one each)", got)
	}
	if a, b := byInsn.Total(), byPage.Total(); a != b {
		t.Errorf("misses by instruction %d != misses by page %d", a, b)
	}
}
