package script

import (
	"bytes"
	"strings"
)

// Line is one logical script line: physical lines joined by trailing
// backslashes, split into an optional ":label" and a command.
type Line struct {
	Num   int    // 1-based number of the first physical line
	Label string // label without ':' ("" for a bare ':' line)
	// HasLabel is set on a line that starts with ':', even a bare ':'
	// whose label is empty: `goto ${unset}` jumps there, as in iPXE.
	HasLabel bool
	Command  string // the command text (may be empty)
	// Unterminated is set on a last line that ends in a backslash: iPXE
	// fails when it reaches it.
	Unterminated bool
}

// ParseScript splits a script into lines as iPXE's process_script does:
// lines end at '\n', a trailing '\r' is dropped, a trailing '\\' joins
// the next line (without a separator), and a line whose first non-blank
// character is ':' starts with a label that runs to the next blank.
func ParseScript(data []byte) []Line {
	var lines []Line
	var cur []byte
	start := 1
	num := 0
	joining := false
	for len(data) > 0 || joining {
		var phys []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			phys, data = data[:i], data[i+1:]
		} else {
			phys, data = data, nil
		}
		num++
		if !joining {
			start = num
			cur = cur[:0]
		}
		cur = append(cur, phys...)
		if n := len(cur); n > 0 && cur[n-1] == '\r' {
			cur = cur[:n-1]
		}
		if n := len(cur); n > 0 && cur[n-1] == '\\' {
			cur = cur[:n-1]
			joining = true
			if len(data) == 0 {
				lines = append(lines, Line{Num: start, Command: string(cur), Unterminated: true})
				break
			}
			continue
		}
		joining = false
		lines = append(lines, splitLabel(start, string(cur)))
	}
	return lines
}

func splitLabel(num int, s string) Line {
	cmd := strings.TrimLeft(s, " \t\n\v\f\r")
	if !strings.HasPrefix(cmd, ":") {
		return Line{Num: num, Command: s}
	}
	cmd = cmd[1:]
	end := strings.IndexAny(cmd, " \t\n\v\f\r")
	if end < 0 {
		return Line{Num: num, Label: cmd, HasLabel: true}
	}
	return Line{Num: num, Label: cmd[:end], HasLabel: true, Command: cmd[end+1:]}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// SplitCommand splits a command line on whitespace, before any ${...}
// expansion and without quoting (iPXE split_command).
func SplitCommand(line string) []string {
	var toks []string
	for i := 0; i < len(line); {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		j := i
		for j < len(line) && !isSpace(line[j]) {
			j++
		}
		if j > i {
			toks = append(toks, line[i:j])
		}
		i = j
	}
	return toks
}

// separator is what follows one command in a command line.
type separator int

const (
	sepEnd separator = iota // end of line or comment
	sepOr                   // "||": run the next command if this one failed
	sepAnd                  // "&&": run the next command if this one succeeded
	sepSeq                  // ";": run the next command regardless
)

// nextCommand returns the number of tokens of the first command and the
// separator after it. A token starting with '#' starts a comment.
func nextCommand(tokens []string) (int, separator) {
	for i, t := range tokens {
		switch {
		case strings.HasPrefix(t, "#"):
			return i, sepEnd
		case t == "||":
			return i, sepOr
		case t == "&&":
			return i, sepAnd
		case t == ";":
			return i, sepSeq
		}
	}
	return len(tokens), sepEnd
}

// IsScript reports whether data starts with the "#!ipxe" (or older
// "#!gpxe") magic followed by whitespace, as iPXE's script_probe demands.
func IsScript(data []byte) bool {
	if len(data) < 7 || !isSpace(data[6]) {
		return false
	}
	m := string(data[:6])
	return m == "#!ipxe" || m == "#!gpxe"
}

// IsEFIImage reports whether data starts like a PE/COFF image, the format
// of UEFI executables (UEFI spec 2.10 §2.1.1): the "MZ" DOS header.
func IsEFIImage(data []byte) bool {
	return len(data) >= 2 && data[0] == 'M' && data[1] == 'Z'
}
