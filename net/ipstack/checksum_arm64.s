#include "textflag.h"

// func sum64(b []byte) uint64
//
// R2 accumulates with the carry chained through eight ADCS per 64 bytes;
// each block's last carry is added back (end-around carry, RFC 1071 §2(C)).
// An ADC of ZR after an ADCS cannot lose a carry: the sum it completes is
// at most 2^65-1, whose low word plus one does not wrap unless it is all
// ones, and then the second ADCS/ADC pair adds the last carry back.
TEXT ·sum64(SB), NOSPLIT, $0-32
	MOVD	b_base+0(FP), R0
	MOVD	b_len+8(FP), R1
	MOVD	ZR, R2
	CMP	$64, R1
	BLT	words

block:
	LDP	(R0), (R3, R4)
	LDP	16(R0), (R5, R6)
	LDP	32(R0), (R7, R8)
	LDP	48(R0), (R9, R10)
	ADDS	R3, R2, R2
	ADCS	R4, R2, R2
	ADCS	R5, R2, R2
	ADCS	R6, R2, R2
	ADCS	R7, R2, R2
	ADCS	R8, R2, R2
	ADCS	R9, R2, R2
	ADCS	R10, R2, R2
	ADCS	ZR, R2, R2
	ADC	ZR, R2, R2
	ADD	$64, R0, R0
	SUB	$64, R1, R1
	CMP	$64, R1
	BGE	block

words:
	CMP	$8, R1
	BLT	done
	MOVD.P	8(R0), R3
	ADDS	R3, R2, R2
	ADCS	ZR, R2, R2
	ADC	ZR, R2, R2
	SUB	$8, R1, R1
	B	words

done:
	MOVD	R2, ret+24(FP)
	RET
