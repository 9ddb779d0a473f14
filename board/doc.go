// Package board is the TamaGo "board" for snp-go: arm64 EFI applications
// under U-Boot. It provides the runtime/goos hooks — console output through
// EFI ConOut, time from the generic timer, randomness from EFI_RNG_PROTOCOL,
// memory from the EFI pool the entry code allocated, idle and exit — and the
// platform chores: the boot-services watchdog and the wall clock.
//
// board/_goroot holds standard-library files that replace tamago-go's for
// snp-go's build (the Makefile passes them with -overlay): internal/cpu's
// arm64 osInit, which reads ID_AA64ISAR0_EL1 so that Go's AES, GHASH, SHA
// and CRC32 assembly is used (see cpu.go), and crypto/internal/fips140/drbg's
// rand.go, whose 32 MiB FIPS entropy scratch buffer is allocated at first use
// instead of sitting in the image's BSS, which EFI loaders zero at every load.
//
// Importing it (for side effects) is what makes a TamaGo program an EFI
// application; build with GOOS=tamago GOARCH=arm64 and link with
// -E _rt0_arm64_tamago.
package board
