package lab

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Config describes one QEMU run: the arm64 virt machine with U-Boot or
// EDK2 as its firmware, user-mode networking on virtio-net, virtio-rng, and virtio-blk
// disks.
type Config struct {
	QEMU      string   // emulator; default "qemu-system-aarch64"
	Firmware  Firmware // default UBoot (Debian 12's U-Boot)
	CPU       string   // default "cortex-a57" ("max" is ~3× slower: pointer-auth emulation)
	MemoryMiB int      // default 1024

	// Disks are raw images attached in order as virtio-blk devices: U-Boot
	// calls the first "virtio 0", the next "virtio 1", and so on.
	Disks []string
	// Snapshot attaches the disks with snapshot=on: guest writes (U-Boot's
	// EFI variables, say) go to a temporary overlay, the images stay as built.
	Snapshot bool
	// FirstDiskBoots gives the first disk bootindex=0: EDK2 then boots
	// only from it and connects no other device by itself (QEMU passes the
	// boot order in fw_cfg); U-Boot ignores it.
	FirstDiskBoots bool

	NoRNG bool // leave out virtio-rng-pci, so U-Boot has no EFI_RNG_PROTOCOL

	// User-mode (slirp) network: guest 10.0.2.15, host loopback 10.0.2.2,
	// DNS 10.0.2.3. Only these options can be set; other DHCP options cannot.
	NoNet      bool
	TFTP       string   // tftp=DIR: slirp's TFTP server root
	BootFile   string   // bootfile=NAME: the file DHCP offers
	HostFwd    []string // hostfwd= rules, e.g. "tcp:127.0.0.1:8022-:22"
	NetOptions []string // more -netdev user options as "key=value"

	// Tap replaces slirp with an existing tap device (-netdev tap,
	// script=no): the guest is on whatever that tap is bridged to. NetNS
	// runs QEMU inside that network namespace (`ip netns exec`), where
	// the tap lives; see NewNetNS. The slirp options above must be unset.
	Tap   string
	NetNS string

	ExtraArgs []string // appended to the command line as they are
}

// qemuEscape doubles commas, QEMU's escape inside option values.
func qemuEscape(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// Args returns QEMU's arguments (without the program name). With console
// the serial port is QEMU's plain stdio (for a pipe: no monitor multiplexed
// on it, so every byte reaches U-Boot); otherwise -nographic puts serial and
// monitor on the terminal (Ctrl-A x quits, Ctrl-A c toggles the monitor).
func (c Config) Args(console bool) ([]string, error) {
	fw, err := c.Firmware.args()
	if err != nil {
		return nil, err
	}
	cpu := c.CPU
	if cpu == "" {
		cpu = "cortex-a57"
	}
	mem := c.MemoryMiB
	if mem == 0 {
		mem = 1024
	}
	args := []string{
		"-M", "virt", "-cpu", cpu, "-m", fmt.Sprint(mem), "-nographic",
	}
	args = append(args, fw...)
	if console {
		args = append(args, "-monitor", "none")
	}
	if !c.NoNet && c.Tap != "" {
		if c.TFTP != "" || c.BootFile != "" || len(c.HostFwd) > 0 || len(c.NetOptions) > 0 {
			return nil, fmt.Errorf("lab: Tap %q with slirp options (TFTP, BootFile, HostFwd, NetOptions): serve those inside the tap's network instead", c.Tap)
		}
		args = append(args, "-netdev", "tap,id=n0,ifname="+qemuEscape(c.Tap)+",script=no,downscript=no",
			"-device", "virtio-net-pci,netdev=n0,romfile=")
	} else if !c.NoNet {
		nd := "user,id=n0"
		if c.TFTP != "" {
			if st, err := os.Stat(c.TFTP); err != nil || !st.IsDir() {
				return nil, fmt.Errorf("lab: TFTP root %q is not a directory", c.TFTP)
			}
			nd += ",tftp=" + qemuEscape(c.TFTP)
		}
		if c.BootFile != "" {
			nd += ",bootfile=" + qemuEscape(c.BootFile)
		}
		for _, f := range c.HostFwd {
			nd += ",hostfwd=" + qemuEscape(f)
		}
		for _, o := range c.NetOptions {
			if !strings.Contains(o, "=") {
				return nil, fmt.Errorf("lab: netdev option %q: want key=value", o)
			}
			nd += "," + o
		}
		// romfile= (empty): no iPXE option ROM; without it QEMU looks for
		// efi-virtio.rom and fails when it is not installed.
		args = append(args, "-netdev", nd, "-device", "virtio-net-pci,netdev=n0,romfile=")
	} else {
		// Without -nic none QEMU adds a default NIC, whose option ROM
		// (efi-virtio.rom, Debian's ipxe-qemu) it fails to find when that
		// package is not installed.
		args = append(args, "-nic", "none")
	}
	if !c.NoRNG {
		args = append(args, "-device", "virtio-rng-pci")
	}
	for i, d := range c.Disks {
		if _, err := os.Stat(d); err != nil {
			return nil, fmt.Errorf("lab: disk %d: %w", i, err)
		}
		drive := fmt.Sprintf("if=none,id=d%d,format=raw,file=%s", i, qemuEscape(d))
		if c.Snapshot {
			drive += ",snapshot=on"
		}
		dev := fmt.Sprintf("virtio-blk-pci,drive=d%d", i)
		if i == 0 && c.FirstDiskBoots {
			dev += ",bootindex=0"
		}
		args = append(args, "-drive", drive, "-device", dev)
	}
	return append(args, c.ExtraArgs...), nil
}

// Command returns the QEMU command for c (see Args); its standard streams
// are left for the caller to connect.
func (c Config) Command(console bool) (*exec.Cmd, error) {
	args, err := c.Args(console)
	if err != nil {
		return nil, err
	}
	q := c.QEMU
	if q == "" {
		q = "qemu-system-aarch64"
	}
	path, err := exec.LookPath(q)
	if err != nil {
		return nil, fmt.Errorf("lab: %s not found (install qemu-system-arm): %w", q, err)
	}
	if c.NetNS != "" {
		// ip execs QEMU in place: the process (and its Pdeathsig) stays.
		return exec.Command("ip", append([]string{"netns", "exec", c.NetNS, path}, args...)...), nil
	}
	return exec.Command(path, args...), nil
}
