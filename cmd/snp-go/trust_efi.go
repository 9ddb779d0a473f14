//go:build tamago && arm64

package main

import (
	"fmt"

	"github.com/snp-go/snp-go/net/fetch"
	"github.com/snp-go/snp-go/script/imgverify"
)

// efiTrust gives imgverify the same anchors as HTTPS: the embedded TRUST
// bundle (make TRUST=...), else the public roots.
type efiTrust struct{}

func (efiTrust) ImageTrust() (imgverify.Anchors, error) {
	t := fetch.PublicRoots()
	if pem := embeddedFile("trust.pem"); pem != nil {
		var err error
		if t, err = fetch.TrustFromPEM(pem); err != nil {
			return imgverify.Anchors{}, fmt.Errorf("embedded trust anchors (make TRUST=...): %w", err)
		}
	}
	return imgverify.Anchors{Pool: t.Pool, Source: t.Source}, nil
}
