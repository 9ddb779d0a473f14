//go:build tamago && arm64

package board

import "strings"

// How snp-go's Go finds the CPU's features. internal/cpu fills its flags in
// runtime.schedinit (cpuinit), before alginit and before any package is
// initialised, and the users copy them early: the runtime's map hash
// (aeshash, at alginit), crypto/internal/fips140deps/cpu (AES, PMULL, SHA2,
// SHA512, SHA3 for the fips140 aes, gcm and sha* packages), crypto/sha1 and
// crypto/tls (AES-GCM preference) at package init; hash/crc32 on first use.
// Upstream tamago-go's osInit for arm64 is empty, so all stay false. There
// is no runtime/goos hook that runs there, and a board hook (Hwinit0 runs
// before schedinit) cannot reach internal/cpu.ARM64: the linker refuses
// linkname references into the standard library. So the Makefile's -overlay
// replaces that one file for snp-go's build:
// board/_goroot/src/internal/cpu/cpu_arm64_other.go reads the ID registers
// with internal/cpu's own accessors and parser, which leave a feature false
// when its field says absent (the generic code runs then).
//
// CPUFeatures reads the register again here, for the banner.

func isar0() uint64 // cpu_arm64.s

// CPUFeatures lists the ID_AA64ISAR0_EL1 features that Go uses (crypto,
// hash/crc32, the runtime's atomics), and the register itself.
func CPUFeatures() (names string, isar uint64) {
	isar = isar0()
	field := func(lo uint) uint64 { return isar >> lo & 0xf }
	var f []string
	add := func(ok bool, name string) {
		if ok {
			f = append(f, name)
		}
	}
	add(field(4) >= 1, "aes")
	add(field(4) >= 2, "pmull")
	add(field(8) >= 1, "sha1")
	add(field(12) >= 1, "sha2")
	add(field(12) >= 2, "sha512")
	add(field(16) >= 1, "crc32")
	add(field(20) >= 2, "atomics")
	add(field(32) >= 1, "sha3")
	if len(f) == 0 {
		return "none", isar
	}
	return strings.Join(f, " "), isar
}
