// Package chap implements CHAP (RFC 1994) the way iSCSI uses it during login
// (RFC 7143 §12.1.3). CHAP_A values are numbers from the IANA "PPP
// Authentication Algorithms" registry, as RFC 7143 §12.1.3 says: MD5=5
// (RFC 1994 §3), SHA-1=6, SHA-256=7, SHA3-256=8.
//
// The initiator side of one exchange is an [Initiator]:
//
//	in, err := chap.NewInitiator(creds, nil)        // nil: DefaultAlgorithms
//	send("CHAP_A", in.OfferAlgorithms())            // e.g. "8,7,6,5"
//	err = in.SelectAlgorithm(targetCHAP_A)
//	keys, err := in.Respond(targetCHAP_I, targetCHAP_C) // CHAP_N, CHAP_R [, CHAP_I, CHAP_C]
//	err = in.VerifyTarget(targetCHAP_N, targetCHAP_R)   // mutual CHAP only
//
// Secrets are [Secret] values, which never print. Responses are compared in
// constant time; a target challenge equal to our own (reflection), a
// challenge longer than 1024 bytes and identical forward and reverse
// secrets are refused.
package chap

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// Algorithm is a CHAP_A value (IANA PPP authentication algorithm number).
type Algorithm uint8

// CHAP_A values (RFC 1994 §3 for MD5; the IANA "PPP Authentication
// Algorithms" registry, which RFC 7143 §12.1.3 refers to, for the others).
const (
	MD5      Algorithm = 5
	SHA1     Algorithm = 6
	SHA256   Algorithm = 7
	SHA3_256 Algorithm = 8
)

// DefaultAlgorithms is the initiator's offer, strongest first. Linux's target
// (LIO) and open-iscsi accept all four; tgt accepts MD5 and SHA-1; iPXE
// offers only MD5.
var DefaultAlgorithms = []Algorithm{SHA3_256, SHA256, SHA1, MD5}

// Challenge length limits. RFC 7143 §12.1.3: C and R are large-binary-values
// whose binary length MUST NOT exceed 1024 bytes. We send at least 16 bytes
// (and at least the digest size) of random bytes: RFC 1994 §2.3 asks for
// challenges that are unique and unpredictable.
const (
	MaxChallengeLen = 1024
	MinChallengeLen = 16
)

// String names the algorithm ("MD5", "SHA-1", "SHA-256", "SHA3-256").
func (a Algorithm) String() string {
	switch a {
	case MD5:
		return "MD5"
	case SHA1:
		return "SHA-1"
	case SHA256:
		return "SHA-256"
	case SHA3_256:
		return "SHA3-256"
	}
	return "CHAP_A=" + strconv.Itoa(int(a))
}

// Valid reports whether a is one of the supported algorithms.
func (a Algorithm) Valid() bool { return a.newHash() != nil }

// Size is the length of a's responses in bytes.
func (a Algorithm) Size() int {
	if h := a.newHash(); h != nil {
		return h.Size()
	}
	return 0
}

func (a Algorithm) newHash() hash.Hash {
	switch a {
	case MD5:
		return md5.New()
	case SHA1:
		return sha1.New()
	case SHA256:
		return sha256.New()
	case SHA3_256:
		return sha3.New256()
	}
	return nil
}

// ParseAlgorithm accepts a CHAP_A number ("5") or a name ("md5", "sha1",
// "sha-1", "sha256", "sha-256", "sha3-256"), case-insensitively.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "5", "md5":
		return MD5, nil
	case "6", "sha1", "sha-1":
		return SHA1, nil
	case "7", "sha256", "sha-256":
		return SHA256, nil
	case "8", "sha3-256", "sha3_256", "sha3":
		return SHA3_256, nil
	}
	return 0, fmt.Errorf("chap: unknown algorithm %q (want md5, sha1, sha256 or sha3-256)", s)
}

// Response computes the CHAP response H(id || secret || challenge)
// (RFC 1994 §4.1 with H = a).
func (a Algorithm) Response(id byte, secret Secret, challenge []byte) ([]byte, error) {
	h := a.newHash()
	if h == nil {
		return nil, fmt.Errorf("chap: unsupported algorithm %v", a)
	}
	h.Write([]byte{id})
	h.Write([]byte(secret.v))
	h.Write(challenge)
	return h.Sum(nil), nil
}

// Verify reports whether response is the correct answer to (id, challenge)
// for secret, comparing in constant time.
func (a Algorithm) Verify(id byte, secret Secret, challenge, response []byte) bool {
	want, err := a.Response(id, secret, challenge)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(want, response) == 1
}

// NewChallenge returns a fresh random challenge for a from crypto/rand:
// max(MinChallengeLen, a.Size()) bytes.
func NewChallenge(a Algorithm) ([]byte, error) {
	n := max(MinChallengeLen, a.Size())
	c := make([]byte, n)
	if _, err := rand.Read(c); err != nil {
		return nil, fmt.Errorf("chap: no randomness for a challenge: %w", err)
	}
	return c, nil
}

// EncodeBinary encodes b as an iSCSI hex binary-value ("0x" followed by
// lower-case hex digits, RFC 7143 §6.1).
func EncodeBinary(b []byte) string { return "0x" + hex.EncodeToString(b) }

// DecodeBinary decodes an iSCSI binary-value (RFC 7143 §6.1): "0x"/"0X"
// followed by hex digits (an odd count gets an implied leading zero), or
// "0b"/"0B" followed by base64 (RFC 4648, with padding). At most
// MaxChallengeLen bytes are accepted.
func DecodeBinary(s string) ([]byte, error) {
	if len(s) < 3 || s[0] != '0' {
		return nil, fmt.Errorf("chap: binary value %.40q: want 0x<hex> or 0b<base64>", s)
	}
	body := s[2:]
	var out []byte
	var err error
	switch s[1] {
	case 'x', 'X':
		if len(body) > 2*MaxChallengeLen {
			return nil, fmt.Errorf("chap: binary value longer than %d bytes", MaxChallengeLen)
		}
		if len(body)%2 == 1 {
			body = "0" + body
		}
		out, err = hex.DecodeString(body)
	case 'b', 'B':
		// encoding/base64 skips '\r' and '\n'; a text value has neither.
		if strings.ContainsAny(body, "\r\n") {
			return nil, fmt.Errorf("chap: binary value %.40q has a line break", s)
		}
		if base64.StdEncoding.DecodedLen(len(body)) > MaxChallengeLen+2 {
			return nil, fmt.Errorf("chap: binary value longer than %d bytes", MaxChallengeLen)
		}
		out, err = base64.StdEncoding.Strict().DecodeString(body)
	default:
		return nil, fmt.Errorf("chap: binary value %.40q: want 0x<hex> or 0b<base64>", s)
	}
	if err != nil {
		return nil, fmt.Errorf("chap: bad binary value %.40q: %w", s, err)
	}
	if len(out) > MaxChallengeLen {
		return nil, fmt.Errorf("chap: binary value longer than %d bytes", MaxChallengeLen)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("chap: empty binary value %.40q", s)
	}
	return out, nil
}

// parseID parses CHAP_I: a number 0..255, decimal or 0x-hex (RFC 7143 §6.1
// numerical values).
func parseID(s string) (byte, error) {
	var v uint64
	var err error
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		v, err = strconv.ParseUint(s[2:], 16, 8)
	} else {
		v, err = strconv.ParseUint(s, 10, 8)
	}
	if err != nil {
		return 0, fmt.Errorf("chap: CHAP_I %.20q is not a number 0..255", s)
	}
	return byte(v), nil
}
