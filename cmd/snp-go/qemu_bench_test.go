package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/snp-go/snp-go/lab"
	"github.com/snp-go/snp-go/lab/bootdisk"
	"github.com/snp-go/snp-go/lab/tcgprof"
	"github.com/snp-go/snp-go/lab/tgt"
)

// BenchmarkQEMUSAN measures the SAN boot data path in the QEMU lab (run it
// with `make bench`). With SNP_ANCHOR_IPXE set to an iPXE snp.efi it runs
// that binary beside snp-go, alternating, on identical disks, target and
// script (iPXE runs autoexec.ipxe from its own volume: DHCP, iSCSI login
// with mutual CHAP, sanboot), and reports both and their ratio; without it,
// snp-go alone. Each round boots each program twice:
//   - boot: the lab's Grub + Linux disk, plain QEMU: wall seconds from
//     bootefi to the Linux marker;
//   - read: the same disk with a 64 MiB file that Grub reads through Block
//     IO before Linux, twice: in plain QEMU (MB/s, the figure users see),
//     and under the instruction-count plugin (lab/tcgprof) and a pcap of
//     the user-mode network: MB/s under the plugin (which slows code with
//     short translation blocks, such as Go's, more than C), and per frame
//     received during the read the guest instructions spent in the
//     application itself and in everything else (U-Boot's SNP and
//     virtio-net, Grub), and the frames the guest sent (ACKs) per frame
//     received.
//
// SNP_BENCH_ROUNDS sets the rounds (default 3; medians are reported);
// SNP_BENCH_PROFILE=N logs snp-go's top N functions during the read;
// SNP_BENCH_BOOTARGS passes options to snp-go (e.g. --tcp-window=65536);
// SNP_BENCH_DIR keeps the runs (transcripts, pcaps, profiles) there;
// SNP_BENCH_PHASES picks the measurements of a round, a comma-separated
// subset of boot,read,profile,tlb (default the first three; "read" alone
// is the quickest figure to compare while changing the data path; "tlb"
// reads once more under a model of QEMU's data TLB and logs its misses).
func BenchmarkQEMUSAN(b *testing.B) {
	lab.SkipIfMissing(b)
	plain := bootdisk.Need(b, bootdisk.Options{})
	big := bootdisk.Need(b, bootdisk.Options{BigSize: 64 << 20})
	d := tgt.StartT(b, tgt.Options{})
	for i, img := range []*bootdisk.Image{plain, big} {
		if _, err := d.AddTarget(tgt.Target{
			IQN:      fmt.Sprintf("%s%d", sanIQN, i),
			LUNs:     []tgt.LUN{{Path: img.Path}},
			Incoming: &tgt.Account{User: sanUser, Password: sanSecret},
			Outgoing: &tgt.Account{User: sanRevUser, Password: sanRevSecret},
		}); err != nil {
			b.Fatal(err)
		}
	}
	// One script for both programs: iPXE cannot describe the SAN to the OS
	// under U-Boot (no ACPI table protocol), so --no-describe. The target
	// (plain or big disk) is the setting "disk", set on the U-Boot side
	// through a one-line script on the program's volume.
	script := func(i int) []byte {
		return []byte(fmt.Sprintf("#!ipxe\ndhcp\nset username %s\nset password %s\nset reverse-username %s\nset reverse-password %s\nsanboot --no-describe %s\n",
			sanUser, sanSecret, sanRevUser, sanRevSecret, d.RootPath("10.0.2.2", fmt.Sprintf("%s%d", sanIQN, i), 1)))
	}
	dir := os.Getenv("SNP_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	snp := &benchProgram{name: "snp-go", file: "snp-go.efi"}
	for i := range 2 {
		efi := lab.NeedEFI(b, lab.EFIBuild{Embed: writeFile(b, fmt.Sprintf("bench%d.ipxe", i), script(i))})
		snp.disks[i] = map[string]lab.File{"/snp-go.efi": lab.HostFile(efi)}
		if elf := efi + ".build/snp-go-0x50010000.elf"; i == 1 && fileExists(elf) {
			g, err := tcgprof.OpenGoImage(elf)
			if err != nil {
				b.Fatal(err)
			}
			snp.image = g
		}
	}
	progs := []*benchProgram{snp}
	if a := os.Getenv("SNP_ANCHOR_IPXE"); a != "" {
		if !fileExists(a) {
			b.Fatalf("SNP_ANCHOR_IPXE=%s: no such file", a)
		}
		p := &benchProgram{name: "iPXE", file: "snp.efi"}
		for i := range 2 {
			p.disks[i] = map[string]lab.File{"/snp.efi": lab.HostFile(a), "/autoexec.ipxe": lab.Bytes(script(i))}
		}
		progs = append(progs, p)
	} else {
		b.Log("SNP_ANCHOR_IPXE not set: measuring snp-go alone")
	}
	for _, p := range progs {
		for i, files := range p.disks {
			p.paths[i] = filepath.Join(dir, fmt.Sprintf("%s-%d.img", p.name, i))
			if err := lab.BuildDisk(p.paths[i], lab.Disk{Files: files}); err != nil {
				b.Fatal(err)
			}
		}
	}
	so, err := tcgprof.Build(dir)
	if err != nil {
		b.Fatal(err)
	}
	rounds := 3
	if s := os.Getenv("SNP_BENCH_ROUNDS"); s != "" {
		if rounds, err = strconv.Atoi(s); err != nil || rounds < 1 {
			b.Fatalf("SNP_BENCH_ROUNDS=%q: want a positive number", s)
		}
	}
	top, _ := strconv.Atoi(os.Getenv("SNP_BENCH_PROFILE"))
	phases, err := benchPhases(os.Getenv("SNP_BENCH_PHASES"))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			for _, p := range progs {
				run := filepath.Join(dir, fmt.Sprintf("%s-%d", p.name, r))
				var res benchResult
				if phases["boot"] {
					if res.sanSec, res.bootSec, res.split, err = p.boot(plain, run+"-boot"); err != nil {
						b.Fatalf("%s, round %d, boot: %v", p.name, r+1, err)
					}
				}
				if phases["read"] {
					if res.plainMBps, err = p.readPlain(big, run+"-plain"); err != nil {
						b.Fatalf("%s, round %d, read: %v", p.name, r+1, err)
					}
				}
				if phases["profile"] {
					if err := p.read(big, so, run+"-read", 0, &res); err != nil {
						b.Fatalf("%s, round %d, read under the plugin: %v", p.name, r+1, err)
					}
				}
				if phases["tlb"] {
					var t benchResult
					if err := p.read(big, so, run+"-tlb", benchTLBBits, &t); err != nil {
						b.Fatalf("%s, round %d, read under the TLB model: %v", p.name, r+1, err)
					}
					b.Logf("%s round %d: %s", p.name, r+1, p.tlbReport(t, top))
				}
				b.Logf("%s round %d: %s", p.name, r+1, res)
				p.results = append(p.results, res)
			}
		}
	}
	b.StopTimer()
	var lines []string
	for _, p := range progs {
		m := p.median()
		lines = append(lines, fmt.Sprintf("%-7s %s", p.name, m))
		b.ReportMetric(m.bootSec, p.name+"-boot-s")
		b.ReportMetric(m.plainMBps, p.name+"-read-MB/s")
		b.ReportMetric(m.readMBps, p.name+"-read-plugin-MB/s")
		b.ReportMetric(m.appPerFrame, p.name+"-app-insn/frame")
		b.ReportMetric(float64(m.inFlight), p.name+"-max-inflight-frames")
		if p.image != nil && top > 0 && phases["profile"] {
			last := p.results[len(p.results)-1]
			funcs, _ := p.image.Funcs(last.readCounts, last.loadBase, imageBase)
			var t strings.Builder
			for _, f := range tcgprof.Top(funcs, top) {
				fmt.Fprintf(&t, "\n  %6.0f insn/frame %5.1f%%  %s", float64(f.Count)/float64(last.frames.ToGuest), 100*float64(f.Count)/float64(last.app), f.Name)
			}
			fmt.Fprintf(&t, "\n  by package:")
			for _, f := range tcgprof.Top(tcgprof.Packages(funcs), 15) {
				fmt.Fprintf(&t, "\n  %6.0f insn/frame %5.1f%%  %s", float64(f.Count)/float64(last.frames.ToGuest), 100*float64(f.Count)/float64(last.app), f.Name)
			}
			b.Logf("%s: image at %#x, code ran at %#x-%#x; top %d functions during Grub's 64 MiB read (last round):%s", p.name, last.loadBase, last.codeLo, last.codeHi, top, t.String())
		}
	}
	if len(progs) == 2 {
		s, i := progs[0].median(), progs[1].median()
		ratio := func(a, b float64) float64 { // 0 for a phase not run
			if b == 0 {
				return 0
			}
			return a / b
		}
		b.ReportMetric(ratio(s.bootSec, i.bootSec), "boot-ratio")
		b.ReportMetric(ratio(s.plainMBps, i.plainMBps), "read-ratio")
		lines = append(lines, fmt.Sprintf("snp-go/iPXE: bootefi->Linux %.2fx, Grub read %.2fx (under the plugin %.2fx), app insn/frame %.2fx",
			ratio(s.bootSec, i.bootSec), ratio(s.plainMBps, i.plainMBps), ratio(s.readMBps, i.readMBps), ratio(s.appPerFrame, i.appPerFrame)))
	}
	b.Logf("medians of %d rounds:\n%s", rounds, strings.Join(lines, "\n"))
}

