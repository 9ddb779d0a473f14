//go:build tamago && arm64

package efi

import (
	"fmt"
	"io"
	"strings"
	"unsafe"
)

// EFI_SIMPLE_FILE_SYSTEM_PROTOCOL (§13.4) and EFI_FILE_PROTOCOL (§13.5);
// offsets in tables.go.
const fileModeRead = 1 // EFI_FILE_MODE_READ, §13.5.2

// File is an open EFI_FILE_PROTOCOL.
type File struct {
	p    uintptr
	name string
}

// OpenVolume opens the root directory of the Simple File System on h.
func OpenVolume(h Handle) (*File, error) {
	sfs, err := HandleProtocol(h, &SimpleFileSystemProtocolGUID)
	if err != nil {
		return nil, err
	}
	root := alloc[uintptr]()
	if err := wrap("SimpleFileSystem.OpenVolume", Call(fn(sfs, sfsOpenVolume), sfs, ptr(root))); err != nil {
		return nil, err
	}
	return &File{p: *root, name: `\`}, nil
}

// Open opens path (with / or \ separators) relative to f for reading.
func (f *File) Open(path string) (*File, error) {
	path = strings.ReplaceAll(path, "/", `\`)
	name := UCS2(path)
	out := alloc[uintptr]()
	s := Call(fn(f.p, fileOpen), f.p, ptr(out), uintptr(unsafe.Pointer(&name[0])), fileModeRead, 0)
	if err := wrap(fmt.Sprintf("File.Open(%s)", path), s); err != nil {
		return nil, err
	}
	return &File{p: *out, name: path}, nil
}

// Read implements io.Reader.
func (f *File) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	buf := make([]byte, len(b)) // heap: the firmware writes into it
	escapeSink = buf
	n := alloc[uintptr]()
	*n = uintptr(len(buf))
	s := Call(fn(f.p, fileRead), f.p, ptr(n), uintptr(unsafe.Pointer(&buf[0])))
	if err := wrap(fmt.Sprintf("File.Read(%s)", f.name), s); err != nil {
		return 0, err
	}
	if *n == 0 {
		return 0, io.EOF
	}
	return copy(b, buf[:*n]), nil
}

// Close closes f.
func (f *File) Close() error {
	return wrap("File.Close", Call(fn(f.p, fileClose), f.p))
}

// ReadFile reads a whole file from the Simple File System on h.
func ReadFile(h Handle, path string) ([]byte, error) {
	root, err := OpenVolume(h)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// VolumeLabel returns the file system's volume label from
// EFI_FILE_SYSTEM_INFO (§13.5.17) by GetInfo.
func (f *File) VolumeLabel() (string, error) {
	buf := make([]byte, 1024)
	escapeSink = buf
	n := alloc[uintptr]()
	*n = uintptr(len(buf))
	s := Call(fn(f.p, fileGetInfo), f.p, ptr(&FileSystemInfoGUID), ptr(n), uintptr(unsafe.Pointer(&buf[0])))
	if err := wrap("File.GetInfo(FileSystemInfo)", s); err != nil {
		return "", err
	}
	if *n < 38 {
		return "", nil
	}
	return GoString(uintptr(unsafe.Pointer(&buf[36]))), nil
}
