package efi

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"unicode/utf16"
)

// Device path node types, UEFI 2.10 §10.3.1 Table 10.1.
const (
	HardwareDevicePath  = 0x01
	ACPIDevicePath      = 0x02
	MessagingDevicePath = 0x03
	MediaDevicePath     = 0x04
	BBSDevicePath       = 0x05
	EndDevicePath       = 0x7f
)

// Sub-types used by snp-go (UEFI 2.10 §10.3.2–§10.3.5).
const (
	SubPCI        = 0x01 // §10.3.2.1
	SubVendorHW   = 0x04 // §10.3.2.4
	SubController = 0x05 // §10.3.2.5
	SubACPI       = 0x01 // §10.3.3
	SubMAC        = 0x0b // §10.3.4.11
	SubIPv4       = 0x0c // §10.3.4.12
	SubVendorMsg  = 0x0a // §10.3.4.10
	SubISCSI      = 0x13 // §10.3.4.20
	SubVLAN       = 0x14 // §10.3.4.21
	SubURI        = 0x18 // §10.3.4.23
	SubHardDrive  = 0x01 // §10.3.5.1
	SubCDROM      = 0x02 // §10.3.5.2
	SubVendorMed  = 0x03 // §10.3.5.3
	SubFilePath   = 0x04 // §10.3.5.4
	SubEndEntire  = 0xff // §10.3.1
	SubEndInst    = 0x01
)

// Node is one device path node: its header's type and sub-type and the
// bytes that follow the 4-byte header.
type Node struct {
	Type, SubType uint8
	Data          []byte
}

// DevicePath is a single-instance device path without its End node.
type DevicePath []Node

// Bytes encodes p followed by an End Entire node (UEFI 2.10 §10.2).
func (p DevicePath) Bytes() []byte {
	var b []byte
	for _, n := range p {
		l := 4 + len(n.Data)
		b = append(b, n.Type, n.SubType, byte(l), byte(l>>8))
		b = append(b, n.Data...)
	}
	return append(b, EndDevicePath, SubEndEntire, 4, 0)
}

// Append returns p followed by nodes, without modifying p.
func (p DevicePath) Append(nodes ...Node) DevicePath {
	q := make(DevicePath, 0, len(p)+len(nodes))
	return append(append(q, p...), nodes...)
}

// ParseDevicePath decodes a device path up to and including its first End
// Entire node and returns the path and the number of bytes consumed. Only
// the first instance of a multi-instance path is returned.
func ParseDevicePath(b []byte) (DevicePath, int, error) {
	var p DevicePath
	off := 0
	for {
		if len(b)-off < 4 {
			return nil, off, fmt.Errorf("efi: device path truncated at offset %d", off)
		}
		t, st := b[off], b[off+1]
		l := int(binary.LittleEndian.Uint16(b[off+2:]))
		if l < 4 || off+l > len(b) {
			return nil, off, fmt.Errorf("efi: device path node at offset %d has bad length %d", off, l)
		}
		if t == EndDevicePath {
			off += l
			if st == SubEndEntire {
				return p, off, nil
			}
			// End of this instance: stop at the first one.
			for off < len(b) {
				// Skip remaining instances to find the entire end.
				if len(b)-off < 4 {
					return nil, off, fmt.Errorf("efi: device path truncated at offset %d", off)
				}
				l2 := int(binary.LittleEndian.Uint16(b[off+2:]))
				if l2 < 4 || off+l2 > len(b) {
					return nil, off, fmt.Errorf("efi: device path node at offset %d has bad length %d", off, l2)
				}
				end := b[off] == EndDevicePath && b[off+1] == SubEndEntire
				off += l2
				if end {
					return p, off, nil
				}
			}
			return nil, off, fmt.Errorf("efi: device path has no End Entire node")
		}
		p = append(p, Node{Type: t, SubType: st, Data: append([]byte(nil), b[off+4:off+l]...)})
		off += l
	}
}

// IsMedia reports whether n is a media node (type 4). U-Boot binds its
// block driver only to handles whose path does not end in one.
func (n Node) IsMedia() bool { return n.Type == MediaDevicePath }

// Node constructors.

// PCINode is Pci(Device,Function), §10.3.2.1.
func PCINode(dev, fn uint8) Node {
	return Node{HardwareDevicePath, SubPCI, []byte{fn, dev}}
}

// VendorHWNode is VenHw(GUID,data), §10.3.2.4.
func VendorHWNode(g GUID, data []byte) Node {
	return Node{HardwareDevicePath, SubVendorHW, append(g[:len(g):len(g)], data...)}
}

