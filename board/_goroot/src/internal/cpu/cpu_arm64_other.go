// snp-go's replacement for tamago-go's src/internal/cpu/cpu_arm64_other.go,
// applied only to snp-go's GOOS=tamago builds through `go build -overlay`
// (see the Makefile and board/cpu.go). Upstream's file gives every arm64 OS
// without a feature interface an empty osInit, so Go's AES, GHASH, SHA and
// CRC32 assembly stays off. snp-go runs at EL1 or EL2, where the ID
// registers are readable, so it does what the FreeBSD port does.

//go:build arm64 && tamago

package cpu

// osInit reads ID_AA64ISAR0_EL1 and ID_AA64PFR0_EL1 with internal/cpu's own
// accessors (cpu_arm64.s) and parser. A field the register reports as absent
// leaves its flag false, and the packages fall back to their generic code.
// It runs from runtime.schedinit (cpuinit), before alginit and before any
// package is initialised, so flags cached at package init see the result.
func osInit() {
	parseARM64SystemRegisters(getisar0(), getpfr0())
}
