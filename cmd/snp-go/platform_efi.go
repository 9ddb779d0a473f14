//go:build tamago && arm64

package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/snp-go/snp-go/blockio"
	"github.com/snp-go/snp-go/blockio/memdisk"
	"github.com/snp-go/snp-go/board"
	"github.com/snp-go/snp-go/efi"
)

type efiPlatform struct {
	image     *efi.LoadedImage
	mu        sync.Mutex
	clock     string        // where the wall clock comes from
	ntpOffset time.Duration // correction found by the ntp command
	stopWatch func()
	net       *network
	tcpWindow int    // TCP receive buffer, bytes
	resident  string // why snp-go must not return to the firmware
}

func platform() *efiPlatform {
	p := &efiPlatform{clock: "none (time starts at 1970)"}
	if t, err := efi.GetTime(); err == nil && t.Year() >= 2000 {
		board.SetTime(t)
		p.clock = "EFI GetTime"
	} else if err != nil {
		p.clock = fmt.Sprintf("none (GetTime: %v)", err)
	}
	if li, err := efi.Image(); err == nil {
		p.image = li
	}
	// bootefi armed a 5-minute watchdog (UEFI 2.10 §3.1.2): keep it armed,
	// so a hung snp-go resets, but never let it fire while we work.
	p.stopWatch = restartWatchdog()
	efi.AtExit(func() { p.stopWatch() })
	return p
}

func restartWatchdog() func() { return board.Watchdog(5*time.Minute, time.Minute) }

func (p *efiPlatform) LoadOptions() string {
	if p.image == nil {
		return ""
	}
	return p.image.LoadOptions
}

