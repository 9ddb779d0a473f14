// Package tcgprof profiles a QEMU TCG guest by instruction count: a QEMU
// plugin (plugin/tcgprof.c, built at run time with gcc) counts the guest instructions
// executed at each translation block, snapshots of those counts taken
// while the guest runs delimit phases, and a Go image's pclntab turns
// addresses into functions. Under TCG an instruction count is a stable,
// noise-free proxy for cost (wall time moves with the host's load);
// instructions that leave translated code (MMIO, timer reads, exclusive
// accesses, barriers, TLB refills) cost several times more than plain ALU
// work, so read counts beside wall time.
package tcgprof

import (
	"bufio"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed plugin/tcgprof.c
var pluginSource []byte

// Build compiles the plugin into dir and returns the shared object's path.
// It needs gcc (Debian's build-essential or gcc).
func Build(dir string) (string, error) {
	src := filepath.Join(dir, "tcgprof.c")
	so := filepath.Join(dir, "tcgprof.so")
	if err := os.WriteFile(src, pluginSource, 0o644); err != nil {
		return "", err
	}
	cc, err := exec.LookPath("gcc")
	if err != nil {
		return "", fmt.Errorf("tcgprof: gcc not found (install gcc): %w", err)
	}
	out, err := exec.Command(cc, "-O2", "-Wall", "-shared", "-fPIC", "-fvisibility=hidden", "-pthread", "-o", so, src).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("tcgprof: building the plugin: %v\n%s", err, out)
	}
	return so, nil
}

// Counts maps a translation block's guest address to the instructions
// executed there.
type Counts map[uint64]uint64

// Load reads a counts file the plugin wrote.
func Load(path string) (Counts, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c := Counts{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		a, n, ok := strings.Cut(sc.Text(), " ")
		pc, err1 := strconv.ParseUint(a, 16, 64)
		cnt, err2 := strconv.ParseUint(n, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("tcgprof: %s:%d: %q is not \"<hex address> <count>\"", path, line, sc.Text())
		}
		c[pc] += cnt
	}
	return c, sc.Err()
}

// Sub returns what ran after the earlier snapshot old.
func (c Counts) Sub(old Counts) Counts {
	d := make(Counts, len(c))
	for pc, n := range c {
		if o := old[pc]; n > o {
			d[pc] = n - o
		}
	}
	return d
}

// Total is the number of instructions counted.
func (c Counts) Total() uint64 { return c.In(0, ^uint64(0)) }

// In is the number of instructions of blocks that start in [lo, hi).
func (c Counts) In(lo, hi uint64) uint64 {
	var t uint64
	for pc, n := range c {
		if pc >= lo && pc < hi {
			t += n
		}
	}
	return t
}

// Span returns the lowest and highest block addresses in [lo, hi) that ran,
// and false when none did.
func (c Counts) Span(lo, hi uint64) (min, max uint64, ok bool) {
	for pc, n := range c {
		if n == 0 || pc < lo || pc >= hi {
			continue
		}
		if !ok || pc < min {
			min = pc
		}
		if !ok || pc > max {
			max = pc
		}
		ok = true
	}
	return min, max, ok
}

// Recorder is the plugin's side of one QEMU run.
type Recorder struct {
	// TLBBits, if set before Args, has the plugin model QEMU's data TLB
	// with 2^TLBBits entries (8 is QEMU's size until the guest flushes its
	// TLB) and count its misses; see TLB. QEMU runs several times slower.
	TLBBits int

	out string
	so  string
	n   int
}

// NewRecorder prepares a run whose counts go to files under dir. so is the
// plugin from Build.
func NewRecorder(so, dir string) *Recorder {
	return &Recorder{so: so, out: filepath.Join(dir, "counts")}
}

// Args are the QEMU arguments that load the plugin.
func (r *Recorder) Args() []string {
	a := r.so + ",out=" + r.out
	if r.TLBBits > 0 {
		a += fmt.Sprintf(",tlb=%d", r.TLBBits)
	}
	return []string{"-plugin", a}
}

// TLB returns the modelled TLB misses up to the last snapshot: by the
// address of the instruction that missed and by data page (the page's
// address). It needs TLBBits.
func (r *Recorder) TLB() (byInsn, byPage Counts, err error) {
	if r.TLBBits == 0 || r.n == 0 {
		return nil, nil, fmt.Errorf("tcgprof: no TLB model snapshot (TLBBits %d, %d snapshots)", r.TLBBits, r.n)
	}
	path := fmt.Sprintf("%s.%d", r.out, r.n)
	if byInsn, err = Load(path + ".tlbi"); err != nil {
		return nil, nil, err
	}
	if byPage, err = Load(path + ".tlbp"); err != nil {
		return nil, nil, err
	}
	return byInsn, byPage, nil
}

// Snapshot has the plugin write the counts so far and returns them. Call
// it when the console shows the event that ends a phase; the plugin polls
// for the request every 5 ms.
func (r *Recorder) Snapshot(timeout time.Duration) (Counts, error) {
	r.n++
	path := fmt.Sprintf("%s.%d", r.out, r.n)
	if err := os.WriteFile(r.out+".snap", nil, 0o644); err != nil {
		return nil, err
	}
	for end := time.Now().Add(timeout); ; time.Sleep(2 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return Load(path)
		}
		if time.Now().After(end) {
			return nil, fmt.Errorf("tcgprof: no snapshot %s after %v: is QEMU running with %v?", path, timeout, r.Args())
		}
	}
}

// FuncCount is one line of a flat profile.
type FuncCount struct {
	Name  string
	Count uint64
}

// Top sorts a flat profile by count, largest first, and keeps n lines.
func Top(m map[string]uint64, n int) []FuncCount {
	var v []FuncCount
	for name, c := range m {
		v = append(v, FuncCount{name, c})
	}
	sort.Slice(v, func(i, j int) bool {
		if v[i].Count != v[j].Count {
			return v[i].Count > v[j].Count
		}
		return v[i].Name < v[j].Name
	})
	if n > 0 && len(v) > n {
		v = v[:n]
	}
	return v
}