// MACNode is MAC(address,ifType), §10.3.4.11: a 32-byte padded address
// and the RFC 3232 interface type (1 for Ethernet).
func MACNode(mac net.HardwareAddr, ifType uint8) Node {
	d := make([]byte, 33)
	copy(d, mac)
	d[32] = ifType
	return Node{MessagingDevicePath, SubMAC, d}
}

// VLANNode is Vlan(id), §10.3.4.21.
func VLANNode(id uint16) Node {
	return Node{MessagingDevicePath, SubVLAN, []byte{byte(id), byte(id >> 8)}}
}

// iSCSI login option bits, §10.3.4.20 Table 10.34.
const (
	ISCSIHeaderDigestCRC32C = 0x0002
	ISCSIDataDigestCRC32C   = 0x0008
	ISCSIAuthNone           = 0x0800
	ISCSIAuthCHAPUni        = 0x1000 // CHAP, one-way (bit 12 set, bit 11 clear)
	ISCSIAuthCHAPBi         = 0x0000 // CHAP, mutual
)

// ISCSINode is iSCSI(TargetName,PortalGroup,LUN,...), §10.3.4.20. lun is
// the 8-byte SCSI LUN structure in wire (big-endian) order.
func ISCSINode(target string, portalGroup uint16, lun [8]byte, options uint16) Node {
	d := make([]byte, 0, 14+len(target))
	d = binary.LittleEndian.AppendUint16(d, 0) // protocol: TCP
	d = binary.LittleEndian.AppendUint16(d, options)
	d = append(d, lun[:]...)
	d = binary.LittleEndian.AppendUint16(d, portalGroup)
	d = append(d, target...)
	return Node{MessagingDevicePath, SubISCSI, d}
}

// URINode is Uri(uri), §10.3.4.23: the URI as bytes, not terminated (an
// HTTP SAN disk's node, as iPXE's efi_uri_path).
func URINode(uri string) Node {
	return Node{MessagingDevicePath, SubURI, []byte(uri)}
}

