//go:build tamago && arm64

package efi

import (
	"sync"
	"unsafe"
)

// fwRegs is the firmware's callee-saved state (AAPCS64 §6.1.1): x19–x30,
// SP, x18 and d8–d15. abi_arm64.s stores them in pairs (STP) at the
// offsets go_asm.h gives (fwRegs_x19, ...).
type fwRegs struct {
	x19, x20, x21, x22, x23, x24, x25, x26, x27, x28, x29, x30 uint64
	sp, x18                                                    uint64
	d8, d9, d10, d11, d12, d13, d14, d15                       uint64
}

// cbFrame is one suspended firmware frame: its registers, the callback's
// arguments, which thunk it entered, the firmware stack top to restore on
// resume, the firmware's interrupt mask (DAIF) when it called, and the mask
// that was current before it. 512 bytes; abi_arm64.s uses the field
// offsets from go_asm.h (cbFrame_args, ...).
type cbFrame struct {
	regs     fwRegs
	args     [8]uintptr
	thunk    uintptr
	top      uintptr
	daif     uintptr
	prevDAIF uintptr
	_        [30]uintptr
}

// abi_arm64.s indexes cbFrames with a shift (FRAME_SHIFT) and saves the
// registers at the frame's start: a frame must be exactly 512 bytes with
// regs first (these do not compile otherwise).
const (
	_ = -(unsafe.Sizeof(cbFrame{}) ^ 512)
	_ = -unsafe.Offsetof(cbFrame{}.regs)
)

// goContext is the Go side inside the firmware: the goroutine's SP, FP, LR
// and g saved by call and resume, and whether a callback may resume it
// (go_asm.h: goContext_sp, ...).
type goContext struct {
	sp, fp, lr, g, valid uintptr
}

const (
	maxDepth  = 16 // nesting bound, also in abi_arm64.s (callback<>)
	maxThunks = 64 // entries in thunks<>
	thunkSize = 8  // bytes per entry in thunks<>
)

// Globals shared with abi_arm64.s. None of them is ever reached through a
// goroutine stack, and nothing the firmware holds points into one.
var (
	imageHandle uintptr
	systemTable uintptr
	entryRegs   fwRegs            // the firmware's registers at image entry
	goCtx       goContext         // the Go side inside the firmware
	cbFrames    [maxDepth]cbFrame // suspended firmware frames, innermost at cbDepth-1
	cbDepth     uintptr           // number of suspended frames
	fwStackTop  uintptr           // where the next firmware call's stack starts
	earlyTop    uintptr           // the firmware's stack just below its entry frame
	poolFree    [3]uintptr        // FreePages, base, pages: run by exitToFirmware
	fwDAIF      uintptr           // the firmware's interrupt mask (DAIF) for the next call into it
)

//go:noescape
func call(fn uintptr, args *[8]uintptr, allow uintptr) (r0, kind uintptr)

func resume(idx, status, _ uintptr) (r0, kind uintptr)
func thunkBase() uintptr
func exitToFirmware(status uintptr)
func currentEL() uint64
func counter() (cnt, freq uint64)

// CurrentEL returns the exception level snp-go runs at (1 or 2).
func CurrentEL() int { return int(currentEL()) }

// Counter returns the generic timer's virtual count and frequency
// (CNTVCT_EL0, CNTFRQ_EL0).
//
//go:nosplit
func Counter() (cnt, freq uint64) { return counter() }

// callRaw calls fn without accepting callbacks: a callback that arrives
// during it is refused with EFI_DEVICE_ERROR. It is safe on any stack and
// before the runtime is up (console output, RNG, early memory setup).
//
//go:nosplit
func callRaw(fn uintptr, a *[8]uintptr) Status {
	r, _ := call(fn, a, 0)
	return Status(r)
}

// Call calls the firmware function at fn with up to eight arguments
// (AAPCS64, on the firmware stack) and returns its status. It is the one
// way snp-go calls the firmware. Callbacks that arrive while the firmware
// runs are served by this goroutine before Call returns (see doc.go).
// Pointers in args must not point into a goroutine stack.
func Call(fn uintptr, args ...uintptr) Status {
	if len(args) > 8 {
		panic("efi: Call with more than 8 arguments")
	}
	var a [8]uintptr
	copy(a[:], args)
	r, kind := call(fn, &a, 1)
	for kind != 0 {
		r, kind = serve(int(r))
	}
	return Status(r)
}

// A Handler serves one kind of callback. args are the firmware's x0–x7;
// the returned value goes back in x0 (an EFI_STATUS, or nothing for a
// void notify function).
type Handler func(args *[8]uintptr) uintptr

var (
	cbMu       sync.Mutex
	cbCond     = sync.NewCond(&cbMu)
	handlers   [maxThunks]Handler
	callbackNs [maxThunks]int64 // accumulated handler wall time, for measurement
)

// NewCallback returns a firmware-callable function pointer that runs h.
// The pointer stays valid for the life of the image; slots are not reused.
func NewCallback(h Handler) (uintptr, error) {
	cbMu.Lock()
	defer cbMu.Unlock()
	for i := range handlers {
		if handlers[i] == nil {
			handlers[i] = h
			return thunkBase() + uintptr(i)*thunkSize, nil
		}
	}
	return 0, &Error{Op: "efi.NewCallback", Status: OutOfResources}
}

// serve runs the handler for callback frame idx on this goroutine, waits
// until that frame is the innermost one, and resumes the firmware with the
// handler's result. It returns what resume returns: the outcome of the
// firmware call this goroutine was making, or the next callback.
func serve(idx int) (r0, kind uintptr) {
	f := &cbFrames[idx]
	args := f.args
	slot := f.thunk
	var status uintptr
	if h := handlers[slot]; h != nil {
		status = h(&args)
	} else {
		status = uintptr(DeviceError)
	}
	cbMu.Lock()
	for int(cbDepth) != idx+1 {
		// A newer frame is suspended on top of ours: its handler runs on
		// another goroutine and will broadcast when it resumes.
		cbCond.Wait()
	}
	cbMu.Unlock()
	r0, kind = resume(uintptr(idx), status, 0)
	cbCond.Broadcast()
	return r0, kind
}

// Depth returns the number of suspended firmware frames.
func Depth() int { return int(cbDepth) }

// ptr returns the address of v for a firmware argument.
func ptr[T any](v *T) uintptr { return uintptr(unsafe.Pointer(v)) }

var exitHooks []func()

// AtExit registers f to run (in reverse order) before snp-go returns to
// the firmware.
func AtExit(f func()) { exitHooks = append(exitHooks, f) }

// Exit runs the exit hooks, frees the runtime pool and returns status to
// the firmware from the image entry point. It refuses (and returns) while
// firmware frames are suspended: their callers would be left hanging.
func Exit(status Status) {
	if cbDepth != 0 {
		print("efi: Exit refused: ", cbDepth, " firmware callback(s) still pending\n")
		return
	}
	for i := len(exitHooks) - 1; i >= 0; i-- {
		exitHooks[i]()
	}
	exitHooks = nil
	ConsoleFlush()
	exitToFirmware(uintptr(status))
}
