//go:build tamago && arm64

package board

import (
	"runtime/goos"
	"sync/atomic"
	"time"
	_ "unsafe" // go:linkname

	"github.com/snp-go/snp-go/efi"
)

//go:linkname hwinit0 runtime/goos.Hwinit0
//go:nosplit
func hwinit0() {}

//go:linkname printk runtime/goos.Printk
//go:nosplit
func printk(c byte) { efi.ConsoleWrite(c) }

// wallOffset is added to the counter time; set once from the firmware's
// real-time clock (or NTP) so that time.Now is wall-clock time.
var wallOffset int64

//go:linkname nanotime runtime/goos.Nanotime
//go:nosplit
func nanotime() int64 {
	c, f := efi.Counter()
	if f == 0 {
		return wallOffset
	}
	return int64(c/f*1e9+(c%f)*1e9/f) + wallOffset
}

var rngOK bool
var fallback uint64

//go:linkname initRNG runtime/goos.InitRNG
//go:nosplit
func initRNG() { rngOK = efi.InitRNG() }

// getRandomData fills b from EFI_RNG_PROTOCOL. Without it (QEMU without
// virtio-rng) it fills b from a timer-seeded generator that is NOT
// cryptographically secure; Secure reports that and the banner says so.
//
//go:linkname getRandomData runtime/goos.GetRandomData
//go:nosplit
func getRandomData(b []byte) {
	if rngOK && efi.GetRNG(b) {
		return
	}
	rngOK = false
	if fallback == 0 {
		c, _ := efi.Counter()
		fallback = c | 1
	}
	for i := range b {
		// xorshift64*: statistically fine, trivially predictable.
		fallback ^= fallback >> 12
		fallback ^= fallback << 25
		fallback ^= fallback >> 27
		b[i] = byte((fallback * 2685821657736338717) >> 56)
	}
}

// Secure reports whether random numbers come from the firmware's RNG. When
// false, TLS keys and CHAP challenges are predictable.
func Secure() bool { return rngOK }

//go:linkname hwinit1 runtime/goos.Hwinit1
func hwinit1() {
	goos.Exit = exit
	goos.Idle = idle
}

// idle is called when no goroutine can run. It must not execute WFI: no
// interrupt would wake us (U-Boot masks them). Returning makes the
// scheduler poll its timers again.
func idle(until int64) {}

// ExitStatus is returned to the firmware when the program exits with a
// non-zero code; zero always returns EFI_SUCCESS.
var ExitStatus = efi.Aborted

func exit(code int32) {
	s := efi.Success
	if code != 0 {
		s = ExitStatus
	}
	efi.Exit(s)
	// Refused (callbacks pending): stay alive for the firmware.
	for {
		time.Sleep(time.Hour)
	}
}

// SetTime sets the wall clock to t. Call it early: it shifts the runtime's
// monotonic clock too.
func SetTime(t time.Time) {
	atomic.StoreInt64(&wallOffset, 0)
	c, f := efi.Counter()
	now := int64(c/f*1e9 + (c%f)*1e9/f)
	atomic.StoreInt64(&wallOffset, t.UnixNano()-now)
}

// Watchdog keeps U-Boot's boot-services watchdog (armed for 5 minutes by
// bootefi, UEFI 2.10 §7.5.1) from resetting the machine while snp-go works:
// every period it re-arms it for timeout, so that a hung snp-go still
// resets. It returns a function that disarms it (before handing over to an
// OS loader that manages it itself).
func Watchdog(timeout, period time.Duration) (stop func()) {
	done := make(chan struct{})
	efi.SetWatchdogTimer(timeout)
	go func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				efi.SetWatchdogTimer(timeout)
			}
		}
	}()
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			close(done)
			efi.SetWatchdogTimer(0)
		}
	}
}