// FilePathNode is a media file path node, §10.3.5.4: a NUL-terminated
// UCS-2 path using backslashes.
func FilePathNode(path string) Node {
	path = strings.ReplaceAll(path, "/", `\`)
	u := utf16.Encode([]rune(path))
	d := make([]byte, 0, 2*len(u)+2)
	for _, c := range u {
		d = binary.LittleEndian.AppendUint16(d, c)
	}
	return Node{MediaDevicePath, SubFilePath, append(d, 0, 0)}
}

// String renders p in the text form of UEFI 2.10 §10.6, e.g.
// "VenHw(…)/MAC(525252525252,0x1)/iSCSI(…)".
func (p DevicePath) String() string {
	if len(p) == 0 {
		return "/"
	}
	parts := make([]string, len(p))
	for i, n := range p {
		parts[i] = n.String()
	}
	return strings.Join(parts, "/")
}

func hexs(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

// String renders one node as §10.6.1 describes; unknown nodes use the
// generic Path(type,subtype,hex) form of §10.6.1.1.
func (n Node) String() string {
	d := n.Data
	le16 := func(o int) uint16 { return binary.LittleEndian.Uint16(d[o:]) }
	le32 := func(o int) uint32 { return binary.LittleEndian.Uint32(d[o:]) }
	le64 := func(o int) uint64 { return binary.LittleEndian.Uint64(d[o:]) }
	switch {
	case n.Type == HardwareDevicePath && n.SubType == SubPCI && len(d) == 2:
		return fmt.Sprintf("Pci(0x%x,0x%x)", d[1], d[0])
	case n.Type == HardwareDevicePath && n.SubType == SubVendorHW && len(d) >= 16:
		var g GUID
		copy(g[:], d)
		if len(d) == 16 {
			return fmt.Sprintf("VenHw(%s)", strings.ToUpper(g.String()))
		}
		return fmt.Sprintf("VenHw(%s,%s)", strings.ToUpper(g.String()), hexs(d[16:]))
	case n.Type == HardwareDevicePath && n.SubType == SubController && len(d) == 4:
		return fmt.Sprintf("Ctrl(0x%x)", le32(0))
	case n.Type == ACPIDevicePath && n.SubType == SubACPI && len(d) == 8:
		hid, uid := le32(0), le32(4)
		if hid&0xffff == 0x41d0 { // EISA "PNP"
			switch hid >> 16 {
			case 0x0a03:
				return fmt.Sprintf("PciRoot(0x%x)", uid)
			case 0x0a08:
				return fmt.Sprintf("PcieRoot(0x%x)", uid)
			}
			return fmt.Sprintf("Acpi(PNP%04X,0x%x)", hid>>16, uid)
		}
		return fmt.Sprintf("Acpi(0x%08x,0x%x)", hid, uid)
	case n.Type == MessagingDevicePath && n.SubType == SubMAC && len(d) == 33:
		l := 32
		if d[32] == 0 || d[32] == 1 {
			l = 6
		}
		return fmt.Sprintf("MAC(%s,0x%x)", hexs(d[:l]), d[32])
	case n.Type == MessagingDevicePath && n.SubType == SubVLAN && len(d) == 2:
		return fmt.Sprintf("Vlan(%d)", le16(0))
	case n.Type == MessagingDevicePath && n.SubType == SubIPv4 && len(d) >= 15:
		return fmt.Sprintf("IPv4(%s,%s,%s)", net.IP(d[4:8]), map[uint16]string{6: "TCP", 17: "UDP"}[le16(12)], map[byte]string{0: "DHCP", 1: "Static"}[d[14]])
	case n.Type == MessagingDevicePath && n.SubType == SubISCSI && len(d) >= 14:
		opt := le16(2)
		hd, dd := "None", "None"
		if opt&0x3 == ISCSIHeaderDigestCRC32C {
			hd = "CRC32C"
		}
		if opt&0xc == ISCSIDataDigestCRC32C {
			dd = "CRC32C"
		}
		auth := "CHAP_BI"
		switch {
		case opt&ISCSIAuthNone != 0:
			auth = "None"
		case opt&ISCSIAuthCHAPUni != 0:
			auth = "CHAP_UNI"
		}
		proto := "TCP"
		if le16(0) != 0 {
			proto = fmt.Sprintf("0x%x", le16(0))
		}
		return fmt.Sprintf("iSCSI(%s,0x%x,0x%s,%s,%s,%s,%s)", string(d[14:]), le16(12), hex.EncodeToString(d[4:12]), hd, dd, auth, proto)
	case n.Type == MessagingDevicePath && n.SubType == SubURI:
		return fmt.Sprintf("Uri(%s)", string(d))
	case n.Type == MediaDevicePath && n.SubType == SubHardDrive && len(d) == 38:
		part, start, size := le32(0), le64(4), le64(12)
		switch d[37] { // signature type
		case 2:
			var g GUID
			copy(g[:], d[20:36])
			return fmt.Sprintf("HD(%d,GPT,%s,0x%x,0x%x)", part, strings.ToUpper(g.String()), start, size)
		case 1:
			return fmt.Sprintf("HD(%d,MBR,0x%08X,0x%x,0x%x)", part, le32(20), start, size)
		}
		return fmt.Sprintf("HD(%d,%d,0,0x%x,0x%x)", part, d[37], start, size)
	case n.Type == MediaDevicePath && n.SubType == SubFilePath:
		u := make([]uint16, 0, len(d)/2)
		for i := 0; i+1 < len(d); i += 2 {
			c := le16(i)
			if c == 0 {
				break
			}
			u = append(u, c)
		}
		return string(utf16.Decode(u))
	case n.Type == MediaDevicePath && n.SubType == SubVendorMed && len(d) >= 16:
		var g GUID
		copy(g[:], d)
		return fmt.Sprintf("VenMedia(%s)", strings.ToUpper(g.String()))
	case n.Type == EndDevicePath:
		return "End"
	}
	return fmt.Sprintf("Path(%d,%d,%s)", n.Type, n.SubType, hexs(d))
}

// HasPrefix reports whether q is a proper prefix of p: p names a device
// below q's (a child handle, UEFI 2.10 §10.1).
func (p DevicePath) HasPrefix(q DevicePath) bool {
	if len(q) >= len(p) {
		return false
	}
	for i, n := range q {
		m := p[i]
		if n.Type != m.Type || n.SubType != m.SubType || string(n.Data) != string(m.Data) {
			return false
		}
	}
	return true
}

// Roots returns the indexes of the paths that have no other path of the
// list as a proper prefix, in order. Among Simple Network handles these are
// the NICs: EDK2's PXE and HTTP boot drivers install a copy of their NIC's
// Simple Network on each child they create (…/MAC(..)/IPv4(..)), which
// shares the NIC's receive queue and must not be driven as a second NIC
// (iPXE's snpnet skips them the same way). A handle without a device path
// (nil) is kept.
func Roots(paths []DevicePath) []int {
	var out []int
next:
	for i, p := range paths {
		for j, q := range paths {
			if j != i && q != nil && p.HasPrefix(q) {
				continue next
			}
		}
		out = append(out, i)
	}
	return out
}
