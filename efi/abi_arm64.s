// The firmware boundary: image entry, the one primitive that calls the
// firmware, the one mechanism by which the firmware calls Go, and the return
// to the firmware. See doc.go for the design.
//
// Conventions: the firmware uses AAPCS64 (UEFI 2.10 §2.3.6): x0–x7 carry
// arguments, x0 the result, x19–x29, SP and d8–d15 are callee-saved, x18 is
// the platform register. Go's g lives in R28. Code entered from the firmware
// must not use forms that go through R27 (REGTMP) before x27 is saved;
// `MOVD $sym(SB), Rn` is ADRP+ADD into Rn and is safe.

//go:build tamago && arm64

#include "textflag.h"

// Field offsets of fwRegs, cbFrame and goContext (abi.go) come from
// go_asm.h, which the compiler writes from the Go declarations.
#include "go_asm.h"

#define FRAME_SHIFT 9 // cbFrame__size == 512, checked in abi.go

// PSTATE.{I,F} (DAIFSet/DAIFClr immediate bits 1 and 0): IRQ and FIQ masks.
// Go runs with both masked; the firmware gets back its own mask whenever it
// runs (see "Interrupts" in doc.go).
#define MASK_IRQ MSR $3, DAIFSet

// SET_DAIF gives the firmware its mask, writing DAIF only when it differs:
// under U-Boot it never does (interrupts stay masked), and under QEMU's TCG
// a write to DAIF ends the translation block and leaves the CPU loop:
// BenchmarkQEMUCallbacks on U-Boot 2023.01, medians of four alternating
// runs each (wall time here swings +-20 %): firmware call 1630 -> 1225 ns,
// callback round trip 1540 -> 1230 ns.
#define SET_DAIF(daif, tmp) \
	MRS	DAIF, tmp \
	CMP	daif, tmp \
	BEQ	2(PC) \
	MSR	daif, DAIF

#define SAVE_FW(base) \
	STP	(R19, R20), fwRegs_x19(base) \
	STP	(R21, R22), fwRegs_x21(base) \
	STP	(R23, R24), fwRegs_x23(base) \
	STP	(R25, R26), fwRegs_x25(base) \
	STP	(R27, g), fwRegs_x27(base) \
	STP	(R29, R30), fwRegs_x29(base) \
	MOVD	RSP, R15 \
	MOVD	R15, fwRegs_sp(base) \
	MOVD	R18_PLATFORM, fwRegs_x18(base) \
	FSTPD	(F8, F9), fwRegs_d8(base) \
	FSTPD	(F10, F11), fwRegs_d10(base) \
	FSTPD	(F12, F13), fwRegs_d12(base) \
	FSTPD	(F14, F15), fwRegs_d14(base)

#define RESTORE_FW(base) \
	FLDPD	fwRegs_d8(base), (F8, F9) \
	FLDPD	fwRegs_d10(base), (F10, F11) \
	FLDPD	fwRegs_d12(base), (F12, F13) \
	FLDPD	fwRegs_d14(base), (F14, F15) \
	MOVD	fwRegs_x18(base), R18_PLATFORM \
	MOVD	fwRegs_sp(base), R15 \
	MOVD	R15, RSP \
	LDP	fwRegs_x19(base), (R19, R20) \
	LDP	fwRegs_x21(base), (R21, R22) \
	LDP	fwRegs_x23(base), (R23, R24) \
	LDP	fwRegs_x25(base), (R25, R26) \
	LDP	fwRegs_x27(base), (R27, g) \
	LDP	fwRegs_x29(base), (R29, R30)

#define SAVE_GO(valid) \
	MOVD	$·goCtx(SB), R9 \
	MOVD	RSP, R10 \
	MOVD	R10, goContext_sp(R9) \
	MOVD	R29, goContext_fp(R9) \
	MOVD	R30, goContext_lr(R9) \
	MOVD	g, goContext_g(R9) \
	MOVD	valid, goContext_valid(R9)

