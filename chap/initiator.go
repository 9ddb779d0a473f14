package chap

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrTargetAuth is wrapped by every error that means "the target failed to
// prove it knows the reverse secret"; such a target must not be used.
var ErrTargetAuth = errors.New("target failed mutual CHAP authentication")

// KV is one text key=value pair to send to the target.
type KV struct{ Key, Value string }

// Initiator is the initiator side of one CHAP exchange during one iSCSI login
// (RFC 7143 §12.1.3). Use a new Initiator for every login attempt.
type Initiator struct {
	creds  Credentials
	offer  []Algorithm
	alg    Algorithm
	id     byte   // our CHAP_I (mutual only)
	chal   []byte // our CHAP_C (mutual only)
	answer bool   // Respond succeeded
}

// NewInitiator validates creds (which must enable CHAP) and prepares an
// exchange offering algs in order (nil or empty: DefaultAlgorithms).
func NewInitiator(creds Credentials, algs []Algorithm) (*Initiator, error) {
	if !creds.Enabled() {
		return nil, errors.New("chap: no username/password configured")
	}
	if err := creds.Validate(); err != nil {
		return nil, err
	}
	if len(algs) == 0 {
		algs = DefaultAlgorithms
	}
	for _, a := range algs {
		if !a.Valid() {
			return nil, fmt.Errorf("chap: unsupported algorithm %v in preference list", a)
		}
	}
	return &Initiator{creds: creds, offer: algs}, nil
}

// OfferAlgorithms is the CHAP_A value to send: the preference list, e.g.
// "8,7,6,5".
func (in *Initiator) OfferAlgorithms() string {
	var b strings.Builder
	for i, a := range in.offer {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(a)))
	}
	return b.String()
}

// SelectAlgorithm records the target's choice (its CHAP_A value), which must
// be one of the offered algorithms. For mutual CHAP it also draws our
// challenge now, before the target's challenge is seen.
func (in *Initiator) SelectAlgorithm(value string) error {
	n, err := strconv.ParseUint(strings.TrimSpace(value), 10, 8)
	if err != nil {
		return fmt.Errorf("chap: target chose CHAP_A=%.20q, which is not a number", value)
	}
	a := Algorithm(n)
	ok := false
	for _, o := range in.offer {
		ok = ok || o == a
	}
	if !ok {
		return fmt.Errorf("chap: target chose CHAP_A=%d, which we did not offer (offered %s)", n, in.OfferAlgorithms())
	}
	in.alg = a
	if in.creds.Mutual() {
		var idb [1]byte
		if _, err := rand.Read(idb[:]); err != nil {
			return fmt.Errorf("chap: no randomness for CHAP_I: %w", err)
		}
		in.id = idb[0]
		if in.chal, err = NewChallenge(a); err != nil {
			return err
		}
	}
	return nil
}

// Algorithm is the algorithm the target selected (0 before SelectAlgorithm).
func (in *Initiator) Algorithm() Algorithm { return in.alg }

// Respond answers the target's CHAP_I and CHAP_C. It returns the keys to send:
// CHAP_N and CHAP_R, followed for mutual CHAP by our CHAP_I and CHAP_C.
func (in *Initiator) Respond(idValue, challengeValue string) ([]KV, error) {
	if in.alg == 0 {
		return nil, errors.New("chap: target sent CHAP_C before choosing CHAP_A")
	}
	id, err := parseID(idValue)
	if err != nil {
		return nil, err
	}
	c, err := DecodeBinary(challengeValue)
	if err != nil {
		return nil, fmt.Errorf("chap: target's CHAP_C: %w", err)
	}
	if len(c) == 0 {
		return nil, errors.New("chap: target sent an empty CHAP_C")
	}
	if in.chal != nil && subtle.ConstantTimeCompare(c, in.chal) == 1 {
		return nil, fmt.Errorf("chap: target's challenge equals our own (reflection attack): %w", ErrTargetAuth)
	}
	r, err := in.alg.Response(id, in.creds.Password, c)
	if err != nil {
		return nil, err
	}
	kv := []KV{{"CHAP_N", in.creds.Username}, {"CHAP_R", EncodeBinary(r)}}
	if in.creds.Mutual() {
		kv = append(kv, KV{"CHAP_I", strconv.Itoa(int(in.id))}, KV{"CHAP_C", EncodeBinary(in.chal)})
	}
	in.answer = true
	return kv, nil
}

// VerifyTarget checks the target's CHAP_N and CHAP_R against the reverse
// credentials. name and response are "" when the target sent none, which
// is refused: for mutual CHAP the target must prove itself.
func (in *Initiator) VerifyTarget(name, response string) error {
	if !in.creds.Mutual() {
		return nil
	}
	if !in.answer {
		return errors.New("chap: target response checked before our challenge was sent")
	}
	if response == "" {
		return fmt.Errorf("chap: target sent no CHAP_R although mutual CHAP was requested: %w", ErrTargetAuth)
	}
	if name != in.creds.ReverseUsername {
		return fmt.Errorf("chap: target authenticated as %q, want reverse-username %q: %w", name, in.creds.ReverseUsername, ErrTargetAuth)
	}
	r, err := DecodeBinary(response)
	if err != nil {
		return fmt.Errorf("chap: target's CHAP_R: %v: %w", err, ErrTargetAuth)
	}
	if !in.alg.Verify(in.id, in.creds.ReversePassword, in.chal, r) {
		return fmt.Errorf("chap: target's CHAP_R is wrong (reverse-password differs from the target's outgoing account): %w", ErrTargetAuth)
	}
	return nil
}
