package main

import "testing"

// TestCryptoRates: both rates come out positive on the host (the guest's
// figures come from BenchmarkQEMUCrypto).
func TestCryptoRates(t *testing.T) {
	gcm, sha, err := cryptoRates(1 << 20)
	if err != nil || gcm <= 0 || sha <= 0 {
		t.Fatalf("cryptoRates(1 MiB) = %v, %v, %v; want two positive rates", gcm, sha, err)
	}
	t.Logf("host: AES-128-GCM open %.0f MB/s, SHA-256 %.0f MB/s", gcm, sha)
}
