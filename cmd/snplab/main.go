// Command snplab runs snp-go's QEMU lab by hand: it builds a boot disk
// holding snp-go.efi and a U-Boot boot.scr, then starts qemu-system-aarch64
// with Debian's U-Boot and the serial console on this terminal, so U-Boot's
// distro boot starts snp-go by itself. `make qemu` calls `snplab run`.
//
// Usage:
//
//	snplab run --efi snp-go.efi [--firmware u-boot|u-boot-2025|edk2] [--disk extra.img]... [--tftp DIR] [--bootfile NAME]
//	           [--hostfwd RULE]... [--file /PATH=HOSTFILE]... [flags] [-- QEMU ARGS...]
//	snplab disk --efi snp-go.efi -o disk.img [--file /PATH=HOSTFILE]... [--no-autoboot]
//	snplab check
//
// In QEMU, Ctrl-A x quits and Ctrl-A c switches between console and monitor.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/snp-go/snp-go/lab"
	"github.com/snp-go/snp-go/lab/firmware"
	"github.com/spf13/pflag"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(os.Args[2:])
	case "disk":
		err = diskCmd(os.Args[2:])
	case "check":
		err = lab.Check()
		if err == nil {
			fmt.Println("snplab: the lab is complete (QEMU, U-Boot, sgdisk, mkfs.vfat, mtools)")
		}
	case "-h", "--help", "help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "snplab: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	var exit exitCode
	if errors.As(err, &exit) {
		os.Exit(int(exit))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "snplab %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: snplab COMMAND [flags]

commands:
  run    build the lab disk for --efi and boot it in QEMU on this terminal
  disk   only build the lab disk image (-o)
  check  report which lab prerequisites are missing

Run "snplab COMMAND --help" for a command's flags.
`)
}

// exitCode passes QEMU's exit status through.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// diskFlags are the flags that describe the lab disk.
type diskFlags struct {
	efi        string
	files      []string
	noAutoboot bool
	removable  bool
	size       int64
}

func (d *diskFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&d.efi, "efi", "snp-go.efi", "EFI application to put at /snp-go.efi")
	fs.StringArrayVar(&d.files, "file", nil, "extra file on the ESP, as /PATH=HOSTFILE (repeatable)")
	fs.BoolVar(&d.noAutoboot, "no-autoboot", false, "leave out /boot.scr; U-Boot's distro boot then finds nothing on the lab disk, tries DHCP/TFTP and ends at its prompt")
	fs.BoolVar(&d.removable, "removable", false, "also put the application at /EFI/BOOT/BOOTAA64.EFI")
	fs.Int64Var(&d.size, "size-mib", 0, "disk size in MiB (default: fits the files, at least 64)")
}

func (d *diskFlags) build(path string) error {
	if st, err := os.Stat(d.efi); err != nil {
		return fmt.Errorf("--efi: %w (build it with make)", err)
	} else if !st.Mode().IsRegular() {
		return fmt.Errorf("--efi: %s is not a regular file", d.efi)
	}
	disk := lab.EFIDisk(d.efi, !d.noAutoboot)
	disk.Size = d.size << 20
	if d.removable {
		disk.Files[lab.RemovablePath] = lab.HostFile(d.efi)
	}
	for _, f := range d.files {
		dst, src, ok := strings.Cut(f, "=")
		if !ok || dst == "" || src == "" {
			return fmt.Errorf("--file %q: want /PATH=HOSTFILE", f)
		}
		disk.Files[dst] = lab.HostFile(src)
	}
	return lab.BuildDisk(path, disk)
}

func diskCmd(args []string) error {
	fs := pflag.NewFlagSet("snplab disk", pflag.ContinueOnError)
	var d diskFlags
	d.register(fs)
	out := fs.StringP("output", "o", "", "disk image to write (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		return errors.New("want -o IMAGE and no arguments")
	}
	if err := d.build(*out); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "snplab: wrote %s (GPT, FAT32 ESP at LBA 2048)\n", *out)
	return nil
}

func runCmd(args []string) error {
	fs := pflag.NewFlagSet("snplab run", pflag.ContinueOnError)
	var d diskFlags
	d.register(fs)
	var cfg lab.Config
	fs.StringArrayVar(&cfg.Disks, "disk", nil, "extra raw disk image, attached after the lab disk as virtio 1, 2, … (repeatable)")
	fs.BoolVar(&cfg.Snapshot, "snapshot", false, "attach disks with snapshot=on (guest writes are discarded)")
	fs.StringVar(&cfg.TFTP, "tftp", "", "serve DIR over TFTP on QEMU's user network (10.0.2.2)")
	fs.StringVar(&cfg.BootFile, "bootfile", "", "file name the user network's DHCP offers")
	fs.StringArrayVar(&cfg.HostFwd, "hostfwd", nil, "QEMU hostfwd rule, e.g. tcp:127.0.0.1:8022-:22 (repeatable)")
	fs.StringArrayVar(&cfg.NetOptions, "netopt", nil, "extra -netdev user option key=value (repeatable)")
	fs.IntVar(&cfg.MemoryMiB, "memory", 1024, "guest memory in MiB")
	fs.StringVar(&cfg.CPU, "cpu", "cortex-a57", "QEMU CPU model (max is ~3x slower)")
	fs.BoolVar(&cfg.NoRNG, "no-rng", false, "leave out virtio-rng (no EFI_RNG_PROTOCOL)")
	fwName := fs.String("firmware", "u-boot", "firmware: u-boot (Debian 12's 2023.01), u-boot-2025 (Debian 13's 2025.01, downloaded), edk2 (AAVMF)")
	bios := fs.String("bios", "", "U-Boot binary to use instead of --firmware's")
	keep := fs.String("image", "", "write the lab disk here and keep it (default: a temporary file)")
	dry := fs.Bool("print", false, "print the QEMU command line instead of running it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.ExtraArgs = fs.Args() // after --
	if err := lab.Check(); err != nil {
		return err
	}
	switch *fwName {
	case "u-boot":
		cfg.Firmware = lab.UBoot
	case "u-boot-2025":
		fw, err := firmware.UBoot2025()
		if err != nil {
			return fmt.Errorf("--firmware u-boot-2025: %w", err)
		}
		cfg.Firmware = fw
	case "edk2":
		// EDK2's boot manager starts the removable-media path by itself.
		cfg.Firmware = lab.EDK2
		d.removable = true
	default:
		return fmt.Errorf("--firmware %q: want u-boot, u-boot-2025 or edk2", *fwName)
	}
	if *bios != "" {
		cfg.Firmware = lab.Firmware{Name: *bios, BIOS: *bios}
	}

	img := *keep
	if img == "" {
		dir, err := os.MkdirTemp("", "snplab-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		img = filepath.Join(dir, "lab.img")
	}
	if err := d.build(img); err != nil {
		return err
	}
	cfg.Disks = append([]string{img}, cfg.Disks...)
	cmd, err := cfg.Command(false)
	if err != nil {
		return err
	}
	if *dry {
		fmt.Println(strings.Join(cmd.Args, " "))
		if *keep == "" {
			fmt.Fprintln(os.Stderr, "snplab: note: the temporary disk is removed now; keep one with --image PATH")
		}
		return nil
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	how := "U-Boot's distro boot runs /boot.scr, which starts snp-go.efi"
	if cfg.Firmware.EDK2() {
		how = "EDK2's boot manager starts " + lab.RemovablePath
	} else if d.noAutoboot {
		how = "at the prompt: " + lab.BootefiCommand("0:1", "snp-go.efi")
	}
	fmt.Fprintf(os.Stderr, "snplab: booting %s in QEMU (%s). Ctrl-A x quits.\n", d.efi, how)
	// QEMU owns the terminal (raw mode): a Ctrl-C reaching snplab must not
	// kill it before QEMU exits and the temporary disk is removed.
	signal.Ignore(os.Interrupt)
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() > 0 {
		return exitCode(ee.ExitCode())
	}
	return err
}