// cpuinit is the image entry point (UEFI 2.10 §4.1: x0 = ImageHandle,
// x1 = SystemTable), reached through _rt0_arm64_tamago and goos.CPUInit.
TEXT cpuinit(SB),NOSPLIT|NOFRAME,$0
	MOVD	$·entryRegs(SB), R14
	SAVE_FW(R14)
	MRS	DAIF, R9
	MOVD	$·fwDAIF(SB), R10
	MOVD	R9, (R10)
	MASK_IRQ
	MOVD	$·imageHandle(SB), R9
	MOVD	R0, (R9)
	MOVD	$·systemTable(SB), R9
	MOVD	R1, (R9)

	// Early Go runs just below the firmware's frame; firmware calls made
	// during early init go 64 KiB further down.
	MOVD	RSP, R15
	SUB	$256, R15
	AND	$~15, R15
	MOVD	$·earlyTop(SB), R9
	MOVD	R15, (R9)
	SUB	$(64*1024), R15, R16
	MOVD	$·fwStackTop(SB), R9
	MOVD	R16, (R9)
	MOVD	R15, RSP
	MOVD	$0, g
	SUB	$32, RSP
	BL	·earlyInit(SB)
	MOVD	8(RSP), R0
	CBNZ	R0, early_fail

	// From now on all firmware calls use the stack below the firmware's.
	MOVD	$·earlyTop(SB), R9
	MOVD	(R9), R10
	MOVD	$·fwStackTop(SB), R9
	MOVD	R10, (R9)

	// The Go runtime's stack sits at the top of the pool (as TamaGo's
	// cpuinit does with RamStart+RamSize-RamStackOffset).
	MOVD	runtime∕goos·RamStart(SB), R1
	MOVD	runtime∕goos·RamSize(SB), R2
	MOVD	runtime∕goos·RamStackOffset(SB), R3
	ADD	R2, R1, R1
	SUB	R3, R1, R1
	MOVD	R1, RSP
	B	_rt0_tamago_start(SB)

early_fail:
	MOVD	$·fwDAIF(SB), R9
	MOVD	(R9), R16
	MOVD	$·entryRegs(SB), R14
	RESTORE_FW(R14)
	MSR	R16, DAIF
	RET

// func call(fn uintptr, args *[8]uintptr, allow uintptr) (r0, kind uintptr)
//
// call runs fn(args[0..7]) on the firmware stack. kind is 0 when fn
// returned r0, 1 when the firmware called back into Go: r0 is then the
// callback frame index (see callback<>).
TEXT ·call(SB),NOSPLIT|NOFRAME,$0-40
	MOVD	allow+16(FP), R11
	SAVE_GO(R11)
	MOVD	fn+0(FP), R16
	MOVD	args+8(FP), R17
	MOVD	$·fwStackTop(SB), R10
	MOVD	(R10), R10
	MOVD	R10, RSP
	LDP	0(R17), (R0, R1)
	LDP	16(R17), (R2, R3)
	LDP	32(R17), (R4, R5)
	LDP	48(R17), (R6, R7)
	MOVD	$0, R29
	// The firmware runs with its own interrupt mask: an interrupt taken
	// now lands on the firmware stack.
	MOVD	$·fwDAIF(SB), R9
	MOVD	(R9), R9
	SET_DAIF(R9, R12)
	CALL	(R16)
	MASK_IRQ
	MOVD	$0, R1
	B	returnToGo<>(SB)

// returnToGo<> resumes the Go code whose context is in goCtx as if its
// call or resume returned (r0 = R0, kind = R1).
TEXT returnToGo<>(SB),NOSPLIT|NOFRAME,$0
	MOVD	$·goCtx(SB), R9
	MOVD	goContext_sp(R9), R10
	MOVD	R10, RSP
	MOVD	goContext_fp(R9), R29
	MOVD	goContext_lr(R9), R30
	MOVD	goContext_g(R9), g
	MOVD	ZR, goContext_valid(R9)
	MOVD	R0, 32(RSP) // r0 of call/resume: 8 + 24
	MOVD	R1, 40(RSP) // kind: 8 + 32
	RET

// func resume(idx, status, _ uintptr) (r0, kind uintptr)
//
// resume returns status to the firmware code suspended in callback frame
// idx, which must be the innermost one. Whatever the firmware does next
// (return from the original call, or call back again) comes back here.
TEXT ·resume(SB),NOSPLIT|NOFRAME,$0-40
	MOVD	$1, R11
	SAVE_GO(R11)
	MOVD	idx+0(FP), R11
	MOVD	status+8(FP), R0
	MOVD	$·cbDepth(SB), R10
	MOVD	R11, (R10)
	MOVD	$·cbFrames(SB), R14
	LSL	$FRAME_SHIFT, R11, R15
	ADD	R15, R14, R14
	MOVD	cbFrame_top(R14), R15
	MOVD	$·fwStackTop(SB), R13
	MOVD	R15, (R13)
	MOVD	cbFrame_prevDAIF(R14), R15
	MOVD	$·fwDAIF(SB), R13
	MOVD	R15, (R13)
	MOVD	cbFrame_daif(R14), R16
	RESTORE_FW(R14)
	SET_DAIF(R16, R17)
	RET

