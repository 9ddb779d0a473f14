// Copyright the snp-go authors.

//go:build tamago

// Package rand is not imported by anyone: mkworkspace.sh copies this file
// into github.com/u-root/uio/rand for GOOS=tamago builds, where that package
// has no source of defaultContextReader (insomniacslk/dhcp's dhcpv4 needs it
// for transaction IDs). See net/tamago-overlay/README.md. It also compiles on
// its own, so `go build ./net/...` for tamago stays green.
package rand

import (
	"context"
	"crypto/rand"
)

// defaultContextReader reads from crypto/rand, which TamaGo backs with the
// board's GetRandomData hook (EFI_RNG_PROTOCOL on snp-go). Reads never block
// for long, so the context is only checked before the read.
var defaultContextReader = tamagoReader{}

type tamagoReader struct{}

func (tamagoReader) ReadContext(ctx context.Context, b []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return rand.Read(b)
}
