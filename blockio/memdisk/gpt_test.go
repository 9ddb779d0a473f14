package memdisk

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"unicode/utf16"
)

// gptInfo is what checkGPT reads back from an image.
type gptInfo struct {
	diskGUID           GUID
	firstUsable        uint64
	lastUsable         uint64
	typeGUID, partGUID GUID
	start, end         uint64
	name               string
	usedEntries        int
}

// checkGPT parses the protective MBR and both GPT headers and entry arrays
// of img independently of the writer, validating them as UEFI 2.10 §5.3.2
// tells firmware to: signature, header CRC, MyLBA, entry-array CRC, and the
// backup matching the primary.
func checkGPT(img []byte) (*gptInfo, error) {
	le := binary.LittleEndian
	if len(img)%512 != 0 || len(img) < 67*512 {
		return nil, fmt.Errorf("image of %d bytes is not a whole number of blocks large enough for GPT", len(img))
	}
	n := uint64(len(img) / 512)
	mbr := img[:512]
	if mbr[510] != 0x55 || mbr[511] != 0xAA {
		return nil, fmt.Errorf("MBR signature = % x; want 55 aa", mbr[510:])
	}
	p := mbr[446:462]
	if p[4] != 0xEE || le.Uint32(p[8:]) != 1 || uint64(le.Uint32(p[12:])) != min(n-1, 0xFFFFFFFF) {
		return nil, fmt.Errorf("protective MBR entry: type %#x start %d size %d; want 0xee 1 %d", p[4], le.Uint32(p[8:]), le.Uint32(p[12:]), n-1)
	}
	if !bytes.Equal(mbr[462:510], make([]byte, 48)) {
		return nil, fmt.Errorf("protective MBR has more than one partition entry")
	}
	readHeader := func(lba uint64) ([]byte, []byte, error) {
		h := img[lba*512 : lba*512+512]
		if string(h[:8]) != "EFI PART" {
			return nil, nil, fmt.Errorf("LBA %d: signature %q; want \"EFI PART\"", lba, h[:8])
		}
		size := le.Uint32(h[12:])
		if size != 92 || le.Uint32(h[8:]) != 0x00010000 {
			return nil, nil, fmt.Errorf("LBA %d: header size %d revision %#x; want 92, 0x10000", lba, size, le.Uint32(h[8:]))
		}
		c := append([]byte{}, h[:size]...)
		le.PutUint32(c[16:], 0)
		if got, want := le.Uint32(h[16:]), crc32.ChecksumIEEE(c); got != want {
			return nil, nil, fmt.Errorf("LBA %d: HeaderCRC32 = %#x; want %#x", lba, got, want)
		}
		if !bytes.Equal(h[92:], make([]byte, 512-92)) || le.Uint32(h[20:]) != 0 {
			return nil, nil, fmt.Errorf("LBA %d: reserved header bytes are not zero", lba)
		}
		if my := le.Uint64(h[24:]); my != lba {
			return nil, nil, fmt.Errorf("LBA %d: MyLBA = %d", lba, my)
		}
		num, esz := le.Uint32(h[80:]), le.Uint32(h[84:])
		if esz != 128 || num < 128 {
			return nil, nil, fmt.Errorf("LBA %d: %d entries of %d bytes; want >= 128 of 128", lba, num, esz)
		}
		eLBA := le.Uint64(h[72:])
		arr := img[eLBA*512 : eLBA*512+uint64(num*esz)]
		if got, want := le.Uint32(h[88:]), crc32.ChecksumIEEE(arr); got != want {
			return nil, nil, fmt.Errorf("LBA %d: PartitionEntryArrayCRC32 = %#x; want %#x", lba, got, want)
		}
		return h, arr, nil
	}
	ph, parr, err := readHeader(1)
	if err != nil {
		return nil, fmt.Errorf("primary GPT: %v", err)
	}
	alt := le.Uint64(ph[32:])
	if alt != n-1 {
		return nil, fmt.Errorf("primary GPT: AlternateLBA = %d; want last LBA %d", alt, n-1)
	}
	if le.Uint64(ph[72:]) != 2 {
		return nil, fmt.Errorf("primary GPT: PartitionEntryLBA = %d; want 2", le.Uint64(ph[72:]))
	}
	bh, barr, err := readHeader(alt)
	if err != nil {
		return nil, fmt.Errorf("backup GPT: %v", err)
	}
	if le.Uint64(bh[32:]) != 1 {
		return nil, fmt.Errorf("backup GPT: AlternateLBA = %d; want 1", le.Uint64(bh[32:]))
	}
	if e := le.Uint64(bh[72:]); e+32 != n-1 {
		return nil, fmt.Errorf("backup GPT: entries at LBA %d; want %d, just before the header", e, n-33)
	}
	for _, f := range []struct {
		name string
		a, b []byte
	}{
		{"FirstUsableLBA", ph[40:48], bh[40:48]},
		{"LastUsableLBA", ph[48:56], bh[48:56]},
		{"DiskGUID", ph[56:72], bh[56:72]},
		{"entry array", parr, barr},
	} {
		if !bytes.Equal(f.a, f.b) {
			return nil, fmt.Errorf("backup GPT %s differs from primary", f.name)
		}
	}
	info := &gptInfo{firstUsable: le.Uint64(ph[40:]), lastUsable: le.Uint64(ph[48:])}
	copy(info.diskGUID[:], ph[56:72])
	if info.firstUsable < 34 || info.lastUsable > n-34 || info.firstUsable > info.lastUsable {
		return nil, fmt.Errorf("usable LBAs %d..%d overlap the GPT structures of a %d-block disk", info.firstUsable, info.lastUsable, n)
	}
	for i := 0; i < len(parr)/128; i++ {
		e := parr[i*128 : i*128+128]
		if bytes.Equal(e[:16], make([]byte, 16)) {
			continue
		}
		info.usedEntries++
		copy(info.typeGUID[:], e[0:16])
		copy(info.partGUID[:], e[16:32])
		info.start, info.end = le.Uint64(e[32:]), le.Uint64(e[40:])
		u := make([]uint16, 36)
		for j := range u {
			u[j] = le.Uint16(e[56+2*j:])
		}
		info.name = strings.TrimRight(string(utf16.Decode(u)), "\x00")
		if info.start < info.firstUsable || info.end > info.lastUsable || info.start > info.end {
			return nil, fmt.Errorf("entry %d: LBAs %d..%d outside usable %d..%d", i, info.start, info.end, info.firstUsable, info.lastUsable)
		}
	}
	return info, nil
}

