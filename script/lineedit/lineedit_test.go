package lineedit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDecoder(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Key
	}{
		{"plain", "ab", []Key{'a', 'b'}},
		{"arrows CSI", "\x1b[A\x1b[B\x1b[C\x1b[D", []Key{KeyUp, KeyDown, KeyRight, KeyLeft}},
		{"arrows SS3", "\x1bOA\x1bOB\x1bOC\x1bOD", []Key{KeyUp, KeyDown, KeyRight, KeyLeft}},
		{"home end xterm", "\x1b[H\x1b[F\x1bOH\x1bOF", []Key{KeyHome, KeyEnd, KeyHome, KeyEnd}},
		{"home end vt220", "\x1b[1~\x1b[4~\x1b[7~\x1b[8~", []Key{KeyHome, KeyEnd, KeyHome, KeyEnd}},
		{"delete insert pages", "\x1b[3~\x1b[2~\x1b[5~\x1b[6~", []Key{KeyDelete, KeyInsert, KeyPageUp, KeyPageDown}},
		{"modifiers", "\x1b[1;5C\x1b[3;2~", []Key{KeyRight, KeyDelete}},
		{"unknown CSI dropped", "\x1b[15~x\x1b[?25h", []Key{'x'}},
		{"backspace DEL and BS", "\x7f\x08", []Key{KeyBackspace, KeyBackspace}},
		{"CR LF is one Enter", "a\r\nb\rc\nd", []Key{'a', KeyEnter, 'b', KeyEnter, 'c', KeyEnter, 'd'}},
		{"CR NUL", "\r\x00x", []Key{KeyEnter, 'x'}},
		{"controls", "\x01\x03\x05\x0b\x15\x17\x09", []Key{KeyCtrlA, KeyCtrlC, KeyCtrlE, KeyCtrlK, KeyCtrlU, KeyCtrlW, KeyTab}},
		{"utf8", "é€😀", []Key{'é', '€', '😀'}},
		{"alt-x is Esc then x", "\x1bx", []Key{KeyEsc, 'x'}},
		{"invalid utf8 dropped", "a\xffb", []Key{'a', 'b'}},
	}
	for _, tc := range tests {
		var d Decoder
		got := d.Feed([]byte(tc.in))
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Feed(%q) = %v; want %v", tc.name, tc.in, got, tc.want)
		}
		if d.Pending() {
			t.Errorf("%s: Feed(%q) left bytes pending", tc.name, tc.in)
		}
	}
}

