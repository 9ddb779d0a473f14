package chap

import (
	"crypto/subtle"
	"fmt"
	"io"
)

// redacted is what every formatting of a Secret or Credentials prints.
const redacted = "[redacted]"

// Secret is a CHAP shared secret. Its value cannot be printed: String,
// GoString and Format (every fmt verb) write "[redacted]", and the value
// lives in an unexported field so encoding/json and friends see nothing.
// The zero Secret is "no secret".
type Secret struct {
	v string
}

// NewSecret wraps a secret given as text (iPXE's password and
// reverse-password settings are strings).
func NewSecret(s string) Secret { return Secret{v: s} }

// IsZero reports whether no secret is set.
func (s Secret) IsZero() bool { return s.v == "" }

// Len is the secret's length in bytes (safe to show: it helps diagnose a
// secret that was cut short, e.g. by shell quoting).
func (s Secret) Len() int { return len(s.v) }

// Equal compares two secrets in constant time (for equal lengths).
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare([]byte(s.v), []byte(o.v)) == 1
}

// String returns "[redacted]".
func (s Secret) String() string { return redacted }

// GoString returns "[redacted]", so %#v does not reveal the secret either.
func (s Secret) GoString() string { return redacted }

// Format writes "[redacted]" for every verb (%s %v %q %x %#v ...).
func (s Secret) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// Credentials are the CHAP accounts for one iSCSI session, named as in iPXE's
// settings: username/password authenticate the initiator to the target
// (one-way CHAP); ReverseUsername/ReversePassword authenticate the target to
// the initiator (mutual CHAP, RFC 7143 §12.1.3). Printing Credentials shows
// the user names and whether each secret is set, never the secrets.
type Credentials struct {
	Username        string
	Password        Secret
	ReverseUsername string
	ReversePassword Secret
}

// Enabled reports whether the initiator is to authenticate itself with CHAP.
func (c Credentials) Enabled() bool { return c.Username != "" || !c.Password.IsZero() }

// Mutual reports whether the target must authenticate itself too.
func (c Credentials) Mutual() bool {
	return c.ReverseUsername != "" || !c.ReversePassword.IsZero()
}

// Validate rejects incomplete or unsafe combinations (the same ones iPXE
// rejects, plus identical forward and reverse secrets, which RFC 7143
// §9.2.1 forbids because they allow a reflection attack).
func (c Credentials) Validate() error {
	switch {
	case (c.Username == "") != c.Password.IsZero():
		return fmt.Errorf("chap: username and password must be set together (username set: %t, password set: %t)",
			c.Username != "", !c.Password.IsZero())
	case (c.ReverseUsername == "") != c.ReversePassword.IsZero():
		return fmt.Errorf("chap: reverse-username and reverse-password must be set together (reverse-username set: %t, reverse-password set: %t)",
			c.ReverseUsername != "", !c.ReversePassword.IsZero())
	case c.Mutual() && !c.Enabled():
		return fmt.Errorf("chap: reverse (mutual) credentials need username and password as well")
	case c.Mutual() && c.Password.Equal(c.ReversePassword):
		return fmt.Errorf("chap: password and reverse-password are identical; RFC 7143 §9.2.1 requires different secrets for each direction")
	}
	return nil
}

func (c Credentials) describe() string {
	set := func(s Secret) string {
		if s.IsZero() {
			return "unset"
		}
		return redacted
	}
	return fmt.Sprintf("{Username:%q Password:%s ReverseUsername:%q ReversePassword:%s}",
		c.Username, set(c.Password), c.ReverseUsername, set(c.ReversePassword))
}

// String describes the credentials without revealing secrets.
func (c Credentials) String() string { return c.describe() }

// GoString describes the credentials without revealing secrets.
func (c Credentials) GoString() string { return "chap.Credentials" + c.describe() }

// Format describes the credentials without revealing secrets, for every verb.
func (c Credentials) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, c.GoString())
		return
	}
	io.WriteString(f, c.describe())
}
