package settings

import (
	"errors"
	"strings"
)

// ErrExpansionLoop is returned by Expand when expansion does not finish:
// a setting whose value refers to itself, directly or not.
var ErrExpansionLoop = errors.New("setting expansion does not terminate (a value refers to itself?)")

// Expansion limits. iPXE has none and would loop forever on a
// self-referring value; snp-go stops with ErrExpansionLoop instead.
const (
	maxExpansions  = 4096
	maxExpandedLen = 1 << 20
)

// Expand replaces every "${name}" in s with the formatted value of the
// setting, exactly as iPXE's expand_settings does: it repeatedly expands
// the innermost reference that ends at the first '}' (so "${${x}}"
// expands ${x} first and then the setting it names), until none is left.
// Unknown settings, invalid names and values that do not fit their type
// expand to the empty string.
func (s *Store) Expand(str string) (string, error) {
	for n := 0; ; n++ {
		start, end := -1, -1
		for i := 0; i < len(str); i++ {
			if str[i] == '$' && i+1 < len(str) && str[i+1] == '{' {
				start = i
			}
			if start >= 0 && str[i] == '}' {
				end = i
				break
			}
		}
		if end < 0 {
			return str, nil
		}
		if n >= maxExpansions {
			return "", ErrExpansionLoop
		}
		val, _ := s.Get(str[start+2 : end])
		if len(str)-(end+1-start)+len(val) > maxExpandedLen {
			return "", ErrExpansionLoop
		}
		str = str[:start] + val + str[end+1:]
	}
}

// HasReference reports whether s contains a "${...}" reference.
func HasReference(s string) bool {
	i := strings.Index(s, "${")
	return i >= 0 && strings.IndexByte(s[i:], '}') >= 0
}
