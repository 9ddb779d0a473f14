package lineedit

import (
	"context"
	"errors"
	"io"
	"strings"
	"unicode"
)

// Terminal is what the editor needs: output, and key input that can be
// abandoned through ctx.
type Terminal interface {
	io.Writer
	ReadKey(ctx context.Context) (Key, error)
}

// ErrInterrupted is returned by ReadLine when Ctrl-C is pressed.
var ErrInterrupted = errors.New("interrupted by Ctrl-C")

// History is a list of entered lines, oldest first, for Up/Down.
type History struct {
	Max   int // entries kept; 0 means 64
	lines []string
}

// Add appends a line, skipping empty lines and repeats of the last one.
func (h *History) Add(line string) {
	if strings.TrimSpace(line) == "" || (len(h.lines) > 0 && h.lines[len(h.lines)-1] == line) {
		return
	}
	max := h.Max
	if max <= 0 {
		max = 64
	}
	h.lines = append(h.lines, line)
	if len(h.lines) > max {
		h.lines = h.lines[len(h.lines)-max:]
	}
}

// Lines returns the history, oldest first.
func (h *History) Lines() []string { return append([]string(nil), h.lines...) }

// Completer proposes completions for the word that ends at pos in line:
// it returns where that word starts and the full words it could become.
type Completer func(line string, pos int) (start int, candidates []string)

// Editor reads one line with editing keys:
//
//	Left/Right, Ctrl-B/Ctrl-F   move by one character
//	Home/End, Ctrl-A/Ctrl-E     move to the start/end
//	Backspace, Delete, Ctrl-D   delete before/under the cursor
//	Ctrl-K, Ctrl-U              delete to the end/start of the line
//	Ctrl-W                      delete the word before the cursor
//	Up/Down, Ctrl-P/Ctrl-N      history
//	Tab                         completion
//	Enter                       accept; Ctrl-C abandons (ErrInterrupted)
//
// It draws with plain characters, backspaces and spaces only, so it works
// on any serial terminal.
type Editor struct {
	History  *History  // nil: no history
	Complete Completer // nil: Tab is ignored
	Mask     bool      // show '*' for each character (passwords)
}

type lineState struct {
	t      Terminal
	prompt string
	mask   bool
	buf    []rune
	pos    int
	shown  []rune // what is on the screen after the prompt
	cur    int    // screen cursor, as an index into shown
	err    error
}

func (s *lineState) write(str string) {
	if s.err == nil {
		_, s.err = io.WriteString(s.t, str)
	}
}

func (s *lineState) display() []rune {
	if !s.mask {
		return append([]rune(nil), s.buf...)
	}
	return []rune(strings.Repeat("*", len(s.buf)))
}

// refresh brings the screen from shown/cur to buf/pos with the fewest
// characters: it keeps the common prefix, rewrites the rest, blanks what
// is left over and backs up to the cursor.
func (s *lineState) refresh() {
	want := s.display()
	p := 0
	for p < len(want) && p < len(s.shown) && want[p] == s.shown[p] {
		p++
	}
	var b strings.Builder
	if s.cur > p {
		b.WriteString(strings.Repeat("\b", s.cur-p))
	} else if s.cur < p {
		b.WriteString(string(s.shown[s.cur:p]))
	}
	b.WriteString(string(want[p:]))
	end := len(want)
	if extra := len(s.shown) - len(want); extra > 0 {
		b.WriteString(strings.Repeat(" ", extra))
		end += extra
	}
	b.WriteString(strings.Repeat("\b", end-s.pos))
	s.shown, s.cur = want, s.pos
	s.write(b.String())
}

// redraw prints the prompt and the whole line again on a new line.
func (s *lineState) redraw() {
	s.write(s.prompt)
	s.shown, s.cur = nil, 0
	s.refresh()
}

func (s *lineState) set(line string) {
	s.buf = []rune(line)
	s.pos = len(s.buf)
}

// ReadLine shows prompt, starts with initial as the line, and returns the
// line when Enter is pressed. It returns ErrInterrupted on Ctrl-C and
// ctx's error if ctx ends first (a timeout, for `read --timeout`).
func (e *Editor) ReadLine(ctx context.Context, t Terminal, prompt, initial string) (string, error) {
	line, _, err := e.ReadField(ctx, t, prompt, initial, nil)
	return line, err
}

