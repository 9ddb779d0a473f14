package ipstack

import (
	"encoding/binary"
	"math/bits"
)

// The Internet checksum (RFC 1071) is computed here in three steps: a
// partial sum accumulates 64-bit little-endian words with end-around carry
// (sum64: arm64 assembly, LDP and one ADCS chain; Go elsewhere), partial
// sums of pieces that start at even offsets of the checksummed data add up
// (add1c), and foldSum folds the total to 16 bits once. Every received
// segment is summed, so this is a large part of what a frame costs under
// QEMU's TCG: the assembly takes about a third of the instructions of
// gVisor's generic Go, and copySum64 sums a TCP payload while the coalescer
// copies it (one pass instead of two).
//
// Words are loaded little-endian and the folded sum is swapped once at the
// end, which RFC 1071 §2(B) allows: the sum is byte-order independent. Any
// grouping of 16-bit words into 64-bit lanes gives the same folded sum,
// since 2^16 ≡ 1 modulo 2^16-1 (§2(C)).

// onesSum returns the 16-bit ones' complement sum of b, big-endian 16-bit
// words, added to initial: the same value as gVisor's
// checksum.Checksum(b, initial).
func onesSum(b []byte, initial uint16) uint16 {
	sum := uint32(foldSum(partialSum(b))) + uint32(initial)
	return uint16(sum>>16 + sum&0xffff)
}

// partialSum returns the unfolded sum of b; an odd last byte is the high
// byte of a zero-padded word.
func partialSum(b []byte) uint64 {
	n := len(b) &^ 7
	return addTail(sum64(b[:n]), b[n:])
}

// headerSum is partialSum of a header made of whole 32-bit words (IPv4's
// and TCP's, 20 to 60 bytes), in Go: a few words need no call.
func headerSum(b []byte) uint64 {
	var s uint64
	for ; len(b) >= 8; b = b[8:] {
		s = add1c(s, binary.LittleEndian.Uint64(b))
	}
	if len(b) >= 4 {
		s = add1c(s, uint64(binary.LittleEndian.Uint32(b)))
	}
	return s
}

// addTail adds t (at most 7 bytes, zero-padded to a word) to the partial
// sum s.
func addTail(s uint64, t []byte) uint64 {
	if len(t) == 0 {
		return s
	}
	var tail [8]byte
	copy(tail[:], t)
	return add1c(s, binary.LittleEndian.Uint64(tail[:]))
}

// add1c is ones' complement addition of two partial sums.
func add1c(a, b uint64) uint64 {
	s, c := bits.Add64(a, b, 0)
	return s + c // cannot overflow again: a+b < 2^65-1
}

// foldSum folds a partial sum to the 16-bit ones' complement sum, as a
// big-endian value.
func foldSum(s uint64) uint16 {
	s = s>>32 + s&0xffffffff
	s = s>>32 + s&0xffffffff
	s = s>>16 + s&0xffff
	s = s>>16 + s&0xffff
	return bits.ReverseBytes16(uint16(s))
}

// copySum copies src to dst (which must hold it) and returns src's partial
// sum.
func copySum(dst, src []byte) uint64 {
	n := len(src) &^ 7
	s := copySum64(dst, src)
	copy(dst[n:], src[n:])
	return addTail(s, src[n:])
}

// segmentSum is the folded sum of a TCP or UDP segment and its
// pseudo-header's partial sum: 0xffff when the checksum in the segment is
// right (RFC 9293 §3.1, RFC 768); with the checksum field zero, its
// complement is the checksum to send.
func segmentSum(seg []byte, pseudo uint64) uint16 {
	return foldSum(add1c(pseudo, partialSum(seg)))
}

// pseudoSum returns the partial sum of the TCP/UDP pseudo-header of an IPv4
// packet ip whose transport segment is n bytes (RFC 9293 §3.1): source and
// destination address, a zero byte, the protocol, the length.
func pseudoSum(ip []byte, n int) uint64 {
	w := uint64(ip[9])<<8 | uint64(n>>8&0xff)<<16 | uint64(n&0xff)<<24
	return add1c(binary.LittleEndian.Uint64(ip[12:20]), w)
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
