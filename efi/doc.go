// Package efi is snp-go's boundary with UEFI firmware on arm64 (U-Boot's
// EFI loader and EDK2): the specification's types (status codes, GUIDs, device paths,
// table layouts), the image entry point, the one primitive that calls the
// firmware, the one mechanism by which the firmware calls Go, and thin
// wrappers for the boot services and protocols snp-go uses. References are
// to the UEFI 2.10 specification.
//
// The types (Status, GUID, DevicePath, BlockMedia, BlockDevice) build and
// are tested on any host; everything that touches the firmware is built only
// for GOOS=tamago GOARCH=arm64.
//
// # Entry and exit
//
// The image entry point (cpuinit in abi_arm64.s, reached through the
// TamaGo runtime's _rt0_arm64_tamago) saves the firmware's callee-saved
// registers (AAPCS64: x19–x30, SP, d8–d15, and x18), records ImageHandle
// and SystemTable, and runs earlyInit on the firmware's stack before the Go
// runtime exists: it reads the memory map and allocates the runtime's pool
// with AllocatePages(AllocateAnyPages) — half the largest free region,
// between 64 MiB and 1 GiB — then starts the runtime with its stack at the
// top of the pool. Exit frees the pool from the firmware stack and returns
// the status from the entry point with the saved registers, so a second
// bootefi in the same U-Boot (or a second start from EDK2's shell) finds
// everything as before.
//
// # Calling the firmware
//
// Call (and callRaw, for code that runs without a goroutine) is the only way
// to call the firmware: call in abi_arm64.s saves the calling goroutine's
// SP, FP, LR and g in one global slot (goCtx), switches to the firmware stack
// (the firmware's own stack below its entry frame), loads x0–x7 and branches.
// One slot suffices: there is one CPU, Go runs with interrupts masked (below),
// and no Go code runs while the firmware runs.
//
// # Interrupts
//
// U-Boot takes no interrupts; EDK2 runs its timer tick (and every timer
// event's notify function: MNP's receive poll, USB, the watchdog) from an
// IRQ handler on whatever stack is current. On a goroutine stack that would
// overrun small stacks and clobber the frame-pointer word Go keeps just
// below SP. So Go runs with IRQ and FIQ masked (PSTATE.I and F): cpuinit
// masks them after saving the firmware's DAIF, call restores the firmware's
// mask around the firmware function (an interrupt then lands on the
// firmware stack) and masks again after it returns (EDK2's RestoreTPL
// unmasks), callback<> masks on entry and keeps the firmware's mask in its
// frame, resume and the exit path put it back. Firmware time therefore
// advances only while the firmware runs; snp-go's own clock is the generic
// timer's counter and does not depend on it.
//
// # Being called by the firmware
//
// Block IO, event notify functions and the exit-boot-services hook are
// function pointers that snp-go hands to the firmware (NewCallback). Each is
// an 8-byte thunk in thunks<> that loads its slot number and enters
// callback<>. A callback always arrives while some goroutine is inside Call
// (the firmware runs only when called). callback<>:
//
//  1. saves the firmware's callee-saved registers, SP, x18 and its arguments
//     in a new frame on a LIFO of frames (cbFrames, at most 16 deep);
//  2. moves the firmware-stack top below that frame, so nested firmware calls
//     cannot overwrite it;
//  3. resumes the goroutine in goCtx as if its call had returned "callback
//     pending in frame N".
//
// That goroutine runs the handler with full runtime powers: it may block,
// start goroutines, allocate, grow its stack, use the network and call the
// firmware again (nested calls run below the suspended frame). When the
// handler returns, the goroutine waits (a condition variable) until its
// frame is the innermost one, then resume restores the frame's registers
// and returns the handler's status to the firmware. Whatever the firmware
// does next — return from the goroutine's original call, or call back
// again — comes back to that goroutine, which is the one that owns the call.
//
// Rules that keep this sound: nothing the firmware holds may point into a
// goroutine stack (protocol structures, media, device paths and
// out-parameters live in firmware pool memory or on the Go heap, which does
// not move); a handler must not wait for something that happens only after
// an older frame resumes; callbacks that arrive when no goroutine can take
// them (during callRaw, or too deep) are refused with EFI_DEVICE_ERROR.
//
// Cost in QEMU TCG (measured by `--selftest=callbacks` on an idle
// machine): a firmware call is about 0.8 µs under U-Boot and 1.1 µs under
// EDK2 (its TPL raise and restore on every service), a callback round trip
// about 1 µs (U-Boot) and 1.6 µs (EDK2) more.
package efi
