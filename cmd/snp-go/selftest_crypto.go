package main

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"fmt"
	"time"
)

// cryptoRates measures, on the CPU it runs on, the ciphers an HTTPS
// download costs: AES-128-GCM opening TLS-sized records (16 KiB) and
// SHA-256 (what fetch --selftest and imgverify hash with), each over size
// bytes, in MB/s. Under QEMU's TCG every AES, PMULL and SHA-256 instruction
// is a call into a C helper, so these rates bound an HTTPS download in the
// lab whatever the network path costs.
func cryptoRates(size int) (gcm, sha float64, err error) {
	const record = 16 << 10
	key := bytes.Repeat([]byte{0x5a}, 16)
	block, err := aes.NewCipher(key)
	if err != nil {
		return 0, 0, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return 0, 0, err
	}
	nonce := make([]byte, aead.NonceSize())
	plain := make([]byte, record)
	for i := range plain {
		plain[i] = byte(i * 7)
	}
	sealed := aead.Seal(nil, nonce, plain, nil)
	buf := make([]byte, 0, record)
	n := max(size/record, 1)
	start := time.Now()
	for range n {
		out, err := aead.Open(buf[:0], nonce, sealed, nil)
		if err != nil || !bytes.Equal(out, plain) {
			return 0, 0, fmt.Errorf("AES-128-GCM: open of a sealed record failed (%v)", err)
		}
	}
	gcm = float64(n*record) / 1e6 / time.Since(start).Seconds()

	h := sha256.New()
	start = time.Now()
	for range n {
		h.Write(plain)
	}
	h.Sum(nil)
	sha = float64(n*record) / 1e6 / time.Since(start).Seconds()
	return gcm, sha, nil
}

// selftestCrypto prints cryptoRates over 8 MiB.
func selftestCrypto() error {
	gcm, sha, err := cryptoRates(8 << 20)
	if err != nil {
		return err
	}
	fmt.Printf("crypto: AES-128-GCM open %.1f MB/s, SHA-256 %.1f MB/s\n", gcm, sha)
	return nil
}