// benchTLBBits is the TLB the tlb phase models: QEMU's default of 256
// entries (CPU_TLB_DYN_DEFAULT_BITS), which stays while the guest never
// flushes its TLB, as U-Boot and Grub do not.
const benchTLBBits = 8

// tlbReport describes a read under the TLB model: misses per frame, and
// the top functions and 1 MiB memory regions by misses.
func (p *benchProgram) tlbReport(t benchResult, top int) string {
	n := float64(t.frames.ToGuest)
	var b strings.Builder
	fmt.Fprintf(&b, "under QEMU's %d-entry TLB, %.1f misses per frame in the application, %.1f in the firmware (Grub read %.1f MB/s under the model)",
		1<<benchTLBBits, t.tlbApp, t.tlbFirmware, t.readMBps)
	if top == 0 {
		top = 15
	}
	list := func(title string, m map[string]uint64) {
		fmt.Fprintf(&b, "\n  by %s:", title)
		for _, f := range tcgprof.Top(m, top) {
			fmt.Fprintf(&b, "\n  %6.2f misses/frame  %s", float64(f.Count)/n, f.Name)
		}
	}
	if p.image != nil {
		funcs, _ := p.image.Funcs(t.tlbInsn, t.loadBase, imageBase)
		list("function", funcs)
	}
	regions := map[string]uint64{}
	for page, c := range t.tlbPage {
		regions[fmt.Sprintf("%#x", page&^(1<<20-1))] += c
	}
	list(fmt.Sprintf("1 MiB region of the data touched (image at %#x)", t.loadBase), regions)
	return b.String()
}

