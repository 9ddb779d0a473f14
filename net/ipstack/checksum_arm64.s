#include "textflag.h"

// The ones' complement sums below keep one carry chain through the whole
// buffer: every 64-byte block adds its eight words with ADCS, and the loop
// is counted with SUB and CBNZ, which leave the flags alone (ADD and SUB
// without S do not set them), so no block ends in an end-around-carry
// fix-up. The chain's last carry, and each 8-byte word's after the blocks,
// is added back with ADCS ZR then ADC ZR: the first can carry only when the
// sum is all ones, and then the second cannot (RFC 1071 §2(C), end-around
// carry).

// ADD_BLOCK adds the 64-byte block loaded into R3, R5-R11 to R2 with carry.
#define ADD_BLOCK \
	ADCS	R3, R2, R2 \
	ADCS	R5, R2, R2 \
	ADCS	R6, R2, R2 \
	ADCS	R7, R2, R2 \
	ADCS	R8, R2, R2 \
	ADCS	R9, R2, R2 \
	ADCS	R10, R2, R2 \
	ADCS	R11, R2, R2

// func sum64(b []byte) uint64
TEXT ·sum64(SB), NOSPLIT, $0-32
	MOVD	b_base+0(FP), R0
	MOVD	b_len+8(FP), R1
	MOVD	ZR, R2
	LSR	$6, R1, R4      // 64-byte blocks
	AND	$63, R1, R1     // bytes after them
	ADDS	R2, R2, R2      // R2 = 0: carry clear
	CBZ	R4, words

block:
	LDP	(R0), (R3, R5)
	LDP	16(R0), (R6, R7)
	LDP	32(R0), (R8, R9)
	LDP	48(R0), (R10, R11)
	ADD_BLOCK
	ADD	$64, R0, R0
	SUB	$1, R4, R4
	CBNZ	R4, block

words:
	ADCS	ZR, R2, R2
	ADC	ZR, R2, R2
	CMP	$8, R1
	BLT	done
	MOVD.P	8(R0), R3
	ADDS	R3, R2, R2
	SUB	$8, R1, R1
	B	words

done:
	MOVD	R2, ret+24(FP)
	RET

// func copySum64(dst, src []byte) uint64
//
// copySum64 copies the first len(src)&^7 bytes of src to dst (which must
// hold them) and returns their sum as sum64 does: one pass over the data
// where a copy and a checksum would make two.
TEXT ·copySum64(SB), NOSPLIT, $0-56
	MOVD	dst_base+0(FP), R12
	MOVD	src_base+24(FP), R0
	MOVD	src_len+32(FP), R1
	MOVD	ZR, R2
	LSR	$6, R1, R4
	AND	$63, R1, R1
	ADDS	R2, R2, R2
	CBZ	R4, cwords

cblock:
	LDP	(R0), (R3, R5)
	LDP	16(R0), (R6, R7)
	LDP	32(R0), (R8, R9)
	LDP	48(R0), (R10, R11)
	STP	(R3, R5), (R12)
	STP	(R6, R7), 16(R12)
	STP	(R8, R9), 32(R12)
	STP	(R10, R11), 48(R12)
	ADD_BLOCK
	ADD	$64, R0, R0
	ADD	$64, R12, R12
	SUB	$1, R4, R4
	CBNZ	R4, cblock

cwords:
	ADCS	ZR, R2, R2
	ADC	ZR, R2, R2
	CMP	$8, R1
	BLT	cdone
	MOVD.P	8(R0), R3
	MOVD.P	R3, 8(R12)
	ADDS	R3, R2, R2
	SUB	$8, R1, R1
	B	cwords

cdone:
	MOVD	R2, ret+48(FP)
	RET