func TestGPTLayout(t *testing.T) {
	tests := []struct {
		size     int64
		opts     []Option
		wantType GUID
		wantName string
	}{
		{MinSize, nil, EFISystemGUID, "EFI System Partition"},
		{2 << 20, []Option{WithPartitionType(BasicData)}, BasicDataGUID, "Basic data partition"},
		{DefaultSize, []Option{WithPartitionName("snp-go boot")}, EFISystemGUID, "snp-go boot"},
		{64 << 20, []Option{WithPartitionName("ÄÖÜ 36 units long name............."), WithPartitionType(BasicData)}, BasicDataGUID, "ÄÖÜ 36 units long name............."},
	}
	for _, tt := range tests {
		d, err := New(tt.size, "", nil, tt.opts...)
		if err != nil {
			t.Fatalf("New(%d) error: %v", tt.size, err)
		}
		info, err := checkGPT(d.Bytes())
		if err != nil {
			t.Fatalf("New(%d): %v", tt.size, err)
		}
		n := uint64(tt.size / 512)
		l := d.Layout()
		if info.usedEntries != 1 || info.start != 2048 || info.end != n-34 {
			t.Errorf("New(%d) partition = %d entries, LBAs %d..%d; want 1 entry, 2048..%d", tt.size, info.usedEntries, info.start, info.end, n-34)
		}
		if info.typeGUID != tt.wantType || info.name != tt.wantName {
			t.Errorf("New(%d) partition type %v name %q; want %v %q", tt.size, info.typeGUID, info.name, tt.wantType, tt.wantName)
		}
		if info.diskGUID != l.DiskGUID || info.partGUID != l.PartitionGUID || l.PartitionStartLBA != info.start || l.PartitionEndLBA != info.end || l.PartitionType != tt.wantType {
			t.Errorf("New(%d).Layout() = %+v; disagrees with the GPT read back %+v", tt.size, l, info)
		}
		if d.NumBlocks() != n || d.Size() != tt.size {
			t.Errorf("New(%d): NumBlocks %d Size %d; want %d %d", tt.size, d.NumBlocks(), d.Size(), n, tt.size)
		}
	}
}

// TestCheckGPTDetectsCorruption makes sure checkGPT is not a rubber stamp.
func TestCheckGPTDetectsCorruption(t *testing.T) {
	img, err := Build(DefaultSize, "", nil, WithSeed([]byte("corrupt")))
	if err != nil {
		t.Fatal(err)
	}
	n := len(img) / 512
	for _, off := range []int{446 + 4, 512 + 30, 512 + 16, 2*512 + 40, (n-1)*512 + 60, (n-33)*512 + 1} {
		bad := append([]byte{}, img...)
		bad[off] ^= 0x01
		if _, err := checkGPT(bad); err == nil {
			t.Errorf("checkGPT with byte %d flipped: no error; want one", off)
		}
	}
}

func TestCHS(t *testing.T) {
	tests := []struct {
		lba  uint64
		want []byte
	}{
		{0, []byte{0, 1, 0}},
		{1, []byte{0, 2, 0}},
		{63, []byte{1, 1, 0}},
		{255 * 63, []byte{0, 1, 1}},
		{8191, []byte{0x82, 0x02, 0x00}}, // 4 MiB disk: 8191 = 130*63 + 1, so C0 H130 S2
		{1024*255*63 - 1, []byte{254, 0xFF, 0xFF}},
		{1024 * 255 * 63, []byte{0xFF, 0xFF, 0xFF}},
	}
	for _, tt := range tests {
		if got := chs(tt.lba); !bytes.Equal(got, tt.want) {
			t.Errorf("chs(%d) = % x; want % x", tt.lba, got, tt.want)
		}
	}
}
