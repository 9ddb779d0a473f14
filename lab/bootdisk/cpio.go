package bootdisk

import (
	"bytes"
	"fmt"
	"io/fs"
	"strings"
)

// CPIOEntry is one member of a newc cpio archive (the initramfs format,
// Linux Documentation/driver-api/early-userspace/buffer-format.rst).
type CPIOEntry struct {
	Name  string      // path without a leading slash, e.g. "dev/console"
	Mode  fs.FileMode // type and permission bits (fs.ModeDir, fs.ModeCharDevice|fs.ModeDevice, or a regular file)
	Major uint32      // device numbers of a device node
	Minor uint32
	Data  []byte // content of a regular file
}

// Unix st_mode file types, as the newc header's c_mode carries them.
const (
	sIFREG = 0o100000
	sIFDIR = 0o040000
	sIFCHR = 0o020000
)

// newcMagic starts every newc header; "TRAILER!!!" names the last entry.
const (
	newcMagic   = "070701"
	newcTrailer = "TRAILER!!!"
)

// CPIO returns entries as a newc ("SVR4 without CRC") archive: for each
// entry a 110-byte ASCII header (magic and 13 eight-digit hex fields), the
// NUL-terminated name padded to 4 bytes, and the data padded to 4 bytes;
// then the trailer entry. Every file is owned by root with mtime 0, so the
// archive depends only on its entries.
func CPIO(entries []CPIOEntry) ([]byte, error) {
	var b bytes.Buffer
	for i, e := range entries {
		if e.Name == "" || strings.HasPrefix(e.Name, "/") || e.Name == newcTrailer {
			return nil, fmt.Errorf("bootdisk: cpio entry %d: name %q: want a relative path", i, e.Name)
		}
		var mode uint32
		switch {
		case e.Mode.IsDir():
			mode = sIFDIR
		case e.Mode&fs.ModeCharDevice != 0:
			mode = sIFCHR
		case e.Mode.IsRegular():
			mode = sIFREG
		default:
			return nil, fmt.Errorf("bootdisk: cpio entry %s: unsupported mode %v", e.Name, e.Mode)
		}
		if mode != sIFREG && len(e.Data) > 0 {
			return nil, fmt.Errorf("bootdisk: cpio entry %s: only regular files have data", e.Name)
		}
		mode |= uint32(e.Mode.Perm())
		nlink := uint32(1)
		if mode&sIFDIR != 0 {
			nlink = 2
		}
		writeNewc(&b, uint32(i+1), mode, nlink, e.Major, e.Minor, e.Name, e.Data)
	}
	writeNewc(&b, 0, 0, 1, 0, 0, newcTrailer, nil)
	return b.Bytes(), nil
}

func writeNewc(b *bytes.Buffer, ino, mode, nlink, rmajor, rminor uint32, name string, data []byte) {
	// c_ino c_mode c_uid c_gid c_nlink c_mtime c_filesize c_devmajor
	// c_devminor c_rdevmajor c_rdevminor c_namesize c_check
	fmt.Fprintf(b, "%s%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		newcMagic, ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rmajor, rminor, len(name)+1, 0)
	b.WriteString(name)
	b.WriteByte(0)
	pad4(b)
	b.Write(data)
	pad4(b)
}

func pad4(b *bytes.Buffer) {
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
}
