//go:build !tamago

package main

import (
	"fmt"
	"os"
	"time"
)

// On the host, snp-go only explains how to build it: it is an EFI
// application, built with GOOS=tamago by `make`.
type hostPlatform struct{}

func platform() hostPlatform {
	fmt.Fprintln(os.Stderr, "snp-go is an arm64 EFI application: build it with `make` and run it with `make qemu`")
	os.Exit(2)
	return hostPlatform{}
}

func (hostPlatform) LoadOptions() string                                             { return "" }
func (hostPlatform) Banner()                                                         {}
func (hostPlatform) SelftestMemdisk() error                                          { return nil }
func (hostPlatform) SelftestCallbacks() error                                        { return nil }
func (hostPlatform) StayResident(why string)                                         {}
func (hostPlatform) SelftestNet(ping, url string) error                              { return nil }
func (hostPlatform) Boot(embedded []byte, banner time.Duration) error                { return nil }
func (hostPlatform) SelftestISCSI(root string, chunk int, u, p, ru, rp string) error { return nil }
func (hostPlatform) SetTCPWindow(n int)                                              {}
