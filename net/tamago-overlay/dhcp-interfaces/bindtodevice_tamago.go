// Copyright the snp-go authors.

//go:build tamago

// Package interfaces is not imported by anyone: this file is copied into
// github.com/insomniacslk/dhcp/interfaces for GOOS=tamago builds, where that
// package has no BindToInterface (dhcpv4 references it from a deprecated
// wrapper). See net/tamago-overlay/README.md. It also compiles on its own.
package interfaces

import "errors"

// BindToInterface fails: there are no socket file descriptors on TamaGo.
// snp-go binds its DHCP socket to the interface inside its own stack.
func BindToInterface(fd int, ifname string) error {
	return errors.New("interfaces: BindToInterface is not available on GOOS=tamago")
}
