package ipstack

import (
	"encoding/binary"
	"math/bits"
)

// onesSum returns the Internet checksum's 16-bit ones' complement sum
// (RFC 1071) of b, big-endian 16-bit words, added to initial: the same
// value as gVisor's checksum.Checksum(b, initial). Every received segment
// is summed once (validChecksums), so on arm64 the 8-byte words are added
// by sum64 in assembly (LDP and an ADDS/ADCS chain: about a third of the
// instructions of gVisor's generic Go, which under QEMU's TCG is a large
// part of what a frame costs); elsewhere sum64 is Go.
//
// Words are loaded little-endian and the folded sum is swapped once at the
// end, which RFC 1071 §2(B) allows: the sum is byte-order independent.
func onesSum(b []byte, initial uint16) uint16 {
	n := len(b) &^ 7
	s := sum64(b[:n])
	var c uint64
	if n < len(b) {
		var tail [8]byte
		copy(tail[:], b[n:]) // an odd last byte is the high byte of a zero-padded word
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(tail[:]), 0)
		s += c // cannot overflow again: s+tail < 2^65-1
	}
	// Fold 64 -> 16 bits, adding the carries back in.
	s = s>>32 + s&0xffffffff
	s = s>>32 + s&0xffffffff
	s = s>>16 + s&0xffff
	s = s>>16 + s&0xffff
	sum := uint32(bits.ReverseBytes16(uint16(s))) + uint32(initial)
	return uint16(sum>>16 + sum&0xffff)
}

// sum64Generic is sum64 in Go: the ones' complement sum of b's
// little-endian 64-bit words (len(b) a multiple of 8), carries added back.
func sum64Generic(b []byte) uint64 {
	var s, c uint64
	for ; len(b) >= 8; b = b[8:] {
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b), c)
	}
	s, c = bits.Add64(s, c, 0)
	return s + c
}
