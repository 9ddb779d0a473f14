package lab

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"
)

// AutobootScript is the U-Boot command line the lab's boot.scr runs: it loads
// /snp-go.efi from the first partition of the first virtio disk and starts it
// with U-Boot's own device tree (BootefiCommand("0:1", "snp-go.efi")).
const AutobootScript = "virtio scan && load virtio 0:1 ${kernel_addr_r} snp-go.efi && bootefi ${kernel_addr_r} ${fdtcontroladdr}"

// Legacy U-Boot image ("uImage") header, as U-Boot's include/image.h defines
// it and `mkimage -T script` writes it: 64 bytes, big-endian.
const (
	uimageMagic      = 0x27051956
	uimageHeaderLen  = 64
	uimageNameLen    = 32
	uimageOSLinux    = 5  // IH_OS_LINUX: what `mkimage -O linux` writes
	uimageArchARM64  = 22 // IH_ARCH_ARM64
	uimageTypeScript = 6  // IH_TYPE_SCRIPT
	uimageCompNone   = 0  // IH_COMP_NONE
)

// maxCommandLine is U-Boot's console buffer (CONFIG_SYS_CBSIZE = 512 in the
// Debian qemu_arm64 build) less the terminating NUL; longer typed lines are
// cut off.
const maxCommandLine = 511

// BootScript wraps a U-Boot script in the legacy image format that U-Boot's
// `source` command and distro boot's boot.scr expect — the same bytes as
// `mkimage -A arm64 -O linux -T script -C none -n NAME -d FILE` with
// SOURCE_DATE_EPOCH set to stamp. The payload is a list of image sizes ended
// by a zero word, then the script itself.
func BootScript(script, name string, stamp time.Time) ([]byte, error) {
	if len(name) >= uimageNameLen {
		return nil, fmt.Errorf("boot script name %q is %d bytes; the uImage header holds %d", name, len(name), uimageNameLen-1)
	}
	body := []byte(script)
	data := make([]byte, 8+len(body))
	binary.BigEndian.PutUint32(data[0:], uint32(len(body)))
	// data[4:8] = 0 ends the size list
	copy(data[8:], body)

	h := make([]byte, uimageHeaderLen, uimageHeaderLen+len(data))
	binary.BigEndian.PutUint32(h[0:], uimageMagic)
	binary.BigEndian.PutUint32(h[8:], uint32(stamp.Unix()))
	binary.BigEndian.PutUint32(h[12:], uint32(len(data)))
	// load address h[16:20] and entry point h[20:24] are 0 for scripts
	binary.BigEndian.PutUint32(h[24:], crc32.ChecksumIEEE(data))
	h[28] = uimageOSLinux
	h[29] = uimageArchARM64
	h[30] = uimageTypeScript
	h[31] = uimageCompNone
	copy(h[32:], name)
	binary.BigEndian.PutUint32(h[4:], crc32.ChecksumIEEE(h)) // header CRC, computed with the field zero
	return append(h, data...), nil
}
