//go:build !arm64

package net

func sum64(b []byte) uint64 { return sum64Generic(b) }