// benchPhases parses SNP_BENCH_PHASES: the phases named, or by default
// all but tlb.
func benchPhases(s string) (map[string]bool, error) {
	if s == "" {
		return map[string]bool{"boot": true, "read": true, "profile": true}, nil
	}
	m := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		switch f {
		case "boot", "read", "profile", "tlb":
			m[f] = true
		default:
			return nil, fmt.Errorf("SNP_BENCH_PHASES=%q: %q is not one of boot, read, profile, tlb", s, f)
		}
	}
	return m, nil
}

type benchProgram struct {
	name, file string
	disks      [2]map[string]lab.File // the program's volume for the plain and the big disk
	paths      [2]string
	image      *tcgprof.GoImage // snp-go's functions, for profiles
	results    []benchResult
}

type benchResult struct {
	bootSec, plainMBps, readMBps    float64
	sanSec                          float64   // bootefi -> "Booting from SAN", within bootSec
	split                           []float64 // bootefi -> each line of bootSplit
	appPerFrame, firmwarePerFrame   float64
	sentPerReceived, wallUsPerFrame float64
	frames                          lab.FrameCount
	inFlight                        int // most data segments unacknowledged by the guest, whole run (the 32-frame ring rule)
	app                             uint64
	readCounts                      tcgprof.Counts
	loadBase                        uint64         // where the firmware loaded the image (snp-go's banner)
	tlbApp, tlbFirmware             float64        // modelled TLB misses per frame (phase tlb)
	tlbInsn, tlbPage                tcgprof.Counts // the misses by instruction and by data page
	codeLo, codeHi                  uint64         // the application's code, as seen running
}