// callback<> is entered from a thunk with the firmware's registers, x9 =
// thunk index. It saves the firmware's context in a new frame and resumes
// the Go code that is inside the firmware (goCtx) with kind = 1. It refuses
// with EFI_DEVICE_ERROR when no Go code can take it.
TEXT callback<>(SB),NOSPLIT|NOFRAME,$0
	MOVD	$·cbDepth(SB), R10
	MOVD	(R10), R11
	CMP	$16, R11 // maxDepth
	BHS	refuse
	MOVD	$·goCtx(SB), R12
	MOVD	goContext_valid(R12), R13
	CBZ	R13, refuse
	MOVD	$·cbFrames(SB), R14
	LSL	$FRAME_SHIFT, R11, R15
	ADD	R15, R14, R14
	SAVE_FW(R14)
	// Mask interrupts before Go runs; the firmware's mask is kept in the
	// frame for resume and is the one nested firmware calls run with.
	MRS	DAIF, R16
	MASK_IRQ
	MOVD	R16, cbFrame_daif(R14)
	MOVD	$·fwDAIF(SB), R13
	MOVD	(R13), R17
	MOVD	R17, cbFrame_prevDAIF(R14)
	MOVD	R16, (R13)
	STP	(R0, R1), (cbFrame_args+0)(R14)
	STP	(R2, R3), (cbFrame_args+16)(R14)
	STP	(R4, R5), (cbFrame_args+32)(R14)
	STP	(R6, R7), (cbFrame_args+48)(R14)
	MOVD	R9, cbFrame_thunk(R14)
	MOVD	$·fwStackTop(SB), R13
	MOVD	(R13), R15
	MOVD	R15, cbFrame_top(R14)
	// Nested firmware calls run below the suspended firmware frame.
	MOVD	RSP, R15
	SUB	$128, R15
	AND	$~15, R15
	MOVD	R15, (R13)
	ADD	$1, R11, R15
	MOVD	R15, (R10)
	MOVD	R11, R0
	MOVD	$1, R1
	B	returnToGo<>(SB)
refuse:
	MOVD	$7, R0
	ORR	$(1<<63), R0
	RET

#define THUNK(n) MOVD $n, R9; B callback<>(SB)

// thunks<> holds maxThunks entry points of 8 bytes each; entry n is the
// function pointer handed to the firmware for callback slot n.
TEXT thunks<>(SB),NOSPLIT|NOFRAME,$0
	THUNK(0); THUNK(1); THUNK(2); THUNK(3); THUNK(4); THUNK(5); THUNK(6); THUNK(7)
	THUNK(8); THUNK(9); THUNK(10); THUNK(11); THUNK(12); THUNK(13); THUNK(14); THUNK(15)
	THUNK(16); THUNK(17); THUNK(18); THUNK(19); THUNK(20); THUNK(21); THUNK(22); THUNK(23)
	THUNK(24); THUNK(25); THUNK(26); THUNK(27); THUNK(28); THUNK(29); THUNK(30); THUNK(31)
	THUNK(32); THUNK(33); THUNK(34); THUNK(35); THUNK(36); THUNK(37); THUNK(38); THUNK(39)
	THUNK(40); THUNK(41); THUNK(42); THUNK(43); THUNK(44); THUNK(45); THUNK(46); THUNK(47)
	THUNK(48); THUNK(49); THUNK(50); THUNK(51); THUNK(52); THUNK(53); THUNK(54); THUNK(55)
	THUNK(56); THUNK(57); THUNK(58); THUNK(59); THUNK(60); THUNK(61); THUNK(62); THUNK(63)
	RET

// func thunkBase() uintptr
TEXT ·thunkBase(SB),NOSPLIT,$0-8
	MOVD	$thunks<>(SB), R0
	MOVD	R0, ret+0(FP)
	RET

// func exitToFirmware(status uintptr)
//
// exitToFirmware frees the runtime pool (it may be running on it: the
// free runs on the firmware stack and nothing in the pool is touched
// afterwards) and returns status from the image entry point.
TEXT ·exitToFirmware(SB),NOSPLIT|NOFRAME,$0-8
	MOVD	status+0(FP), R19
	MOVD	$·earlyTop(SB), R9
	MOVD	(R9), R10
	MOVD	R10, RSP
	MOVD	$·poolFree(SB), R9
	MOVD	0(R9), R16
	MOVD	8(R9), R0
	MOVD	16(R9), R1
	MOVD	$·fwDAIF(SB), R9
	MOVD	(R9), R9
	MSR	R9, DAIF
	CBZ	R16, nofree
	CALL	(R16)
nofree:
	MOVD	R19, R0
	MOVD	$·entryRegs(SB), R14
	RESTORE_FW(R14)
	MOVD	$·fwDAIF(SB), R9
	MOVD	(R9), R9
	MSR	R9, DAIF
	RET

// func currentEL() uint64
TEXT ·currentEL(SB),NOSPLIT,$0-8
	MRS	CurrentEL, R0
	LSR	$2, R0, R0
	AND	$3, R0, R0
	MOVD	R0, ret+0(FP)
	RET

// func counter() (cnt, freq uint64)
TEXT ·counter(SB),NOSPLIT,$0-16
	ISB	$15
	MRS	CNTVCT_EL0, R0
	MRS	CNTFRQ_EL0, R1
	MOVD	R0, cnt+0(FP)
	MOVD	R1, freq+8(FP)
	RET
