//go:build tamago && arm64

package main

import "github.com/snp-go/snp-go/internal/certstore"

// certStore is iPXE's certificate store (certstat, certstore, certfree):
// HTTPS and imgverify take intermediates from it and cache the
// certificates they see in it. Trust still comes from the roots only.
var certStore certstore.Store
