package lab

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/snp-go/snp-go/internal/syncbuf"
)

// fakeSerial is a Console over pipes: the test writes what the "firmware"
// prints and reads what the console typed.
type fakeSerial struct {
	out   *io.PipeWriter  // firmware output
	typed *syncbuf.Buffer // what Send wrote
	log   *syncbuf.Buffer
	c     *Console
}

func newFake(t *testing.T, answerCPR bool) *fakeSerial {
	r, w := io.Pipe()
	f := &fakeSerial{out: w, typed: &syncbuf.Buffer{}, log: &syncbuf.Buffer{}}
	f.c = newConsole(r, f.typed, f.log, answerCPR)
	t.Cleanup(func() { w.Close() })
	return f
}

func (f *fakeSerial) print(t *testing.T, s string) {
	t.Helper()
	if _, err := f.out.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func TestExpectAcrossChunks(t *testing.T) {
	f := newFake(t, false)
	go func() {
		for _, s := range []string{"U-Bo", "ot 2023", ".01 (Jun)\r\n", "Hit any", " key to stop autoboot:  2 "} {
			f.out.Write([]byte(s))
			time.Sleep(5 * time.Millisecond)
		}
	}()
	m, err := f.c.Expect(regexp.MustCompile(`U-Boot (\S+) `), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m.Text != "U-Boot 2023.01 " || len(m.Groups) != 2 || m.Groups[1] != "2023.01" {
		t.Errorf("Expect(U-Boot (\\S+) ) = %q groups %q; want %q groups [.. 2023.01]", m.Text, m.Groups, "U-Boot 2023.01 ")
	}
	m2, err := f.c.Expect(AutobootPrompt, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if want := "(Jun)\r\n"; m2.Before != want {
		t.Errorf("Before = %q; want %q (output after the previous match)", m2.Before, want)
	}
	if !m2.At.After(m.At) {
		t.Errorf("second match At %v not after first %v", m2.At, m.At)
	}
	// The log is written before the window grows, so it holds all of it.
	if got, want := f.log.String(), "U-Boot 2023.01 (Jun)\r\nHit any key to stop autoboot:  2 "; got != want {
		t.Errorf("transcript = %q; want %q", got, want)
	}
}

func TestMatchAtIsArrivalTime(t *testing.T) {
	f := newFake(t, false)
	f.print(t, "banner snp-go\r\n")
	printed := time.Now()
	time.Sleep(150 * time.Millisecond) // expect late: At must not move
	m, err := f.c.Expect("snp-go", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if d := m.At.Sub(printed); d > 50*time.Millisecond || d < -50*time.Millisecond {
		t.Errorf("Match.At is %v from the time the text was printed; want within 50ms", d)
	}
}

func TestExpectTimeoutNamesPatternAndOutput(t *testing.T) {
	f := newFake(t, false)
	f.print(t, "Booting /snp-go.efi\r\n")
	start := time.Now()
	_, err := f.c.Expect("never printed", 100*time.Millisecond)
	if err == nil {
		t.Fatal("Expect(absent text) = nil error; want a timeout")
	}
	if el := time.Since(start); el < 100*time.Millisecond || el > time.Second {
		t.Errorf("Expect timed out after %v; want about 100ms", el)
	}
	for _, want := range []string{"never printed", "timed out", "Booting /snp-go.efi"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("timeout error %q does not mention %q", err, want)
		}
	}
}

func TestExpectEOF(t *testing.T) {
	f := newFake(t, false)
	f.print(t, "last words")
	f.out.Close()
	_, err := f.c.Expect("=> ", 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "output ended") || !strings.Contains(err.Error(), "last words") {
		t.Errorf("Expect after EOF = %v; want an 'output ended' error showing the last output", err)
	}
}

func TestExpectAnyEarliest(t *testing.T) {
	f := newFake(t, false)
	f.print(t, "** Unable to read file x **\r\n1311 bytes read in 2 ms\r\n")
	i, m, err := f.c.ExpectAny(time.Second, loadedRE, loadFailedRE)
	if err != nil {
		t.Fatal(err)
	}
	if i != 1 || !strings.HasPrefix(m.Text, "** Unable") {
		t.Errorf("ExpectAny = %d %q; want 1 (the earlier failure)", i, m.Text)
	}
}

func TestRollingWindow(t *testing.T) {
	f := newFake(t, false)
	go func() {
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for i := 0; i < 2*maxWindow/len(chunk); i++ {
			f.out.Write(chunk)
		}
		f.out.Write([]byte("END"))
	}()
	if _, err := f.c.Expect("END", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if len(f.c.buf) != 0 || len(f.c.marks) != 0 {
		t.Errorf("after consuming everything: %d bytes, %d marks left; want 0, 0", len(f.c.buf), len(f.c.marks))
	}
	if len(f.c.tail) != tailSize {
		t.Errorf("tail holds %d bytes; want %d", len(f.c.tail), tailSize)
	}
}

func TestCursorQueryAnswered(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer bool
		chunks []string
		want   string
	}{
		{"whole", true, []string{"\x1b7\x1b[r\x1b[999;999H\x1b[6n\x1b8"}, cursorReply},
		{"split", true, []string{"\x1b[999;999H\x1b[", "6n\x1b8"}, cursorReply},
		{"two", true, []string{"\x1b[6n", "x\x1b[6n"}, cursorReply + cursorReply},
		{"off", false, []string{"\x1b[6n"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.answer)
			for _, s := range tc.chunks {
				f.print(t, s)
			}
			f.print(t, "done")
			if _, err := f.c.Expect("done", time.Second); err != nil {
				t.Fatal(err)
			}
			if got := f.typed.String(); got != tc.want {
				t.Errorf("typed after %q = %q; want %q", tc.chunks, got, tc.want)
			}
		})
	}
}

func TestRunParsesOutput(t *testing.T) {
	for _, tc := range []struct {
		name, cmd, printed, want string
	}{
		{"output", "version", "version\r\nU-Boot 2023.01\r\n\r\ngcc\r\n=> ", "U-Boot 2023.01\n\ngcc\n"},
		{"silent", "setenv a b", "setenv a b\r\n=> ", ""},
		{"prompt-like text", "echo a=> b", "echo a=> b\r\na=> b\r\n=> ", "a=> b\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, false)
			go f.out.Write([]byte(tc.printed))
			got, err := f.c.Run(tc.cmd, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Run(%q) over %q = %q; want %q", tc.cmd, tc.printed, got, tc.want)
			}
			if typed := f.typed.String(); typed != tc.cmd+"\r" {
				t.Errorf("Run(%q) typed %q; want %q", tc.cmd, typed, tc.cmd+"\r")
			}
		})
	}
}

func TestRunRejectsBadLines(t *testing.T) {
	f := newFake(t, false)
	for _, cmd := range []string{"ls\tvirtio", "echo a\rreset", strings.Repeat("x", maxCommandLine+1)} {
		if _, err := f.c.Run(cmd, time.Second); err == nil {
			t.Errorf("Run(%.20q…) = nil error; want a rejection", cmd)
		}
	}
	if typed := f.typed.String(); typed != "" {
		t.Errorf("rejected commands typed %q; want nothing", typed)
	}
}

func TestSendPaced(t *testing.T) {
	f := newFake(t, false)
	f.c.pace = 5 * time.Millisecond
	start := time.Now()
	if err := f.c.Send("abcdefghij"); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Errorf("Send of 10 characters paced 5ms took %v; want >= 50ms", el)
	}
	if got := f.typed.String(); got != "abcdefghij" {
		t.Errorf("typed %q; want %q", got, "abcdefghij")
	}
}