func TestDecoderSplitAndFlush(t *testing.T) {
	var d Decoder
	// A sequence split across reads completes on the next Feed.
	if got := d.Feed([]byte("\x1b")); len(got) != 0 || !d.Pending() {
		t.Fatalf("Feed(ESC) = %v, pending %v; want nothing, pending", got, d.Pending())
	}
	if got := d.Feed([]byte("[")); len(got) != 0 {
		t.Fatalf("Feed([) = %v; want nothing yet", got)
	}
	if got := d.Feed([]byte("D")); !reflect.DeepEqual(got, []Key{KeyLeft}) {
		t.Fatalf("Feed(D) = %v; want [Left]", got)
	}
	// A lone ESC becomes Esc on Flush.
	d.Feed([]byte("\x1b"))
	if got := d.Flush(); !reflect.DeepEqual(got, []Key{KeyEsc}) {
		t.Fatalf("Flush() after ESC = %v; want [Esc]", got)
	}
	// ESC [ with nothing after: Esc, then '[' as a character.
	d.Feed([]byte("\x1b["))
	if got := d.Flush(); !reflect.DeepEqual(got, []Key{KeyEsc, '['}) {
		t.Fatalf("Flush() after ESC [ = %v; want [Esc []", got)
	}
	// A UTF-8 character split across reads.
	e := []byte("€")
	if got := d.Feed(e[:1]); len(got) != 0 {
		t.Fatalf("Feed(first byte of €) = %v; want nothing", got)
	}
	if got := d.Feed(e[1:]); !reflect.DeepEqual(got, []Key{'€'}) {
		t.Fatalf("Feed(rest of €) = %v; want [€]", got)
	}
	// CR at the end of one read, LF at the start of the next.
	if got := append(d.Feed([]byte("a\r")), d.Feed([]byte("\nb"))...); !reflect.DeepEqual(got, []Key{'a', KeyEnter, 'b'}) {
		t.Fatalf("CR|LF split = %v; want [a Enter b]", got)
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add([]byte("\x1b[1;5C\x1bOAé\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Decoder
		keys := d.Feed(data)
		keys = append(keys, d.Flush()...)
		if d.Pending() {
			t.Fatalf("Flush left bytes pending for %q", data)
		}
		if len(keys) > len(data) {
			t.Fatalf("%d keys from %d bytes", len(keys), len(data))
		}
	})
}

// screen is a minimal terminal: printable characters overwrite at the
// cursor, '\b' moves left, '\n' starts a new line.
type screen struct {
	lines [][]rune
	row   int
	col   int
}

func render(out string) *screen {
	s := &screen{lines: [][]rune{nil}}
	for _, r := range out {
		switch r {
		case '\b':
			if s.col > 0 {
				s.col--
			}
		case '\n':
			s.lines = append(s.lines, nil)
			s.row++
			s.col = 0
		case '\r':
			s.col = 0
		default:
			l := s.lines[s.row]
			for len(l) <= s.col {
				l = append(l, ' ')
			}
			l[s.col] = r
			s.lines[s.row] = l
			s.col++
		}
	}
	return s
}

func (s *screen) text() []string {
	var out []string
	for _, l := range s.lines {
		out = append(out, strings.TrimRight(string(l), " "))
	}
	return out
}

// scripted is a Terminal fed from a byte string decoded as a serial
// terminal sends it.
type scripted struct {
	keys []Key
	out  bytes.Buffer
}

func newScripted(in string) *scripted {
	var d Decoder
	keys := d.Feed([]byte(in))
	keys = append(keys, d.Flush()...)
	return &scripted{keys: keys}
}

func (s *scripted) Write(p []byte) (int, error) { return s.out.Write(p) }

func (s *scripted) ReadKey(ctx context.Context) (Key, error) {
	if len(s.keys) == 0 {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	k := s.keys[0]
	s.keys = s.keys[1:]
	return k, nil
}

const (
	left  = "\x1b[D"
	right = "\x1b[C"
	up    = "\x1b[A"
	down  = "\x1b[B"
	home  = "\x1b[H"
	end   = "\x1b[F"
	del   = "\x1b[3~"
	bs    = "\x7f"
)

func TestEditorKeys(t *testing.T) {
	tests := []struct {
		name    string
		initial string
		in      string
		want    string
	}{
		{"typing", "", "echo hi\r", "echo hi"},
		{"insert in middle", "", "ehlo" + left + left + left + "c" + end + "!\r", "echlo!"},
		{"right moves", "", "abc" + home + right + "X\r", "aXbc"},
		{"backspace", "", "abcd" + bs + bs + "e\r", "abe"},
		{"backspace in middle", "", "abcd" + left + bs + "\r", "abd"},
		{"ctrl-h backspace", "", "ab\x08\r", "a"},
		{"delete", "", "abcd" + home + del + del + "\r", "cd"},
		{"ctrl-d deletes under cursor", "", "abc" + home + "\x04\r", "bc"},
		{"home and end", "", "bc" + home + "a" + end + "d\r", "abcd"},
		{"vt220 home end", "", "bc\x1b[1~a\x1b[4~d\r", "abcd"},
		{"ctrl-a ctrl-e", "", "bc\x01a\x05d\r", "abcd"},
		{"ctrl-k kills to end", "", "hello world" + home + right + right + "\x0b\r", "he"},
		{"ctrl-u kills to start", "", "hello world" + left + left + "\x15\r", "ld"},
		{"ctrl-w kills word", "", "chain http://x/y  \x17\r", "chain "},
		{"ctrl-w twice", "", "a b c\x17\x17\r", "a "},
		{"initial value", "old", bs + "d-new\r", "old-new"},
		{"left at start is harmless", "", left + left + "a" + bs + bs + "\r", ""},
		{"utf8", "", "é€" + left + "x\r", "éx€"},
		{"unknown keys ignored", "", "a\x1b[5~\x1b[2~b\r", "ab"},
	}
	for _, tc := range tests {
		term := newScripted(tc.in)
		var e Editor
		got, err := e.ReadLine(context.Background(), term, "snp-go> ", tc.initial)
		if err != nil || got != tc.want {
			t.Errorf("%s: ReadLine(%q) = %q, %v; want %q", tc.name, tc.in, got, err, tc.want)
			continue
		}
		// What the terminal shows must be what was returned.
		scr := render(term.out.String()).text()
		if want := strings.TrimRight("snp-go> "+tc.want, " "); scr[0] != want {
			t.Errorf("%s: screen shows %q; want %q", tc.name, scr[0], "snp-go> "+tc.want)
		}
	}
}

func TestEditorScreenCursor(t *testing.T) {
	// After editing in the middle, the terminal cursor sits where the
	// editor's cursor is: typing continues at the right place on screen.
	term := newScripted("abcdef" + left + left + bs + bs)
	var e Editor
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := e.ReadLine(ctx, term, "> ", ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadLine without Enter = %v; want deadline exceeded", err)
	}
	scr := render(strings.TrimSuffix(term.out.String(), "\n"))
	if got := scr.text()[0]; got != "> abef" {
		t.Errorf("screen = %q; want %q", got, "> abef")
	}
	if scr.col != len("> ab") {
		t.Errorf("screen cursor at column %d; want %d", scr.col, len("> ab"))
	}
}

func TestEditorHistory(t *testing.T) {
	h := &History{}
	for _, l := range []string{"first", "second", "second", "", "third"} {
		h.Add(l)
	}
	if got, want := h.Lines(), []string{"first", "second", "third"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("History = %q; want %q", got, want)
	}
	tests := []struct {
		in, want string
	}{
		{up + "\r", "third"},
		{up + up + up + "\r", "first"},
		{up + up + up + up + up + "\r", "first"},
		{up + up + down + "\r", "third"},
		{"draft" + up + down + "\r", "draft"},
		{up + "!" + "\r", "third!"},
		{"\x10\x10\x0e\r", "third"}, // Ctrl-P Ctrl-P Ctrl-N
	}
	for _, tc := range tests {
		hist := &History{}
		for _, l := range h.Lines() {
			hist.Add(l)
		}
		term := newScripted(tc.in)
		e := Editor{History: hist}
		got, err := e.ReadLine(context.Background(), term, "$ ", "")
		if err != nil || got != tc.want {
			t.Errorf("ReadLine(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if scr := render(term.out.String()).text(); scr[0] != "$ "+tc.want {
			t.Errorf("ReadLine(%q) screen %q; want %q", tc.in, scr[0], "$ "+tc.want)
		}
		if l := hist.Lines(); l[len(l)-1] != tc.want {
			t.Errorf("ReadLine(%q): history ends with %q; want %q", tc.in, l[len(l)-1], tc.want)
		}
	}
	max := &History{Max: 2}
	max.Add("a")
	max.Add("b")
	max.Add("c")
	if got := max.Lines(); !reflect.DeepEqual(got, []string{"b", "c"}) {
		t.Errorf("History{Max:2} after a,b,c = %q; want [b c]", got)
	}
}

func TestEditorCompletion(t *testing.T) {
	words := []string{"chain", "choose", "clear", "echo", "imgfetch", "imgfree"}
	complete := func(line string, pos int) (int, []string) {
		start := strings.LastIndexByte(line[:pos], ' ') + 1
		var out []string
		for _, w := range words {
			if strings.HasPrefix(w, line[start:pos]) {
				out = append(out, w)
			}
		}
		return start, out
	}
	tests := []struct {
		name, in, want string
		list           bool
	}{
		{"unique", "ec\t\r", "echo ", false},
		{"common prefix", "im\t\r", "imgf", false},
		{"common prefix then unique", "im\tet\t\r", "imgfetch ", false},
		{"ambiguous lists", "ch\t\r", "ch", true},
		{"no match", "zz\t\r", "zz", false},
		{"second word", "echo cl\t\r", "echo clear ", false},
		{"in the middle", "ec x" + left + left + "\t\r", "echo  x", false},
	}
	for _, tc := range tests {
		term := newScripted(tc.in)
		e := Editor{Complete: complete}
		got, err := e.ReadLine(context.Background(), term, "> ", "")
		if err != nil || got != tc.want {
			t.Errorf("%s: ReadLine(%q) = %q, %v; want %q", tc.name, tc.in, got, err, tc.want)
			continue
		}
		scr := render(term.out.String()).text()
		listed := strings.Contains(term.out.String(), "chain  choose")
		if listed != tc.list {
			t.Errorf("%s: candidates listed = %v; want %v (screen %q)", tc.name, listed, tc.list, scr)
		}
		if last := scr[len(scr)-2]; last != strings.TrimRight("> "+tc.want, " ") {
			t.Errorf("%s: last screen line %q; want %q", tc.name, last, "> "+tc.want)
		}
	}
}

func TestEditorInterruptAndMask(t *testing.T) {
	term := newScripted("abc\x03")
	var e Editor
	if got, err := e.ReadLine(context.Background(), term, "> ", ""); !errors.Is(err, ErrInterrupted) {
		t.Errorf("ReadLine(abc Ctrl-C) = %q, %v; want ErrInterrupted", got, err)
	}
	term = newScripted("s3cret" + bs + "T\r")
	h := &History{}
	m := Editor{Mask: true, History: h}
	got, err := m.ReadLine(context.Background(), term, "Password: ", "")
	if err != nil || got != "s3creT" {
		t.Errorf("masked ReadLine = %q, %v; want s3creT", got, err)
	}
	if strings.Contains(term.out.String(), "s3cre") {
		t.Errorf("masked ReadLine echoed the secret: %q", term.out.String())
	}
	if scr := render(term.out.String()).text(); scr[0] != "Password: ******" {
		t.Errorf("masked screen = %q; want %q", scr[0], "Password: ******")
	}
	if len(h.Lines()) != 0 {
		t.Errorf("masked ReadLine added %q to history", h.Lines())
	}
}

func TestConsoleInterruptsAndTypeahead(t *testing.T) {
	c := NewConsole(io.Discard)
	// Ctrl-C with no reader waiting is an interrupt, and discards typeahead.
	c.Put('x')
	c.Put(KeyCtrlC)
	select {
	case <-c.Interrupts():
	default:
		t.Fatal("Ctrl-C with no reader did not deliver an interrupt")
	}
	// Typeahead is kept in order for the next reader.
	c.Put('a')
	c.Put('b')
	ctx := context.Background()
	for _, want := range []Key{'a', 'b'} {
		if k, err := c.ReadKey(ctx); err != nil || k != want {
			t.Fatalf("ReadKey() = %v, %v; want %v", k, err, want)
		}
	}
	// Ctrl-C while a reader waits goes to the reader, not to Interrupts.
	got := make(chan Key)
	go func() {
		k, _ := c.ReadKey(ctx)
		got <- k
	}()
	deadline := time.Now().Add(2 * time.Second)
	for {
		c.mu.Lock()
		w := c.waiting
		c.mu.Unlock()
		if w > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	c.Put(KeyCtrlC)
	if k := <-got; k != KeyCtrlC {
		t.Fatalf("waiting reader got %v; want Ctrl-C", k)
	}
	select {
	case <-c.Interrupts():
		t.Fatal("Ctrl-C taken by a reader was also delivered as an interrupt")
	default:
	}
	tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := c.ReadKey(tctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadKey with nothing typed = %v; want deadline exceeded", err)
	}
}

func TestConsolePumpFromEscTimeout(t *testing.T) {
	c := NewConsole(io.Discard)
	pr, pw := io.Pipe()
	done := make(chan error)
	go func() { done <- c.PumpFrom(pr) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A lone ESC is reported after EscTimeout, even though the stream stays open.
	pw.Write([]byte("\x1b"))
	if k, err := c.ReadKey(ctx); err != nil || k != KeyEsc {
		t.Fatalf("ReadKey after lone ESC = %v, %v; want Esc", k, err)
	}
	pw.Write([]byte("\x1b[A"))
	if k, err := c.ReadKey(ctx); err != nil || k != KeyUp {
		t.Fatalf("ReadKey after ESC [ A = %v, %v; want Up", k, err)
	}
	pw.Write([]byte("z"))
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("PumpFrom at EOF = %v; want nil", err)
	}
	// Keys typed before the end are still read, then io.EOF.
	if k, err := c.ReadKey(ctx); err != nil || k != 'z' {
		t.Fatalf("ReadKey after EOF with a key queued = %v, %v; want z", k, err)
	}
	if _, err := c.ReadKey(ctx); err != io.EOF {
		t.Fatalf("ReadKey after the stream ended = %v; want io.EOF", err)
	}
}

func TestEditorReadField(t *testing.T) {
	exits := func(k Key) bool { return k == KeyUp || k == KeyDown || k == Ctrl('x') || k == KeyEsc }
	tests := []struct {
		name, initial, in string
		want              string
		wantKey           Key
	}{
		{"enter", "old", "er\r", "older", KeyEnter},
		{"up leaves with the edited text", "abc", bs + "X" + up, "abX", KeyUp},
		{"down", "", "v" + down, "v", KeyDown},
		{"ctrl-x", "a", home + "b\x18", "ba", Ctrl('x')},
		{"escape", "a", "b\x1b", "ab", KeyEsc},
	}
	for _, tc := range tests {
		term := newScripted(tc.in)
		var e Editor
		got, k, err := e.ReadField(context.Background(), term, "f: ", tc.initial, exits)
		if err != nil || got != tc.want || k != tc.wantKey {
			t.Errorf("%s: ReadField(%q, %q) = %q, %v, %v; want %q, %v", tc.name, tc.initial, tc.in, got, k, err, tc.want, tc.wantKey)
		}
		if scr := render(term.out.String()).text(); scr[0] != "f: "+tc.want {
			t.Errorf("%s: screen shows %q; want %q", tc.name, scr[0], "f: "+tc.want)
		}
		if tc.wantKey != KeyEnter && strings.Contains(term.out.String(), "\n") {
			t.Errorf("%s: an exit key wrote a newline: %q", tc.name, term.out.String())
		}
	}
	// Without exit keys, Up is history (none here) and the field goes on.
	term := newScripted("a" + up + "b\r")
	var e Editor
	if got, k, err := e.ReadField(context.Background(), term, "", "", nil); got != "ab" || k != KeyEnter || err != nil {
		t.Errorf("ReadField(nil exits) = %q, %v, %v; want ab, Enter", got, k, err)
	}
}
