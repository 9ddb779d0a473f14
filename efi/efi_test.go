package efi

import (
	"bytes"
	"errors"
	"net"
	"slices"
	"testing"
)

func TestStatusString(t *testing.T) {
	for _, tt := range []struct {
		s    Status
		want string
	}{
		{Success, "EFI_SUCCESS"},
		{NotFound, "EFI_NOT_FOUND"},
		{DeviceError, "EFI_DEVICE_ERROR"},
		{Status(1<<63 | 0x7777), "EFI error 0x7777"},
		{WarnBufferTooSmall, "EFI_WARN_BUFFER_TOO_SMALL"},
	} {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("Status(%#x).String() = %q; want %q", uint64(tt.s), got, tt.want)
		}
	}
	if DeviceError.Err() == nil || Success.Err() != nil || WarnStaleData.Err() != nil {
		t.Errorf("Err(): error/success/warning classification wrong")
	}
	err := wrap("BootServices.LocateProtocol", NotFound)
	if !errors.Is(err, NotFound) || err.Error() != "BootServices.LocateProtocol: EFI_NOT_FOUND" {
		t.Errorf("wrap() = %v; want an error naming the call that Is NotFound", err)
	}
}

func TestGUID(t *testing.T) {
	g := MustGUID("964e5b21-6459-11d2-8e39-00a0c969723b")
	// UEFI 2.10 Appendix A: Data1..3 little-endian in memory.
	want := []byte{0x21, 0x5b, 0x4e, 0x96, 0x59, 0x64, 0xd2, 0x11, 0x8e, 0x39, 0x00, 0xa0, 0xc9, 0x69, 0x72, 0x3b}
	if !bytes.Equal(g[:], want) {
		t.Errorf("MustGUID(block io) = % x; want % x", g[:], want)
	}
	if got := g.String(); got != "964e5b21-6459-11d2-8e39-00a0c969723b" {
		t.Errorf("String() = %q", got)
	}
	for _, bad := range []string{"", "964e5b21-6459-11d2-8e39", "964e5b21-6459-11d2-8e39-00a0c969723g", "964e5b216459-11d2-8e39-00a0c969723b-"} {
		if _, err := ParseGUID(bad); err == nil {
			t.Errorf("ParseGUID(%q) succeeded; want error", bad)
		}
	}
}

func TestStaticGUIDs(t *testing.T) {
	if want := MustGUID("3152bca5-eade-433d-862e-c01cdc291f44"); RNGProtocolGUID != want {
		t.Errorf("RNGProtocolGUID = %v; want %v", RNGProtocolGUID, want)
	}
}

func TestDevicePathRoundTrip(t *testing.T) {
	mac := net.HardwareAddr{0x52, 0x52, 0x52, 0x52, 0x52, 0x52}
	vendor := MustGUID("1c8c7d2e-2b1f-4a6e-9d35-5f4e3a2b1c0d")
	var lun [8]byte
	lun[1] = 1
	p := DevicePath{
		{ACPIDevicePath, SubACPI, []byte{0xd0, 0x41, 0x03, 0x0a, 0, 0, 0, 0}},
		PCINode(1, 0),
		MACNode(mac, 1),
		VLANNode(42),
		ISCSINode("iqn.2026-11.org.example:disk", 1, lun, ISCSIAuthCHAPBi),
	}
	want := "PciRoot(0x0)/Pci(0x1,0x0)/MAC(525252525252,0x1)/Vlan(42)/iSCSI(iqn.2026-11.org.example:disk,0x1,0x0001000000000000,None,None,CHAP_BI,TCP)"
	if got := p.String(); got != want {
		t.Errorf("String() =\n %s\nwant\n %s", got, want)
	}
	b := p.Bytes()
	q, n, err := ParseDevicePath(append(b, 0xaa, 0xbb))
	if err != nil || n != len(b) {
		t.Fatalf("ParseDevicePath() = _, %d, %v; want %d, nil", n, err, len(b))
	}
	if q.String() != want || !bytes.Equal(q.Bytes(), b) {
		t.Errorf("round trip changed the path: %s", q)
	}
	v := DevicePath{VendorHWNode(vendor, []byte{1, 2}), FilePathNode("/EFI/BOOT/BOOTAA64.EFI")}
	if got, want := v.String(), `VenHw(1C8C7D2E-2B1F-4A6E-9D35-5F4E3A2B1C0D,0102)/\EFI\BOOT\BOOTAA64.EFI`; got != want {
		t.Errorf("String() = %s; want %s", got, want)
	}
	u := DevicePath{MACNode(mac, 1), URINode("https://10.0.2.2:8443/disk.img")}
	if got, want := u.String(), "MAC(525252525252,0x1)/Uri(https://10.0.2.2:8443/disk.img)"; got != want {
		t.Errorf("String() = %s; want %s", got, want)
	}
	if v[len(v)-1].IsMedia() != true || v[0].IsMedia() {
		t.Errorf("IsMedia wrong")
	}
}

func TestParseDevicePathErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short header", []byte{1, 1, 4}},
		{"length below header", []byte{1, 1, 2, 0}},
		{"length past end", []byte{1, 1, 40, 0, 0}},
		{"no end", []byte{1, 1, 6, 0, 1, 2}},
	} {
		if _, _, err := ParseDevicePath(tt.b); err == nil {
			t.Errorf("ParseDevicePath(%s) succeeded; want error", tt.name)
		}
	}
	// multi-instance: first instance returned, consumed through End Entire.
	b := []byte{1, 1, 6, 0, 1, 2, 0x7f, 0x01, 4, 0, 1, 1, 6, 0, 3, 4, 0x7f, 0xff, 4, 0}
	p, n, err := ParseDevicePath(b)
	if err != nil || n != len(b) || len(p) != 1 {
		t.Errorf("multi-instance: ParseDevicePath() = %v, %d, %v; want 1 node, %d bytes", p, n, err, len(b))
	}
}

func FuzzParseDevicePath(f *testing.F) {
	f.Add(DevicePath{PCINode(1, 0), FilePathNode(`\x`)}.Bytes())
	f.Add([]byte{0x7f, 0xff, 4, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, n, err := ParseDevicePath(b)
		if err != nil {
			return
		}
		if n > len(b) {
			t.Fatalf("consumed %d of %d bytes", n, len(b))
		}
		_ = p.String()
		q, _, err := ParseDevicePath(p.Bytes())
		if err != nil || len(q) != len(p) {
			t.Fatalf("re-encoding failed: %v", err)
		}
	})
}

// TestRoots uses the Simple Network handles EDK2 (AAVMF 2022.11) shows for
// one virtio-net: the NIC and the IPv4 and IPv6 children of its PXE driver.
func TestRoots(t *testing.T) {
	mac, _ := net.ParseMAC("52:54:00:12:34:56")
	nic := DevicePath{{ACPIDevicePath, SubACPI, []byte{0xd0, 0x41, 0x03, 0x0a, 0, 0, 0, 0}}, PCINode(1, 0), MACNode(mac, 1)}
	v4 := nic.Append(Node{MessagingDevicePath, SubIPv4, make([]byte, 23)})
	v6 := nic.Append(Node{MessagingDevicePath, 0x0d, make([]byte, 56)})
	other := DevicePath{{ACPIDevicePath, SubACPI, []byte{0xd0, 0x41, 0x03, 0x0a, 0, 0, 0, 0}}, PCINode(2, 0), MACNode(mac, 1)}
	for _, tt := range []struct {
		name  string
		paths []DevicePath
		want  []int
	}{
		{"U-Boot, one NIC", []DevicePath{nic}, []int{0}},
		{"EDK2, NIC and PXE children", []DevicePath{nic, v4, v6}, []int{0}},
		{"children listed first", []DevicePath{v6, v4, nic}, []int{2}},
		{"two NICs", []DevicePath{nic, other, v4}, []int{0, 1}},
		{"no device path", []DevicePath{nil, nic, v4}, []int{0, 1}},
		{"child alone", []DevicePath{v4}, []int{0}},
		{"same path twice", []DevicePath{nic, nic}, []int{0, 1}},
	} {
		if got := Roots(tt.paths); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Roots() = %v; want %v", tt.name, got, tt.want)
		}
	}
}