func (r benchResult) String() string {
	return fmt.Sprintf("bootefi->Linux %.2f s (%.2f s to SAN boot), Grub read %.1f MB/s (%.1f under the plugin), %.0f app insn/frame, %.0f firmware insn/frame, %.2f frames sent/received, %.1f us/frame (%d frames), at most %d frames in flight",
		r.bootSec, r.sanSec, r.plainMBps, r.readMBps, r.appPerFrame, r.firmwarePerFrame, r.sentPerReceived, r.wallUsPerFrame, r.frames.ToGuest, r.inFlight) + r.splitString()
}

// splitString lists the boot's seconds from bootefi to each line of
// bootSplit.
func (r benchResult) splitString() string {
	if len(r.split) != len(bootSplit) {
		return ""
	}
	var b strings.Builder
	b.WriteString("; boot at")
	for i, at := range r.split {
		fmt.Fprintf(&b, " %q %.2f", strings.TrimPrefix(bootSplit[i], "SNPGO-GRUB-"), at)
	}
	return b.String()
}

func (p *benchProgram) median() benchResult {
	most := func(f func(benchResult) int) int {
		m := 0
		for _, r := range p.results {
			m = max(m, f(r))
		}
		return m
	}
	med := func(f func(benchResult) float64) float64 {
		v := make([]float64, len(p.results))
		for i, r := range p.results {
			v[i] = f(r)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	var split []float64
	if len(p.results) > 0 && len(p.results[0].split) == len(bootSplit) {
		for i := range bootSplit {
			split = append(split, med(func(r benchResult) float64 { return r.split[i] }))
		}
	}
	return benchResult{
		split:            split,
		bootSec:          med(func(r benchResult) float64 { return r.bootSec }),
		sanSec:           med(func(r benchResult) float64 { return r.sanSec }),
		plainMBps:        med(func(r benchResult) float64 { return r.plainMBps }),
		readMBps:         med(func(r benchResult) float64 { return r.readMBps }),
		appPerFrame:      med(func(r benchResult) float64 { return r.appPerFrame }),
		firmwarePerFrame: med(func(r benchResult) float64 { return r.firmwarePerFrame }),
		sentPerReceived:  med(func(r benchResult) float64 { return r.sentPerReceived }),
		frames:           lab.FrameCount{ToGuest: int(med(func(r benchResult) float64 { return float64(r.frames.ToGuest) }))},
		wallUsPerFrame:   med(func(r benchResult) float64 { return r.wallUsPerFrame }),
		inFlight:         most(func(r benchResult) int { return r.inFlight }), // the worst round, not the median
	}
}

var (
	relocRE   = regexp.MustCompile(`relocaddr\s*=\s*(0x[0-9a-f]+)`)
	imageRE   = regexp.MustCompile(`image:\s+\d+ KiB at (0x[0-9a-f]+)`)
	sanBootRE = regexp.MustCompile(`Booting from SAN device 0x80`)
)

// start boots QEMU on the program's disk (0 plain, 1 big), stops U-Boot's
// autoboot and bootefis the program; the transcript goes to dir. It
// returns the machine and the bootefi match.
func (p *benchProgram) start(disk int, dir string) (*lab.Machine, lab.Match, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, lab.Match{}, err
	}
	m, err := lab.Boot(lab.Config{Disks: []string{p.paths[disk]}, Snapshot: true},
		lab.Options{Log: filepath.Join(dir, "serial.log"), MaxRuntime: 10 * time.Minute})
	if err != nil {
		return nil, lab.Match{}, err
	}
	fail := func(err error) (*lab.Machine, lab.Match, error) {
		m.Close()
		return nil, lab.Match{}, fmt.Errorf("%w (transcript %s)", err, m.LogPath)
	}
	if _, err := m.StopAutoboot(60 * time.Second); err != nil {
		return fail(err)
	}
	if err := p.setBootargs(m); err != nil {
		return fail(err)
	}
	loaded, err := m.Bootefi("0:1", p.file, 20*time.Second)
	if err != nil {
		return fail(err)
	}
	return m, loaded, nil
}

// boot boots the program on the plain disk and returns the seconds from
// bootefi to "Booting from SAN" (DHCP, login, Block IO installed: both
// programs print it) and to the Linux marker, and the seconds to each line
// of bootSplit.
func (p *benchProgram) boot(img *bootdisk.Image, dir string) (san, linux float64, split []float64, err error) {
	m, loaded, err := p.start(0, dir)
	if err != nil {
		return 0, 0, nil, err
	}
	defer m.Close()
	s, err := m.Expect(sanBootRE, 3*time.Minute)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("%w (transcript %s)", err, m.LogPath)
	}
	split = []float64{s.At.Sub(loaded.At).Seconds()}
	for _, marker := range bootSplit[1:] {
		at, err := m.Expect(marker, 5*time.Minute)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("%w (transcript %s)", err, m.LogPath)
		}
		split = append(split, at.At.Sub(loaded.At).Seconds())
	}
	l, err := m.Expect(regexp.MustCompile(bootdisk.LinuxMarker+` \S+ `+img.Nonce), 5*time.Minute)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("%w (transcript %s)", err, m.LogPath)
	}
	return s.At.Sub(loaded.At).Seconds(), l.At.Sub(loaded.At).Seconds(), split, nil
}

