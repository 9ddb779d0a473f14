package ipstack

import (
	"math/rand/v2"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/checksum"
)

// TestOnesSumMatchesGVisor compares onesSum (assembly on arm64) with
// gVisor's checksum for every length up to 2000 at several alignments and
// initial values, and for all-ones data (the carry corner).
func TestOnesSumMatchesGVisor(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 2003)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	ff := make([]byte, 2003)
	for i := range ff {
		ff[i] = 0xff
	}
	for _, data := range [][]byte{buf, ff} {
		for n := 0; n <= 2000; n++ {
			for _, init := range []uint16{0, 1, 0xfffe, 0xffff, uint16(r.Uint32())} {
				for _, off := range []int{0, 1, 3} {
					b := data[off : off+n]
					if got, want := onesSum(b, init), checksum.Checksum(b, init); got != want {
						t.Fatalf("onesSum(%d bytes at offset %d, %#x) = %#x; want %#x", n, off, init, got, want)
					}
				}
			}
		}
	}
	if got, want := sum64(ff[:2000]), sum64Generic(ff[:2000]); got != want {
		t.Errorf("sum64(all ones) = %#x; want %#x", got, want)
	}
}

func FuzzOnesSum(f *testing.F) {
	f.Add([]byte{0x45, 0, 0, 20}, uint16(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint16(0xffff))
	f.Fuzz(func(t *testing.T, b []byte, init uint16) {
		if got, want := onesSum(b, init), checksum.Checksum(b, init); got != want {
			t.Errorf("onesSum(%x, %#x) = %#x; want %#x", b, init, got, want)
		}
		if n := len(b) &^ 7; sum64(b[:n]) != sum64Generic(b[:n]) {
			t.Errorf("sum64(%x) = %#x; want %#x", b[:n], sum64(b[:n]), sum64Generic(b[:n]))
		}
	})
}

func BenchmarkOnesSum(b *testing.B) {
	buf := make([]byte, 1460)
	b.SetBytes(int64(len(buf)))
	for range b.N {
		onesSum(buf, 0)
	}
}
