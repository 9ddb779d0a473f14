package main

import (
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/snp-go/snp-go/net/fetch"
	"github.com/snp-go/snp-go/script/imgverify"
)

// hostTrust is imgverify's trust anchors for snpctl run: the --trust PEM
// files, else what https trusts (the system roots and the --ca files).
type hostTrust struct{ anchors imgverify.Anchors }

func (h hostTrust) ImageTrust() (imgverify.Anchors, error) { return h.anchors, nil }

func newHostTrust(trustFiles, caFiles []string) (hostTrust, error) {
	if len(trustFiles) > 0 {
		var bundles [][]byte
		for _, f := range trustFiles {
			b, err := os.ReadFile(f)
			if err != nil {
				return hostTrust{}, fmt.Errorf("--trust: %w", err)
			}
			bundles = append(bundles, b)
		}
		t, err := fetch.TrustFromPEM(bundles...)
		if err != nil {
			return hostTrust{}, fmt.Errorf("--trust %s: %w", strings.Join(trustFiles, ","), err)
		}
		return hostTrust{imgverify.Anchors{Pool: t.Pool, Source: "--trust " + strings.Join(trustFiles, ",")}}, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	source := "system roots"
	for _, f := range caFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return hostTrust{}, fmt.Errorf("--ca: %w", err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return hostTrust{}, fmt.Errorf("--ca %s: no PEM certificate in the file", f)
		}
		source += " + " + f
	}
	return hostTrust{imgverify.Anchors{Pool: pool, Source: source}}, nil
}
