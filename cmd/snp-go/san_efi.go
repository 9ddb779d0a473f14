//go:build tamago && arm64

package main

import "github.com/snp-go/snp-go/script"

// san returns the SAN backend (iSCSI disks as EFI Block IO).
func (p *efiPlatform) san() script.SAN { return nil }
