// Package board is the TamaGo "board" for snp-go: arm64 EFI applications
// under U-Boot. It provides the runtime/goos hooks — console output through
// EFI ConOut, time from the generic timer, randomness from EFI_RNG_PROTOCOL,
// memory from the EFI pool the entry code allocated, idle and exit — and the
// platform chores: the boot-services watchdog and the wall clock.
//
// Importing it (for side effects) is what makes a TamaGo program an EFI
// application; build with GOOS=tamago GOARCH=arm64 and link with
// -E _rt0_arm64_tamago.
package board
