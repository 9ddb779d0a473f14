package ipstack

import (
	"math/rand/v2"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
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
		if w := b[:len(b)&^3]; foldSum(headerSum(w)) != foldSum(partialSum(w)) {
			t.Errorf("headerSum(%x) = %#x; want %#x", w, foldSum(headerSum(w)), foldSum(partialSum(w)))
		}
		dst := make([]byte, len(b))
		if got, want := foldSum(copySum(dst, b)), foldSum(partialSum(b)); got != want || string(dst) != string(b) {
			t.Errorf("copySum(%x) = %#x, copied %x; want %#x", b, got, dst, want)
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

// TestCopySum: copySum copies every length at several alignments exactly
// and returns the partial sum that partialSum gives for the same bytes.
func TestCopySum(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	src := make([]byte, 2003)
	for i := range src {
		src[i] = byte(r.Uint32())
	}
	dst := make([]byte, 2010)
	for n := 0; n <= 2000; n++ {
		for _, off := range []int{0, 1, 3} {
			for i := range dst {
				dst[i] = 0xa5
			}
			b := src[off : off+n]
			got := copySum(dst[off:], b)
			if want := partialSum(b); foldSum(got) != foldSum(want) {
				t.Fatalf("copySum(%d bytes at offset %d) sums to %#x; want %#x", n, off, foldSum(got), foldSum(want))
			}
			if string(dst[off:off+n]) != string(b) || dst[off+n] != 0xa5 {
				t.Fatalf("copySum(%d bytes at offset %d) copied %x; want %x and nothing after", n, off, dst[off:off+n+1], b)
			}
		}
	}
}

// TestHeaderSums: the IPv4 header check (headerSum, with and without
// options) and the pseudo-header sum agree with gVisor.
func TestHeaderSums(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 10000 {
		ip := make([]byte, 20+4*r.IntN(11))
		for i := range ip {
			ip[i] = byte(r.Uint32())
		}
		ip[0] = 0x40 | byte(len(ip)/4)
		h := header.IPv4(ip)
		if r.IntN(2) == 0 {
			h.SetChecksum(0)
			h.SetChecksum(^h.CalculateChecksum())
		}
		if got, want := foldSum(headerSum(ip)) == 0xffff, checksum.Checksum(ip, 0) == 0xffff; got != want {
			t.Fatalf("header %x sums to all ones: %v; want %v", ip, got, want)
		}
		n := r.IntN(0x10000)
		want := header.PseudoHeaderChecksum(tcpip.TransportProtocolNumber(ip[9]), h.SourceAddress(), h.DestinationAddress(), uint16(n))
		if got := foldSum(pseudoSum(ip, n)); got != want {
			t.Fatalf("pseudoSum(%x, %d) = %#x; want %#x", ip, n, got, want)
		}
	}
}
