//go:build !arm64

package ipstack

func sum64(b []byte) uint64 { return sum64Generic(b) }
