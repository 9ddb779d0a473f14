//go:build tamago && arm64

package main

import (
	"context"
	"time"

	"github.com/snp-go/snp-go/script"
)

// Boot runs the script engine on the serial console: the Ctrl-B prompt
// for banner (none when zero), then the embedded script or iPXE's default
// autoboot, or the shell.
func (p *efiPlatform) Boot(embedded []byte, banner time.Duration) error {
	con := p.console()
	eng := script.New(p.env(con))
	err := eng.Startup(context.Background(), embedded, banner)
	if p.resident != "" {
		p.StayResident(p.resident)
	}
	return err
}
