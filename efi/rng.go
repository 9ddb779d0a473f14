//go:build tamago && arm64

package efi

import "unsafe"

// RNG (EFI_RNG_PROTOCOL, §37.5). Used by the runtime
// before it is initialised, hence static memory and callRaw.

var rngIface uintptr
var rngOut uintptr

// RNGStatus is the status of the last failed EFI_RNG_PROTOCOL call, for
// diagnostics.
var RNGStatus Status

// InitRNG locates EFI_RNG_PROTOCOL and reports whether it is present.
//
//go:nosplit
func InitRNG() bool {
	if rngIface != 0 {
		return true
	}
	a := [8]uintptr{uintptr(unsafe.Pointer(&RNGProtocolGUID)), 0, uintptr(unsafe.Pointer(&rngOut))}
	if s := callRaw(uintptr(load64(bs()+bsLocateProtocol)), &a); s.IsError() {
		RNGStatus = s
		return false
	}
	rngIface = rngOut
	return rngIface != 0
}

// GetRNG fills b from EFI_RNG_PROTOCOL with the default algorithm and
// reports success. b must not be on a goroutine stack that can move while
// the call runs (it cannot: callRaw accepts no callbacks).
//
//go:nosplit
func GetRNG(b []byte) bool {
	if rngIface == 0 || len(b) == 0 {
		return rngIface != 0
	}
	for off := 0; off < len(b); {
		n := len(b) - off
		if n > 4096 {
			n = 4096
		}
		a := [8]uintptr{rngIface, 0, uintptr(n), uintptr(unsafe.Pointer(&b[off]))}
		if s := callRaw(uintptr(load64(rngIface+rngGetRNG)), &a); s.IsError() {
			RNGStatus = s
			return false
		}
		off += n
	}
	return true
}