func (p *efiPlatform) Banner() {
	vendor, rev := efi.FirmwareVendor()
	uefi := efi.Revision()
	fmt.Printf("\nsnp-go %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Printf("  firmware: %s rev %#x, UEFI %d.%d, running at EL%d\n", vendor, rev, uefi>>16, (uefi&0xffff)/10, efi.CurrentEL())
	fmt.Printf("  memory:   %d MiB runtime pool at %#x (largest free region %d MiB, %d MiB free in all)\n",
		efi.Pool.Size>>20, efi.Pool.Base, efi.Pool.LargestFree>>20, efi.Pool.ConventionalFree>>20)
	if p.image != nil {
		fmt.Printf("  image:    %d KiB at %#x, from %s\n", p.image.ImageSize>>10, p.image.ImageBase, p.image.FilePath)
	}
	fmt.Printf("  clock:    %s (%s)\n", time.Now().UTC().Format(time.RFC3339), p.clock)
	cpu, isar := board.CPUFeatures()
	fmt.Printf("  cpu:      %s (ID_AA64ISAR0_EL1 %#x)\n", cpu, isar)
	if board.Secure() {
		fmt.Println("  random:   EFI_RNG_PROTOCOL")
	} else {
		fmt.Printf("  random:   WARNING: no usable EFI_RNG_PROTOCOL (%v; add virtio-rng): randomness is NOT secure; TLS and CHAP are predictable\n", efi.RNGStatus)
	}
	switch on, known := efi.SecureBoot(); {
	case !known:
		fmt.Println("  secure boot: not supported by the firmware")
	case on:
		fmt.Println("  secure boot: on (the firmware verifies every image snp-go starts)")
	default:
		fmt.Println("  secure boot: off")
	}
}

// vendorGUID identifies snp-go's own device path nodes.
var vendorGUID = efi.MustGUID("8c3b6f3e-5a2d-4f7b-9b1e-7d2c6a9e4f10")

// SelftestMemdisk proves the callback path end to end: a GPT+FAT disk held
// in Go memory is installed as Block IO and connected; U-Boot's block and
// FAT drivers read it through Go callbacks; snp-go reads a file back
// through U-Boot's Simple File System and checks it.
func (p *efiPlatform) SelftestMemdisk() error {
	payload := bytes.Repeat([]byte("snp-go memdisk payload 0123456789\n"), 32<<10/34)
	msg := []byte("hello from a Go Block IO disk\n")
	img, err := memdisk.Build(4<<20, "SNPGO", []memdisk.File{
		{Path: "SNPGO.TXT", Data: msg},
		{Path: "EFI/BOOT/PAYLOAD.BIN", Data: payload},
	})
	if err != nil {
		return err
	}
	dev := blockio.New(&blockio.SliceDisk{Data: img, Block: 512}, 1)
	dp := efi.DevicePath{efi.VendorHWNode(vendorGUID, []byte("memdisk"))}
	h, err := efi.InstallBlockIO(dev, dp)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := efi.ConnectController(h.Handle, true); err != nil {
		return err
	}
	st := dev.Stats()
	fmt.Printf("memdisk: connected in %v: %d reads, %d KiB through Go callbacks\n", time.Since(t0).Round(time.Microsecond), st.Reads, st.BytesRead>>10)

	// Find the file system on our disk, not on another one.
	hs, err := efi.LocateHandleBuffer(&efi.SimpleFileSystemProtocolGUID)
	if err != nil {
		return err
	}
	prefix := dp.String()
	var fsh efi.Handle
	for _, x := range hs {
		path, err := efi.HandleDevicePath(x)
		if err == nil && strings.HasPrefix(path.String(), prefix+"/") {
			fmt.Printf("memdisk: file system at %s\n", path)
			fsh = x
		}
	}
	if fsh == 0 {
		return fmt.Errorf("U-Boot created no Simple File System under %s (%d file systems seen)", prefix, len(hs))
	}
	b, err := efi.ReadFile(fsh, `\SNPGO.TXT`)
	if err != nil {
		return err
	}
	fmt.Printf("memdisk: SNPGO.TXT: %s", b)
	if !bytes.Equal(b, msg) {
		return fmt.Errorf("SNPGO.TXT read back %q; want %q", b, msg)
	}
	before := dev.Stats()
	t1 := time.Now()
	b, err = efi.ReadFile(fsh, `\EFI\BOOT\PAYLOAD.BIN`)
	if err != nil {
		return err
	}
	el := time.Since(t1)
	after := dev.Stats()
	if !bytes.Equal(b, payload) {
		return fmt.Errorf("PAYLOAD.BIN: read %d bytes, sha256 %x; want %d bytes, %x", len(b), sha256.Sum256(b), len(payload), sha256.Sum256(payload))
	}
	fmt.Printf("memdisk: PAYLOAD.BIN %d bytes ok (sha256 %x) in %v: %d Block IO reads, %d KiB\n",
		len(b), sha256.Sum256(b), el.Round(time.Microsecond), after.Reads-before.Reads, (after.BytesRead-before.BytesRead)>>10)
	return nil
}

// SelftestCallbacks measures the cost of a firmware call and of a callback
// round trip: SignalEvent on an event whose notify function is Go.
func (p *efiPlatform) SelftestCallbacks() error {
	const n = 2000
	var hits int
	notify, err := efi.NewCallback(func(a *[8]uintptr) uintptr { hits++; return 0 })
	if err != nil {
		return err
	}
	withCB, err := efi.CreateEvent(efi.EvtNotifySignal, efi.TPLCallback, notify)
	if err != nil {
		return err
	}
	defer efi.CloseEvent(withCB)
	plain, err := efi.CreateEvent(0, 0, 0)
	if err != nil {
		return err
	}
	defer efi.CloseEvent(plain)

	measure := func(e efi.Event) (time.Duration, error) {
		t := time.Now()
		for i := 0; i < n; i++ {
			if err := efi.SignalEvent(e); err != nil {
				return 0, err
			}
		}
		return time.Since(t) / n, nil
	}
	base, err := measure(plain)
	if err != nil {
		return err
	}
	cb, err := measure(withCB)
	if err != nil {
		return err
	}
	if hits != n {
		return fmt.Errorf("notify function ran %d times for %d signals", hits, n)
	}
	// Nesting: a callback whose handler calls the firmware, which calls
	// back again (two frames deep), must unwind in order.
	var depth []int
	inner, _ := efi.NewCallback(func(a *[8]uintptr) uintptr { depth = append(depth, efi.Depth()); return 0 })
	innerEv, err := efi.CreateEvent(efi.EvtNotifySignal, efi.TPLNotify, inner)
	if err != nil {
		return err
	}
	defer efi.CloseEvent(innerEv)
	outer, _ := efi.NewCallback(func(a *[8]uintptr) uintptr {
		depth = append(depth, efi.Depth())
		time.Sleep(time.Millisecond) // block: other goroutines run meanwhile
		efi.SignalEvent(innerEv)
		return 0
	})
	outerEv, err := efi.CreateEvent(efi.EvtNotifySignal, efi.TPLCallback, outer)
	if err != nil {
		return err
	}
	defer efi.CloseEvent(outerEv)
	if err := efi.SignalEvent(outerEv); err != nil {
		return err
	}
	sort.Ints(depth)
	if fmt.Sprint(depth) != "[1 2]" || efi.Depth() != 0 {
		return fmt.Errorf("nested callbacks ran at depths %v, depth after %d; want [1 2], 0", depth, efi.Depth())
	}
	fmt.Printf("callbacks: firmware call %v, firmware call + Go callback %v: callback round trip %v (n=%d); nesting ok\n",
		base, cb, cb-base, n)
	return nil
}

// StayResident never returns: U-Boot keeps pointers to snp-go's Block IO
// after ConnectController, so returning would leave it calling into freed
// memory.
func (p *efiPlatform) StayResident(why string) {
	fmt.Printf("snp-go: staying resident: %s\n", why)
	for {
		time.Sleep(time.Second)
	}
}
