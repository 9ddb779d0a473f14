package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/snp-go/snp-go/internal/certstore"
	"github.com/snp-go/snp-go/san"
	"github.com/snp-go/snp-go/script"
	"github.com/snp-go/snp-go/script/lineedit"
	"github.com/snp-go/snp-go/script/settings"
)

func init() {
	register("run", "run an iPXE script on this host (dry run: nothing is booted)", runRun)
}

// runExit ends the process after a dry-run boot; tests replace it.
var runExit = os.Exit

func runUsage(fs *pflag.FlagSet) {
	fmt.Fprintf(os.Stderr, `usage: snpctl run [flags] [script.ipxe | URL]

Runs an iPXE script with snp-go's script engine on this host, with the host's
network: chain/imgfetch download over real HTTP(S), sanboot logs in to the iSCSI
target, reads its partition table and EFI System Partition and prints the boot
file it would start. Nothing is booted: the first boot ends the run (status 0).
dhcp uses the host's address, plus DHCP options given with --dhcp. Without a
script, the snp-go shell starts.

flags:
`)
	fs.PrintDefaults()
}

func runRun(args []string) error {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	var sets, dhcp, cas, trust []string
	iface := fs.String("iface", "", "host network interface shown as net0 (default: the first one that is up, not loopback)")
	fs.StringArrayVar(&sets, "set", nil, "set a setting before the script runs: name=value (repeatable; name as in iPXE, e.g. net0/ip or 175.190)")
	fs.StringArrayVar(&dhcp, "dhcp", nil, "add an option to the simulated DHCP lease: name=value (repeatable; e.g. filename=https://..., root-path=iscsi:..., 175.190=user)")
	fs.StringArrayVar(&cas, "ca", nil, "PEM file of extra CA certificates to trust for https (repeatable; the system roots are always trusted)")
	fs.StringArrayVar(&trust, "trust", nil, "PEM file of CA certificates imgverify accepts code-signing certificates from (repeatable; default: the https trust, system roots and --ca)")
	bootFile := fs.String("filename", `\EFI\BOOT\BOOTAA64.EFI`, "boot file sanboot looks for on the EFI System Partition when the script gives no --filename")
	fs.Usage = func() { runUsage(fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 1 {
		runUsage(fs)
		return fmt.Errorf("one script at most, got %d arguments", fs.NArg())
	}

	lease, err := parseLease(dhcp)
	if err != nil {
		return err
	}
	certs := &certstore.Store{} // certstore: shared by HTTPS and imgverify
	fetcher, err := newHostFetcher(cas, certs)
	if err != nil {
		return err
	}
	anchors, err := newHostTrust(trust, cas)
	if err != nil {
		return err
	}
	links, err := newHostLinks(*iface, lease)
	if err != nil {
		return err
	}

	con := lineedit.NewConsole(os.Stdout)
	go con.PumpFrom(os.Stdin)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	go func() {
		for range sig {
			con.Put(lineedit.KeyCtrlC)
		}
	}()

	hs := &hostSAN{out: os.Stdout, defaultFile: *bootFile, http: fetcher.http.RangeClient(san.HTTPMaxConns)}
	finish := func() {
		hs.closeAll()
		runExit(0)
	}
	hs.finish = finish
	e := script.New(script.Env{
		Console:  con,
		Links:    links,
		Pinger:   hostPinger{},
		Resolver: hostResolver{},
		Fetcher:  fetcher,
		Booter:   &hostBooter{out: os.Stdout, finish: finish},
		SAN:      hs,
		Trust:    anchors,
		Certs:    certs,
		Version:  "snpctl",
		// TimeSync, VLANs and System stay nil: the host's clock, VLANs and
		// power are not snpctl's to change.

		DeviceTree: hostDeviceTree{out: os.Stdout}, // fdt: prints the table it would install
	})
	defer hs.closeAll()
	for _, s := range sets {
		name, value, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("--set %q: want name=value", s)
		}
		if err := e.Settings.Set(name, value); err != nil {
			return fmt.Errorf("--set %q: %w", s, err)
		}
	}

	ctx := context.Background()
	if fs.NArg() == 0 {
		err := e.Shell(ctx)
		if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
			return nil
		}
		return statusError(err)
	}
	src := fs.Arg(0)
	if !strings.Contains(src, "://") {
		abs, err := filepath.Abs(src)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return err
		}
		src = (&url.URL{Scheme: "file", Path: abs}).String()
	}
	// Running the script as a chained image makes relative URIs in it
	// resolve against its location, as for a script iPXE downloaded.
	return statusError(e.Exec(ctx, "chain --quiet --autofree "+src))
}

// statusError turns a script status into snpctl's error (exit status 1).
func statusError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("script failed with status %#x", uint32(script.StatusOf(err)))
}

// parseLease builds the simulated DHCP lease from --dhcp name=value
// flags: each name is a DHCP option (number, "175.190", or a well-known
// name such as filename or root-path) and each value text in the
// setting's type; ip and next-server fill yiaddr and siaddr.
func parseLease(flags []string) (settings.Lease, error) {
	l := settings.Lease{Options: map[uint8][]byte{}}
	encap := map[uint8][]byte{}
	for _, f := range flags {
		name, value, ok := strings.Cut(f, "=")
		if !ok {
			return l, fmt.Errorf("--dhcp %q: want name=value", f)
		}
		r, err := settings.ParseName(name)
		if err != nil {
			return l, fmt.Errorf("--dhcp %q: %w", f, err)
		}
		if r.Tag == 0 || r.Scope != "" {
			return l, fmt.Errorf("--dhcp %q: %q is not a DHCP option (use a number, 175.N, or a DHCP setting name)", f, name)
		}
		typ := r.Type
		if typ == nil && r.Def != nil {
			typ = r.Def.Type
		}
		if typ == nil {
			typ = settings.String
		}
		raw, err := typ.Parse(value)
		if err != nil {
			return l, fmt.Errorf("--dhcp %q: %w", f, err)
		}
		switch outer, inner := uint8(r.Tag>>8), uint8(r.Tag); {
		case r.Tag == settings.EncapTag(settings.OptIPXEEncap, 2) && len(raw) == 4:
			l.YourIP = addr4(raw)
		case r.Tag == settings.EncapTag(settings.OptIPXEEncap, 3) && len(raw) == 4:
			l.ServerIP = addr4(raw)
		case outer != 0:
			if len(raw) > 255 {
				return l, fmt.Errorf("--dhcp %q: %d bytes do not fit an encapsulated option", f, len(raw))
			}
			encap[outer] = append(encap[outer], append([]byte{inner, byte(len(raw))}, raw...)...)
		default:
			l.Options[inner] = raw
		}
	}
	for outer, data := range encap {
		l.Options[outer] = append(l.Options[outer], data...)
	}
	return l, nil
}
