// Command snp-go is the EFI application: U-Boot starts it with
// `bootefi`. Build it with `make` (GOOS=tamago GOARCH=arm64).
//
// Options come from the EFI load options, which U-Boot's bootefi takes from
// the `bootargs` environment variable, e.g.
//
//	=> setenv bootargs --selftest=memdisk
//	=> bootefi ${kernel_addr_r} ${fdtcontroladdr}
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/snp-go/snp-go/net/ipstack"
	"github.com/snp-go/snp-go/script"
)

// version is set by the Makefile (-X main.version=...).
var version = "dev"

// bannerTimeout is the Makefile's BANNER_TIMEOUT (-X main.bannerTimeout=...):
// how long "Press Ctrl-B for the snp-go command line..." waits, in tenths
// of a second as iPXE's BANNER_TIMEOUT (config/general.h); 0 skips it.
var bannerTimeout = "20"

// bannerWait parses BANNER_TIMEOUT.
func bannerWait(s string) (time.Duration, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("BANNER_TIMEOUT=%q: want tenths of a second, 0-65535: %w", s, err)
	}
	return time.Duration(n) * time.Second / 10, nil
}

func main() {
	plat := platform()
	flags := pflag.NewFlagSet("snp-go", pflag.ContinueOnError)
	selftest := flags.StringSlice("selftest", nil, "run platform self-tests: memdisk, callbacks, net, iscsi, crypto")
	pingAddr := flags.String("ping", "", "net self-test: ping this IPv4 address")
	fetchURL := flags.String("fetch", "", "net self-test: fetch this URL")
	gcPercent := flags.Int("gc-percent", 100, "Go GC target percentage (debugging)")
	rcvbuf := flags.Int("tcp-window", ipstack.DefaultReceiveBudget, "TCP receive buffer per connection and in total (default: ipstack.DefaultReceiveBudget, which keeps within U-Boot's 32-frame receive ring)")
	root := flags.String("root", "", "iscsi self-test: iSCSI root path to read")
	chunk := flags.Int("chunk", 1<<20, "iscsi self-test: bytes per read")
	user := flags.String("username", "", "iscsi self-test: CHAP user")
	pass := flags.String("password", "", "iscsi self-test: CHAP secret")
	ruser := flags.String("reverse-username", "", "iscsi self-test: mutual CHAP user")
	rpass := flags.String("reverse-password", "", "iscsi self-test: mutual CHAP secret")
	if err := flags.Parse(strings.Fields(plat.LoadOptions())); err != nil {
		fmt.Printf("snp-go: bad load options %q: %v\n", plat.LoadOptions(), err)
		os.Exit(1)
	}
	plat.SetTCPWindow(*rcvbuf)
	debug.SetGCPercent(*gcPercent)
	plat.Banner()

	if len(*selftest) == 0 {
		// The boot flow: Ctrl-B prompt, then the embedded script (or
		// iPXE's autoboot: dhcp, chain filename / sanboot root-path), or
		// the shell. It returns when the script ends or `exit` is typed.
		banner, err := bannerWait(bannerTimeout)
		if err != nil {
			fmt.Printf("snp-go: %v; using %v\n", err, script.ShellPromptTimeout)
			banner = script.ShellPromptTimeout
		}
		if err := plat.Boot(embeddedFile("script.ipxe"), banner); err != nil {
			fmt.Printf("snp-go: %v\n", err)
		}
		fmt.Println("snp-go: returning to firmware")
		return
	}

	resident := false
	for _, t := range *selftest {
		start := time.Now()
		var err error
		switch t {
		case "memdisk":
			err = plat.SelftestMemdisk()
			resident = true
		case "callbacks":
			err = plat.SelftestCallbacks()
		case "iscsi":
			err = plat.SelftestISCSI(*root, *chunk, *user, *pass, *ruser, *rpass)
		case "net":
			err = plat.SelftestNet(*pingAddr, *fetchURL)
		case "crypto":
			err = selftestCrypto()
		default:
			err = fmt.Errorf("unknown self-test %q (have: memdisk, callbacks, net, iscsi, crypto)", t)
		}
		if err != nil {
			fmt.Printf("selftest %s: FAIL: %v\n", t, err)
			os.Exit(1)
		}
		fmt.Printf("selftest %s: PASS (%v)\n", t, time.Since(start).Round(time.Millisecond))
	}
	if resident {
		plat.StayResident("a disk served by snp-go is connected to U-Boot")
	}
	fmt.Println("snp-go: returning to firmware")
}
