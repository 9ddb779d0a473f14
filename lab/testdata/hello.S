// A minimal arm64 UEFI application for the lab's own tests: it prints
// "LAB-EFI-OK" through ConOut and returns EFI_SUCCESS, so the lab can prove
// the load/bootefi/return path without the snp-go build.
//
// Entry (UEFI 2.10 §2.3.6, AArch64): x0 = ImageHandle, x1 = SystemTable.
// EFI_SYSTEM_TABLE (§4.3): ConOut at offset 64. EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL
// (§12.4): OutputString is its second member, offset 8.
	.text
	.globl	_start
_start:
	stp	x29, x30, [sp, #-16]!
	mov	x29, sp
	ldr	x0, [x1, #64]		// This = SystemTable->ConOut
	ldr	x2, [x0, #8]		// ConOut->OutputString
	adr	x1, message		// CHAR16 *String
	blr	x2
	mov	x0, #0			// EFI_SUCCESS
	ldp	x29, x30, [sp], #16
	ret

	.balign	2
message:				// UCS-2 "LAB-EFI-OK\r\n"
	.short	'L', 'A', 'B', '-', 'E', 'F', 'I', '-', 'O', 'K', 13, 10, 0