// ReadField is ReadLine for a field of a form: a key for which exit
// reports true (Up, Down, Ctrl-X, ...) ends the editing like Enter, but
// without a newline, and is returned with the line as it is (the cursor
// is left at its end). Enter returns KeyEnter; exit is consulted first,
// so it may claim Ctrl-C or Enter too.
func (e *Editor) ReadField(ctx context.Context, t Terminal, prompt, initial string, exit func(Key) bool) (string, Key, error) {
	s := &lineState{t: t, prompt: prompt, mask: e.Mask}
	s.set(initial)
	s.redraw()
	var hist []string
	if e.History != nil {
		hist = e.History.Lines()
	}
	hpos := len(hist) // len(hist) is the line being edited
	draft := ""
	for s.err == nil {
		k, err := t.ReadKey(ctx)
		if err != nil {
			s.write("\n")
			return "", 0, err
		}
		if exit != nil && exit(k) {
			s.pos = len(s.buf)
			s.refresh()
			return string(s.buf), k, s.err
		}
		switch k {
		case KeyEnter:
			s.pos = len(s.buf)
			s.refresh()
			s.write("\n")
			line := string(s.buf)
			if e.History != nil && !e.Mask {
				e.History.Add(line)
			}
			return line, k, s.err
		case KeyCtrlC:
			s.pos = len(s.buf)
			s.refresh()
			s.write("^C\n")
			return "", k, ErrInterrupted
		case KeyLeft, KeyCtrlB:
			if s.pos > 0 {
				s.pos--
			}
		case KeyRight, KeyCtrlF:
			if s.pos < len(s.buf) {
				s.pos++
			}
		case KeyHome, KeyCtrlA:
			s.pos = 0
		case KeyEnd, KeyCtrlE:
			s.pos = len(s.buf)
		case KeyBackspace:
			if s.pos > 0 {
				s.buf = append(s.buf[:s.pos-1], s.buf[s.pos:]...)
				s.pos--
			}
		case KeyDelete, KeyCtrlD:
			if s.pos < len(s.buf) {
				s.buf = append(s.buf[:s.pos], s.buf[s.pos+1:]...)
			}
		case KeyCtrlK:
			s.buf = s.buf[:s.pos]
		case KeyCtrlU:
			s.buf = append([]rune(nil), s.buf[s.pos:]...)
			s.pos = 0
		case KeyCtrlW:
			i := s.pos
			for i > 0 && unicode.IsSpace(s.buf[i-1]) {
				i--
			}
			for i > 0 && !unicode.IsSpace(s.buf[i-1]) {
				i--
			}
			s.buf = append(s.buf[:i], s.buf[s.pos:]...)
			s.pos = i
		case KeyUp, KeyCtrlP:
			if hpos > 0 {
				if hpos == len(hist) {
					draft = string(s.buf)
				}
				hpos--
				s.set(hist[hpos])
			}
		case KeyDown, KeyCtrlN:
			if hpos < len(hist) {
				hpos++
				if hpos == len(hist) {
					s.set(draft)
				} else {
					s.set(hist[hpos])
				}
			}
		case KeyCtrlL:
			s.write("\n")
			s.redraw()
		case KeyTab:
			if e.Complete != nil && !e.Mask {
				e.complete(s)
			}
		default:
			if k.IsPrint() {
				s.buf = append(s.buf[:s.pos], append([]rune{rune(k)}, s.buf[s.pos:]...)...)
				s.pos++
			}
		}
		s.refresh()
	}
	return "", 0, s.err
}

// complete replaces the word before the cursor with the single candidate
// (plus a space), or with the longest common prefix of several; if that
// adds nothing it lists the candidates and redraws the line.
func (e *Editor) complete(s *lineState) {
	line := string(s.buf)
	// Work in bytes for the completer, runes for the buffer.
	bpos := len(string(s.buf[:s.pos]))
	start, cands := e.Complete(line, bpos)
	if len(cands) == 0 || start < 0 || start > bpos {
		return
	}
	word := line[start:bpos]
	repl := cands[0]
	if len(cands) > 1 {
		repl = commonPrefix(cands)
	} else {
		repl += " "
	}
	if !strings.HasPrefix(repl, word) {
		return
	}
	if len(repl) > len(word) {
		ins := []rune(repl[len(word):])
		s.buf = append(s.buf[:s.pos], append(ins, s.buf[s.pos:]...)...)
		s.pos += len(ins)
		return
	}
	if len(cands) > 1 {
		s.pos = len(s.buf)
		s.refresh()
		s.write("\n" + strings.Join(cands, "  ") + "\n")
		s.pos = len([]rune(line[:bpos]))
		s.redraw()
	}
}

func commonPrefix(words []string) string {
	p := words[0]
	for _, w := range words[1:] {
		for !strings.HasPrefix(w, p) {
			p = p[:len(p)-1]
		}
	}
	return p
}
