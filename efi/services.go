//go:build tamago && arm64

package efi

import (
	"sync"
	"time"
	"unicode/utf16"
	"unsafe"
)

// Table offsets (st*, bs*, rt*) are derived in tables.go.

// Handle is an EFI_HANDLE.
type Handle uintptr

// Event is an EFI_EVENT.
type Event uintptr

// ImageHandle returns the handle U-Boot passed to snp-go's entry point.
func ImageHandle() Handle { return Handle(imageHandle) }

func bs() uintptr { return uintptr(load64(systemTable + stBootServices)) }
func rs() uintptr { return uintptr(load64(systemTable + stRuntimeServices)) }

// fn returns the function pointer at offset off of the table at t.
func fn(t uintptr, off uintptr) uintptr { return uintptr(load64(t + off)) }

// callBS calls boot service at offset off and names it in the error.
func callBS(name string, off uintptr, args ...uintptr) error {
	return wrap("BootServices."+name, Call(fn(bs(), off), args...))
}

var escapeSink any

// alloc returns a zeroed T on the heap, never on a goroutine stack: the
// firmware may write to it after this goroutine's stack has moved.
func alloc[T any]() *T {
	p := new(T)
	escapeSink = p
	return p
}

// UCS2 encodes s as a NUL-terminated UCS-2 string on the heap.
func UCS2(s string) []uint16 {
	u := utf16.Encode([]rune(s))
	b := make([]uint16, len(u)+1)
	copy(b, u)
	escapeSink = b
	return b
}

