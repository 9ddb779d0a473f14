package blockio

import (
	"bytes"
	"errors"
	"testing"

	"github.com/snp-go/snp-go/efi"
)

type failDisk struct {
	SliceDisk
	err error
}

func (f *failDisk) ReadBlocks(lba uint64, buf []byte) error { return f.err }

func TestDeviceChecks(t *testing.T) {
	data := make([]byte, 8*512)
	for i := range data {
		data[i] = byte(i / 512)
	}
	d := New(&SliceDisk{Data: data, Block: 512}, 7)
	ro := New(&SliceDisk{Data: data, Block: 512, Protected: true}, 7)
	for _, tt := range []struct {
		name  string
		dev   *Device
		write bool
		media uint32
		lba   uint64
		n     int
		want  efi.Status
	}{
		{"read ok", d, false, 7, 2, 1024, efi.Success},
		{"read last block", d, false, 7, 7, 512, efi.Success},
		{"read zero length", d, false, 7, 100, 0, efi.Success},
		{"wrong media", d, false, 8, 0, 512, efi.MediaChanged},
		{"partial block", d, false, 7, 0, 100, efi.BadBufferSize},
		{"lba past end", d, false, 7, 8, 512, efi.InvalidParameter},
		{"run past end", d, false, 7, 7, 1024, efi.InvalidParameter},
		{"huge lba no overflow", d, false, 7, ^uint64(0), 512, efi.InvalidParameter},
		{"write ok", d, true, 7, 1, 512, efi.Success},
		{"write protected", ro, true, 7, 1, 512, efi.WriteProtected},
		{"write partial", d, true, 7, 1, 513, efi.BadBufferSize},
	} {
		buf := make([]byte, tt.n)
		var got efi.Status
		if tt.write {
			got = tt.dev.WriteBlocks(tt.media, tt.lba, buf)
		} else {
			got = tt.dev.ReadBlocks(tt.media, tt.lba, buf)
		}
		if got != tt.want {
			t.Errorf("%s: status = %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestDeviceData(t *testing.T) {
	m := &SliceDisk{Data: make([]byte, 4*4096), Block: 4096}
	d := New(m, 1)
	w := bytes.Repeat([]byte("snp-go"), 4096*2/6+1)[:8192]
	if s := d.WriteBlocks(1, 2, w); s != efi.Success {
		t.Fatalf("WriteBlocks = %v", s)
	}
	r := make([]byte, 8192)
	if s := d.ReadBlocks(1, 2, r); s != efi.Success || !bytes.Equal(r, w) {
		t.Fatalf("ReadBlocks = %v, data equal %v", s, bytes.Equal(r, w))
	}
	md := d.Media()
	if md.BlockSize != 4096 || md.LastBlock != 3 || !md.Present || md.ReadOnly || md.MediaID != 1 {
		t.Errorf("Media() = %+v", md)
	}
	if st := d.Stats(); st.Reads != 1 || st.Writes != 1 || st.BytesRead != 8192 {
		t.Errorf("Stats() = %+v", st)
	}
}

func TestDeviceErrors(t *testing.T) {
	var logged string
	for _, tt := range []struct {
		err  error
		want efi.Status
	}{
		{errors.New("connection reset"), efi.DeviceError},
		{ErrNoMedia, efi.NoMedia},
	} {
		d := New(&failDisk{SliceDisk{Data: make([]byte, 1024), Block: 512}, tt.err}, 0)
		d.Log = func(f string, a ...any) { logged = f }
		if got := d.ReadBlocks(0, 0, make([]byte, 512)); got != tt.want {
			t.Errorf("ReadBlocks with disk error %v = %v; want %v", tt.err, got, tt.want)
		}
	}
	if logged == "" {
		t.Errorf("failed read was not logged")
	}
	empty := New(&SliceDisk{Block: 512}, 0)
	if got := empty.ReadBlocks(0, 0, make([]byte, 512)); got != efi.NoMedia {
		t.Errorf("read from empty disk = %v; want EFI_NO_MEDIA", got)
	}
}
