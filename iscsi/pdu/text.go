package pdu

import (
	"bytes"
	"fmt"
)

// KV is one text key=value pair (RFC 7143 §6.1).
type KV struct{ Key, Value string }

// Text is the ordered list of pairs of a Login or Text PDU data segment.
type Text []KV

// Limits for text keys (RFC 7143 §6.1): keys are at most 63 bytes. Values
// are limited to 255 bytes unless a key says otherwise; CHAP_C and CHAP_R
// may carry 1024 binary bytes (2050 hex characters), so values up to
// MaxTextValueLen are accepted.
const (
	MaxTextKeyLen   = 63
	MaxTextValueLen = 4096
)

// keyChar reports whether c may appear in a key (RFC 7143 §6.1: letters,
// digits, '.', '-', '+', '@', '_').
func keyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '-' || c == '+' || c == '@' || c == '_'
}

// ParseText parses a data segment of NUL-terminated key=value pairs. Empty
// entries (runs of NULs) are skipped and the last pair may lack its NUL. A
// key that appears twice is an error.
func ParseText(b []byte) (Text, error) {
	var t Text
	for len(b) > 0 {
		var item []byte
		if i := bytes.IndexByte(b, 0); i >= 0 {
			item, b = b[:i], b[i+1:]
		} else {
			item, b = b, nil
		}
		if len(item) == 0 {
			continue
		}
		eq := bytes.IndexByte(item, '=')
		if eq < 0 {
			return nil, fmt.Errorf("iscsi: text item %.40q has no '='", item)
		}
		k, v := item[:eq], item[eq+1:]
		if len(k) == 0 || len(k) > MaxTextKeyLen {
			return nil, fmt.Errorf("iscsi: text key %.70q: length %d not in 1..%d", k, len(k), MaxTextKeyLen)
		}
		for _, c := range k {
			if !keyChar(c) {
				return nil, fmt.Errorf("iscsi: text key %.70q has invalid character %q", k, c)
			}
		}
		if len(v) > MaxTextValueLen {
			return nil, fmt.Errorf("iscsi: value of text key %s is %d bytes long (limit %d)", k, len(v), MaxTextValueLen)
		}
		key := string(k)
		if _, dup := t.Get(key); dup {
			return nil, fmt.Errorf("iscsi: text key %s sent twice (protocol error, RFC 7143 §6.2)", key)
		}
		t = append(t, KV{key, string(v)})
	}
	return t, nil
}

// Get returns the value of key.
func (t Text) Get(key string) (string, bool) {
	for _, kv := range t {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// Append encodes pairs as key=value NUL ... onto dst.
func (t Text) Append(dst []byte) []byte {
	for _, kv := range t {
		dst = append(dst, kv.Key...)
		dst = append(dst, '=')
		dst = append(dst, kv.Value...)
		dst = append(dst, 0)
	}
	return dst
}
