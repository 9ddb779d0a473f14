//go:build tamago && arm64

package efi

import (
	"runtime/goos"
	"unsafe"
)

// Memory types and allocation kinds, UEFI 2.10 §7.2 (EFI_MEMORY_TYPE,
// EFI_ALLOCATE_TYPE).
const (
	AllocateAnyPages   = 0
	LoaderData         = 2
	BootServicesData   = 4
	ConventionalMemory = 7
	PageSize           = 4096
)

// Runtime pool sizing: half the largest free region, within these bounds,
// so that the OS loader keeps most of the memory.
const (
	minPool = 64 << 20
	maxPool = 1 << 30
	// stackOffset is the gap above the runtime's initial stack at the top
	// of the pool (goos.RamStackOffset).
	stackOffset = 0x100
)

// Pool describes the runtime memory obtained at entry.
var Pool struct {
	Base, Size       uint64
	LargestFree      uint64 // bytes in the largest conventional region
	ConventionalFree uint64 // bytes of conventional memory in total
}

// earlyMap is GetMemoryMap's buffer at entry (static: no allocator yet).
var earlyMap [64 << 10]byte

// Memory descriptor fields (EFI_MEMORY_DESCRIPTOR, §7.2.3).
const (
	mdType          = 0
	mdPhysicalStart = 8
	mdNumberOfPages = 24
)

//go:nosplit
func load64(p uintptr) uint64 { return *(*uint64)(unsafe.Pointer(p)) }

//go:nosplit
func load32(p uintptr) uint32 { return *(*uint32)(unsafe.Pointer(p)) }

// earlyInit runs from cpuinit on the firmware's stack before the Go
// runtime exists: no allocation, no stack growth, no g. It sizes the
// runtime pool from the memory map (UEFI 2.10 §7.2.3 GetMemoryMap) and
// allocates it with AllocatePages(AllocateAnyPages). It returns a status;
// non-zero aborts the image with that status.
//
//go:nosplit
func earlyInit() uintptr {
	bs := uintptr(load64(systemTable + stBootServices))
	var a [8]uintptr

	size, key, descSize, descVer := uintptr(len(earlyMap)), uintptr(0), uintptr(0), uintptr(0)
	a[0] = uintptr(unsafe.Pointer(&size))
	a[1] = uintptr(unsafe.Pointer(&earlyMap[0]))
	a[2] = uintptr(unsafe.Pointer(&key))
	a[3] = uintptr(unsafe.Pointer(&descSize))
	a[4] = uintptr(unsafe.Pointer(&descVer))
	if s := callRaw(uintptr(load64(bs+bsGetMemoryMap)), &a); s.IsError() {
		return uintptr(s)
	}
	if descSize == 0 {
		return uintptr(DeviceError)
	}
	var largest, total uint64
	base := uintptr(unsafe.Pointer(&earlyMap[0]))
	for off := uintptr(0); off+descSize <= size; off += descSize {
		d := base + off
		if load32(d+mdType) != ConventionalMemory {
			continue
		}
		n := load64(d+mdNumberOfPages) * PageSize
		total += n
		if n > largest {
			largest = n
		}
	}
	pool := largest / 2
	if pool > maxPool {
		pool = maxPool
	}
	if pool < minPool {
		if largest < minPool+minPool/4 {
			return uintptr(OutOfResources)
		}
		pool = minPool
	}
	pool &^= 1<<20 - 1
	pages := uintptr(pool / PageSize)

	addr := uintptr(0)
	a = [8]uintptr{AllocateAnyPages, LoaderData, pages, uintptr(unsafe.Pointer(&addr))}
	if s := callRaw(uintptr(load64(bs+bsAllocatePages)), &a); s.IsError() {
		return uintptr(s)
	}
	poolFree = [3]uintptr{uintptr(load64(bs + bsFreePages)), addr, pages}

	Pool.Base, Pool.Size, Pool.LargestFree, Pool.ConventionalFree = uint64(addr), pool, largest, total
	goos.RamStart = uint(addr)
	goos.RamSize = uint(pool)
	goos.RamStackOffset = stackOffset
	goos.Bloc = addr
	return 0
}