// bootSplit names the console lines at which the boot phase splits the time
// from bootefi (both programs print the first; Grub, the EFI stub and Linux
// the rest), in the order they appear.
var bootSplit = []string{"SAN boot", bootdisk.MarkerGrubEarly, bootdisk.MarkerHashBegin, bootdisk.MarkerHashEnd,
	bootdisk.MarkerGrubLinux, bootdisk.MarkerKernel, bootdisk.MarkerGrubBoot, "EFI stub: Exiting boot services", "Booting Linux on physical CPU"}

// readPlain boots the program on the big disk in plain QEMU and returns the
// MB/s of Grub's read of the 64 MiB file.
func (p *benchProgram) readPlain(img *bootdisk.Image, dir string) (float64, error) {
	m, _, err := p.start(1, dir)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	var rm [2]lab.Match
	for i, marker := range []string{bootdisk.MarkerReadBegin, bootdisk.MarkerReadEnd} {
		if rm[i], err = m.Expect(marker, 5*time.Minute); err != nil {
			return 0, fmt.Errorf("%w (transcript %s)", err, m.LogPath)
		}
	}
	return float64(img.BigSize) / 1e6 / rm[1].At.Sub(rm[0].At).Seconds(), nil
}

// read boots the program on the big disk under the profiler, measures
// Grub's read of the 64 MiB file and fills in res's figures of that read.
// With tlbBits > 0 the plugin also models QEMU's data TLB of 2^tlbBits
// entries and res gets its misses.
func (p *benchProgram) read(img *bootdisk.Image, so, dir string, tlbBits int, res *benchResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rec := tcgprof.NewRecorder(so, dir)
	rec.TLBBits = tlbBits
	dump := lab.FrameDump(filepath.Join(dir, "n0.pcap"))
	m, err := lab.Boot(lab.Config{Disks: []string{p.paths[1]}, Snapshot: true,
		ExtraArgs: append(rec.Args(), dump.Args()...)}, lab.Options{Log: filepath.Join(dir, "serial.log"), MaxRuntime: 10 * time.Minute})
	if err != nil {
		return err
	}
	defer m.Close()
	fail := func(err error) error {
		return fmt.Errorf("%w (transcript %s)", err, m.LogPath)
	}
	if _, err := m.StopAutoboot(60 * time.Second); err != nil {
		return fail(err)
	}
	out, err := m.Run("bdinfo", 10*time.Second)
	if err != nil {
		return fail(err)
	}
	g := relocRE.FindStringSubmatch(out)
	if g == nil {
		return fail(fmt.Errorf("no relocaddr in bdinfo: %q", out))
	}
	uboot, _ := strconv.ParseUint(g[1], 0, 64)
	before, err := rec.Snapshot(10 * time.Second)
	if err != nil {
		return fail(err)
	}
	if err := p.setBootargs(m); err != nil {
		return fail(err)
	}
	if _, err := m.Bootefi("0:1", p.file, 20*time.Second); err != nil {
		return fail(err)
	}
	if p.image != nil {
		im, err := m.Expect(imageRE, time.Minute)
		if err != nil {
			return fail(err)
		}
		res.loadBase, _ = strconv.ParseUint(im.Groups[1], 0, 64)
	}
	if _, err := m.Expect(sanBootRE, 3*time.Minute); err != nil {
		return fail(err)
	}
	// Until now only U-Boot and the application ran: the application's
	// code is what ran in RAM below U-Boot's relocated copy.
	atBoot, err := rec.Snapshot(10 * time.Second)
	if err != nil {
		return fail(err)
	}
	lo, hi, ok := atBoot.Sub(before).Span(0x40000000, uboot)
	if !ok {
		return fail(fmt.Errorf("no code ran below U-Boot (relocaddr %#x) before the SAN boot", uboot))
	}
	lo &^= 0xfff
	hi += 4096
	res.codeLo, res.codeHi = lo, hi
	var rm [2]lab.Match
	var counts, tlbInsn, tlbPage [2]tcgprof.Counts
	var frames [2]lab.FrameCount
	for i, marker := range []string{bootdisk.MarkerReadBegin, bootdisk.MarkerReadEnd} {
		if rm[i], err = m.Expect(marker, 5*time.Minute); err != nil {
			return fail(err)
		}
		if counts[i], err = rec.Snapshot(10 * time.Second); err != nil {
			return fail(err)
		}
		if tlbBits > 0 {
			if tlbInsn[i], tlbPage[i], err = rec.TLB(); err != nil {
				return fail(err)
			}
		}
		if frames[i], err = dump.Count(); err != nil {
			return fail(err)
		}
	}
	if _, err := m.Expect(regexp.MustCompile(bootdisk.LinuxMarker+` \S+ `+img.Nonce), 5*time.Minute); err != nil {
		return fail(err)
	}
	read := counts[1].Sub(counts[0])
	res.readCounts = read
	res.frames = frames[1].Sub(frames[0])
	if res.frames.ToGuest == 0 {
		return fail(fmt.Errorf("no frames reached the guest during Grub's read"))
	}
	n := float64(res.frames.ToGuest)
	res.app = read.In(lo, hi)
	el := rm[1].At.Sub(rm[0].At)
	res.readMBps = float64(img.BigSize) / 1e6 / el.Seconds()
	res.appPerFrame = float64(res.app) / n
	res.firmwarePerFrame = float64(read.Total()-res.app) / n
	res.sentPerReceived = float64(res.frames.FromGuest) / n
	if res.inFlight, err = dump.MaxInFlight(); err != nil {
		return fail(err)
	}
	res.wallUsPerFrame = float64(el.Microseconds()) / n
	if tlbBits > 0 {
		res.tlbInsn, res.tlbPage = tlbInsn[1].Sub(tlbInsn[0]), tlbPage[1].Sub(tlbPage[0])
		res.tlbApp = float64(res.tlbInsn.In(lo, hi)) / n
		res.tlbFirmware = float64(res.tlbInsn.Total())/n - res.tlbApp
	}
	return nil
}

// setBootargs passes SNP_BENCH_BOOTARGS to snp-go as its load options
// (U-Boot's bootargs), e.g. "--tcp-window=65536".
func (p *benchProgram) setBootargs(m *lab.Machine) error {
	a := os.Getenv("SNP_BENCH_BOOTARGS")
	if a == "" || p.image == nil {
		return nil
	}
	_, err := m.Run("setenv bootargs "+a, 5*time.Second)
	return err
}

// imageBase is snp-go's ImageBase as linked (the Makefile's LOW text
// address less the 64 KiB of PE headers and alignment; cmd/mkefi).
const imageBase = 0x50000000

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
