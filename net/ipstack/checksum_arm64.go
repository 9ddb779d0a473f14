package ipstack

// sum64 is the ones' complement sum of b's little-endian 64-bit words
// (len(b) a multiple of 8), carries added back (checksum_arm64.s).
//
//go:noescape
func sum64(b []byte) uint64

// copySum64 copies src[:len(src)&^7] to dst and returns sum64 of those
// bytes (checksum_arm64.s).
//
//go:noescape
func copySum64(dst, src []byte) uint64
