//go:build !arm64

package ipstack

func sum64(b []byte) uint64 { return sum64Generic(b) }

func copySum64(dst, src []byte) uint64 {
	n := len(src) &^ 7
	copy(dst[:n], src[:n])
	return sum64Generic(src[:n])
}