// GoString decodes the NUL-terminated UCS-2 string at p.
func GoString(p uintptr) string {
	if p == 0 {
		return ""
	}
	var u []uint16
	for i := uintptr(0); i < 4096; i++ {
		c := *(*uint16)(unsafe.Pointer(p + 2*i))
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// FirmwareVendor returns the SystemTable's vendor string and revision.
func FirmwareVendor() (string, uint32) {
	return GoString(uintptr(load64(systemTable + stFirmwareVendor))), load32(systemTable + stFirmwareRevision)
}

// Revision returns the UEFI revision the firmware implements (major<<16|minor).
func Revision() uint32 { return load32(systemTable + 8) }

// Stall busy-waits for d in the firmware (§7.5.2).
func Stall(d time.Duration) error {
	return callBS("Stall", bsStall, uintptr(d/time.Microsecond))
}

// SetWatchdogTimer arms (or with 0, disarms) the platform watchdog (§7.5.1).
func SetWatchdogTimer(d time.Duration) error {
	return callBS("SetWatchdogTimer", bsSetWatchdogTimer, uintptr(d/time.Second), 0, 0, 0)
}

// AllocatePool returns size bytes of firmware memory of type LoaderData
// (§7.2.4): memory the firmware may keep pointers to.
func AllocatePool(size int) (unsafe.Pointer, error) {
	p := alloc[uintptr]()
	if err := callBS("AllocatePool", bsAllocatePool, LoaderData, uintptr(size), ptr(p)); err != nil {
		return nil, err
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(*p)), size)
	clear(b)
	poolMu.Lock()
	if pools == nil {
		pools = map[uintptr]bool{}
		AtExit(freePools)
	}
	pools[*p] = true
	poolMu.Unlock()
	return unsafe.Pointer(*p), nil
}

var (
	poolMu sync.Mutex
	pools  map[uintptr]bool // AllocatePool memory not yet freed
)

// freePools returns every AllocatePool allocation at exit: a second
// bootefi must find the firmware's memory as the first one did.
func freePools() {
	poolMu.Lock()
	defer poolMu.Unlock()
	for p := range pools {
		callBS("FreePool", bsFreePool, p)
	}
	pools = nil
}

// FreePool frees memory from AllocatePool (§7.2.5).
func FreePool(p unsafe.Pointer) error {
	poolMu.Lock()
	delete(pools, uintptr(p))
	poolMu.Unlock()
	return callBS("FreePool", bsFreePool, uintptr(p))
}

// HandleProtocol returns the interface of protocol g on h (§7.3.7).
func HandleProtocol(h Handle, g *GUID) (uintptr, error) {
	p := alloc[uintptr]()
	if err := callBS("HandleProtocol("+g.Name()+")", bsHandleProtocol, uintptr(h), ptr(g), ptr(p)); err != nil {
		return 0, err
	}
	return *p, nil
}

// LocateProtocol returns the first interface of protocol g (§7.3.16).
func LocateProtocol(g *GUID) (uintptr, error) {
	p := alloc[uintptr]()
	if err := callBS("LocateProtocol("+g.Name()+")", bsLocateProtocol, ptr(g), 0, ptr(p)); err != nil {
		return 0, err
	}
	return *p, nil
}

// LocateHandleBuffer returns the handles supporting protocol g
// (§7.3.15, ByProtocol).
func LocateHandleBuffer(g *GUID) ([]Handle, error) {
	n, buf := alloc[uintptr](), alloc[uintptr]()
	const byProtocol = 2
	if err := callBS("LocateHandleBuffer("+g.Name()+")", bsLocateHandleBuffer, byProtocol, ptr(g), 0, ptr(n), ptr(buf)); err != nil {
		return nil, err
	}
	hs := make([]Handle, *n)
	copy(hs, unsafe.Slice((*Handle)(unsafe.Pointer(*buf)), *n))
	FreePool(unsafe.Pointer(*buf))
	return hs, nil
}

// InstallMultipleProtocolInterfaces installs up to three (GUID,
// interface) pairs on *h, creating a handle when *h is 0 (§7.3.18). h
// and the GUIDs must not be on a goroutine stack.
func InstallMultipleProtocolInterfaces(h *Handle, pairs ...uintptr) error {
	if len(pairs)%2 != 0 || len(pairs) > 6 {
		panic("efi: InstallMultipleProtocolInterfaces wants 1-3 GUID/interface pairs")
	}
	args := append([]uintptr{ptr(h)}, pairs...)
	args = append(args, 0)
	return callBS("InstallMultipleProtocolInterfaces", bsInstallMultipleProtocols, args...)
}

// ConnectController connects drivers to h, recursively (§7.3.12).
func ConnectController(h Handle, recursive bool) error {
	r := uintptr(0)
	if recursive {
		r = 1
	}
	return callBS("ConnectController", bsConnectController, uintptr(h), 0, 0, r)
}

// OpenProtocol attributes, UEFI 2.10 §7.3.9.
const (
	openByDriver  = 0x10
	openExclusive = 0x20
)

// OpenExclusive opens protocol g on h for snp-go alone (§7.3.9,
// BY_DRIVER|EXCLUSIVE with the image as agent and h as controller): the
// firmware first stops every driver that has it open BY_DRIVER — EDK2's
// MNP, which polls the NIC from a timer and would take its frames. Undo it
// with CloseExclusive.
func OpenExclusive(h Handle, g *GUID) (uintptr, error) {
	p := alloc[uintptr]()
	if err := callBS("OpenProtocol("+g.Name()+", EXCLUSIVE)", bsOpenProtocol, uintptr(h), ptr(g), ptr(p), imageHandle, uintptr(h), openByDriver|openExclusive); err != nil {
		return 0, err
	}
	return *p, nil
}

// CloseExclusive closes what OpenExclusive opened (§7.3.10) and connects
// the firmware's drivers to h again (§7.3.12, recursive), so the firmware
// gets back the device as it was.
func CloseExclusive(h Handle, g *GUID) error {
	if err := callBS("CloseProtocol("+g.Name()+")", bsCloseProtocol, uintptr(h), ptr(g), imageHandle, uintptr(h)); err != nil {
		return err
	}
	return ConnectController(h, true)
}

// DisconnectController disconnects all drivers from h (§7.3.13).
func DisconnectController(h Handle) error {
	return callBS("DisconnectController", bsDisconnectController, uintptr(h), 0, 0)
}

// LoadImage loads a PE image from memory (src) or, when src is nil, from
// the device path dp (§7.4.1). src must not be on a goroutine stack.
func LoadImage(dp []byte, src []byte) (Handle, error) {
	h := alloc[Handle]()
	var dpp, sp uintptr
	if len(dp) > 0 {
		dpp = uintptr(unsafe.Pointer(&dp[0]))
	}
	if len(src) > 0 {
		sp = uintptr(unsafe.Pointer(&src[0]))
	}
	err := callBS("LoadImage", bsLoadImage, 0, imageHandle, dpp, sp, uintptr(len(src)), ptr(h))
	return *h, err
}

// StartImage starts a loaded image and returns its exit status and exit
// data (§7.4.2).
func StartImage(h Handle) (Status, string, error) {
	n, d := alloc[uintptr](), alloc[uintptr]()
	s := Call(fn(bs(), bsStartImage), uintptr(h), ptr(n), ptr(d))
	data := GoString(*d)
	return s, data, wrap("BootServices.StartImage", s)
}

// UnloadImage unloads an image (§7.4.4).
func UnloadImage(h Handle) error { return callBS("UnloadImage", bsUnloadImage, uintptr(h)) }

// Event types and TPLs, §7.1.1 and §7.1.8.
const (
	EvtTimer                  = 0x80000000
	EvtNotifyWait             = 0x00000100
	EvtNotifySignal           = 0x00000200
	EvtSignalExitBootServices = 0x00000201
	TPLApplication            = 4
	TPLCallback               = 8
	TPLNotify                 = 16
)

// CreateEvent creates an event whose notify function is the callback
// pointer notify (from NewCallback), or 0 (§7.1.1).
func CreateEvent(typ uint32, tpl uintptr, notify uintptr) (Event, error) {
	e := alloc[Event]()
	err := callBS("CreateEvent", bsCreateEvent, uintptr(typ), tpl, notify, 0, ptr(e))
	return *e, err
}

// CloseEvent closes e (§7.1.3).
func CloseEvent(e Event) error { return callBS("CloseEvent", bsCloseEvent, uintptr(e)) }

// SignalEvent signals e (§7.1.4).
func SignalEvent(e Event) error { return callBS("SignalEvent", bsSignalEvent, uintptr(e)) }

// GlobalVariableGUID is EFI_GLOBAL_VARIABLE (§3.3).
var GlobalVariableGUID = MustGUID("8be4df61-93ca-11d2-aa0d-00e098032b8c")

// GetVariable returns the value of variable name of vendor g, up to max
// bytes (§8.2.1).
func GetVariable(name string, g *GUID, max int) ([]byte, error) {
	n := UCS2(name)
	nbuf, err := AllocatePool(2 * len(n))
	if err != nil {
		return nil, err
	}
	defer FreePool(nbuf)
	copy(unsafe.Slice((*uint16)(nbuf), len(n)), n)
	data, err := AllocatePool(max)
	if err != nil {
		return nil, err
	}
	defer FreePool(data)
	size := alloc[uintptr]()
	*size = uintptr(max)
	if err := wrap("RuntimeServices.GetVariable("+name+")", Call(fn(rs(), rtGetVariable), uintptr(nbuf), ptr(g), 0, ptr(size), uintptr(data))); err != nil {
		return nil, err
	}
	return append([]byte(nil), unsafe.Slice((*byte)(data), *size)...), nil
}

// SecureBoot reports the firmware's Secure Boot state: the global
// variables SecureBoot (1: images are verified) and SetupMode (1: no
// platform key, nothing is enforced), §3.3 Table 3.4. known is false when
// the firmware has no such variables (U-Boot without Secure Boot support).
func SecureBoot() (on, known bool) {
	v, err := GetVariable("SecureBoot", &GlobalVariableGUID, 1)
	if err != nil || len(v) != 1 {
		return false, false
	}
	if m, err := GetVariable("SetupMode", &GlobalVariableGUID, 1); err == nil && len(m) == 1 && m[0] == 1 {
		return false, true
	}
	return v[0] == 1, true
}

// Time is EFI_TIME (§8.3.1).
type Time struct {
	Year                 uint16
	Month, Day           uint8
	Hour, Minute, Second uint8
	_                    uint8
	Nanosecond           uint32
	TimeZone             int16
	Daylight             uint8
	_                    uint8
}

// unspecifiedTimezone marks a local time with no known offset (§8.3.1).
const unspecifiedTimezone = 0x7ff

// GetTime returns the firmware's real-time clock (§8.3.1), in UTC when the
// firmware reports a time zone.
func GetTime() (time.Time, error) {
	t := alloc[Time]()
	if err := wrap("RuntimeServices.GetTime", Call(fn(rs(), rtGetTime), ptr(t), 0)); err != nil {
		return time.Time{}, err
	}
	tt := time.Date(int(t.Year), time.Month(t.Month), int(t.Day), int(t.Hour), int(t.Minute), int(t.Second), int(t.Nanosecond), time.UTC)
	if t.TimeZone != unspecifiedTimezone {
		tt = tt.Add(time.Duration(t.TimeZone) * time.Minute)
	}
	return tt, nil
}

// ResetSystem resets the machine (§8.5.1); kind 0 = cold, 2 = shutdown.
func ResetSystem(kind uintptr) error {
	return wrap("RuntimeServices.ResetSystem", Call(fn(rs(), rtResetSystem), kind, 0, 0, 0))
}

// OnExitBootServices runs f when the OS loader calls ExitBootServices
// (an EVT_SIGNAL_EXIT_BOOT_SERVICES event, §7.1.1), at TPL_NOTIFY. After
// it returns, no Go code runs again: f must leave no device activity
// behind (stop the NIC) and must not wait for anything.
func OnExitBootServices(f func()) error {
	cb, err := NewCallback(func(*[8]uintptr) uintptr { f(); return 0 })
	if err != nil {
		return err
	}
	_, err = CreateEvent(EvtSignalExitBootServices, TPLNotify, cb)
	return err
}
