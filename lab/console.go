package lab

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Match is one pattern found on the serial console.
type Match struct {
	Text   string    // the matched text
	Groups []string  // submatches of a regexp pattern (Groups[0] == Text)
	Before string    // unread output before the match (now consumed too)
	At     time.Time // when the last byte of the match arrived from QEMU
}

// Console is the serial console of a running QEMU: a reader keeps a rolling
// window of not-yet-consumed output with arrival times, Expect consumes it up
// to each match, Send types. All methods are safe for concurrent use.
type Console struct {
	started time.Time
	in      io.Writer
	inMu    sync.Mutex
	pace    time.Duration

	mu      sync.Mutex
	buf     []byte        // output not yet consumed by Expect
	marks   []arrival     // arrival times of the bytes in buf
	tail    []byte        // last tailSize bytes of all output, for failure dumps
	changed chan struct{} // closed and replaced whenever buf or eof changes
	eof     error         // why the output stream ended (nil while open)
	exitMsg func() string // describes the process end for error messages

	log io.Writer // full transcript; may be nil
}

// arrival records that buf[:end] had arrived by time at.
type arrival struct {
	end int
	at  time.Time
}

const (
	// maxWindow bounds unread output; older bytes are dropped when a test
	// does not Expect for a long time (a match cannot span the cut).
	maxWindow = 1 << 20
	tailSize  = 8 << 10
	// cursorQuery is what U-Boot's EFI console prints at each bootefi to
	// learn the terminal size (ECMA-48 DSR 6); with no reply it waits about
	// 100 ms and assumes 80×25.
	cursorQuery = "\x1b[6n"
	// cursorReply is the answer a 25-row, 80-column terminal gives (CPR).
	cursorReply = "\x1b[25;80R"
)

// newConsole starts reading out. Bytes from out are written to log as they
// arrive. If answerCPR, cursor position queries are answered on in.
func newConsole(out io.Reader, in io.Writer, log io.Writer, answerCPR bool) *Console {
	c := &Console{started: time.Now(), in: in, log: log, changed: make(chan struct{})}
	go c.read(out, answerCPR)
	return c
}

// Started returns when QEMU was started.
func (c *Console) Started() time.Time { return c.started }

func (c *Console) read(out io.Reader, answerCPR bool) {
	b := make([]byte, 32<<10)
	var carry []byte // end of the previous chunk, to find a query split across reads
	for {
		n, err := out.Read(b)
		if n > 0 {
			now := time.Now()
			chunk := b[:n]
			if c.log != nil {
				c.log.Write(chunk)
			}
			if answerCPR {
				scan := append(carry, chunk...)
				for k := bytes.Count(scan, []byte(cursorQuery)); k > 0; k-- {
					c.write([]byte(cursorReply))
				}
				// Keep fewer bytes than a whole query: none is counted twice.
				carry = append(carry[:0], scan[max(0, len(scan)-len(cursorQuery)+1):]...)
			}
			c.mu.Lock()
			c.buf = append(c.buf, chunk...)
			c.marks = append(c.marks, arrival{end: len(c.buf), at: now})
			if over := len(c.buf) - maxWindow; over > 0 {
				c.consume(over)
			}
			c.tail = append(c.tail, chunk...)
			if over := len(c.tail) - tailSize; over > 0 {
				c.tail = append(c.tail[:0], c.tail[over:]...)
			}
			c.notify()
			c.mu.Unlock()
		}
		if err != nil {
			if err == io.EOF {
				err = errors.New("console closed")
			}
			c.mu.Lock()
			c.eof = err
			c.notify()
			c.mu.Unlock()
			return
		}
	}
}

// notify wakes waiters; c.mu must be held.
func (c *Console) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// consume drops the first n bytes of buf; c.mu must be held.
func (c *Console) consume(n int) {
	c.buf = append(c.buf[:0], c.buf[n:]...)
	k := 0
	for _, m := range c.marks {
		if m.end -= n; m.end > 0 {
			c.marks[k] = m
			k++
		}
	}
	c.marks = c.marks[:k]
}

// arrivedAt returns when buf[i] arrived; c.mu must be held.
func (c *Console) arrivedAt(i int) time.Time {
	for _, m := range c.marks {
		if i < m.end {
			return m.at
		}
	}
	return time.Now()
}

// compile turns a pattern (string: literal text; *regexp.Regexp) into a regexp.
func compile(p any) (*regexp.Regexp, error) {
	switch p := p.(type) {
	case string:
		if p == "" {
			return nil, errors.New("lab: empty Expect pattern")
		}
		return regexp.MustCompile(regexp.QuoteMeta(p)), nil
	case *regexp.Regexp:
		return p, nil
	default:
		return nil, fmt.Errorf("lab: Expect pattern %T: want a string or *regexp.Regexp", p)
	}
}

// Expect waits up to timeout for pattern — literal text (string) or a
// *regexp.Regexp — in the unread output and consumes the output up to the
// end of the match. A regexp that ends in a greedy or open-ended part can
// match text still arriving; end it with a delimiter such as `\r\n`.
func (c *Console) Expect(pattern any, timeout time.Duration) (Match, error) {
	_, m, err := c.ExpectAny(timeout, pattern)
	return m, err
}

// ExpectAny waits up to timeout for the earliest match of any pattern and
// returns the index of the pattern that matched (ties go to the first).
func (c *Console) ExpectAny(timeout time.Duration, patterns ...any) (int, Match, error) {
	res := make([]*regexp.Regexp, len(patterns))
	for i, p := range patterns {
		re, err := compile(p)
		if err != nil {
			return -1, Match{}, err
		}
		res[i] = re
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		best, bestLoc := -1, []int(nil)
		for i, re := range res {
			if loc := re.FindSubmatchIndex(c.buf); loc != nil && (best < 0 || loc[0] < bestLoc[0]) {
				best, bestLoc = i, loc
			}
		}
		if best >= 0 {
			m := Match{
				Text:   string(c.buf[bestLoc[0]:bestLoc[1]]),
				Before: string(c.buf[:bestLoc[0]]),
				At:     c.arrivedAt(max(bestLoc[1]-1, 0)),
			}
			for g := 0; g+1 < len(bestLoc); g += 2 {
				if bestLoc[g] < 0 {
					m.Groups = append(m.Groups, "")
					continue
				}
				m.Groups = append(m.Groups, string(c.buf[bestLoc[g]:bestLoc[g+1]]))
			}
			c.consume(bestLoc[1])
			c.mu.Unlock()
			return best, m, nil
		}
		eof, changed := c.eof, c.changed
		c.mu.Unlock()
		if eof != nil {
			return -1, Match{}, c.waitErr(res, timeout, fmt.Errorf("output ended: %v%s", eof, c.exitNote()))
		}
		select {
		case <-changed:
		case <-deadline.C:
			return -1, Match{}, c.waitErr(res, timeout, errors.New("timed out"))
		}
	}
}

func (c *Console) exitNote() string {
	if c.exitMsg == nil {
		return ""
	}
	return "; " + c.exitMsg()
}

func (c *Console) waitErr(res []*regexp.Regexp, timeout time.Duration, why error) error {
	var ps []string
	for _, re := range res {
		ps = append(ps, fmt.Sprintf("%q", re.String()))
	}
	return fmt.Errorf("lab: waiting %v for %s on the serial console: %w; unread output ends with:\n%s",
		timeout, strings.Join(ps, " or "), why, printable(c.unreadTail(1024)))
}

func (c *Console) unreadTail(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.buf[max(0, len(c.buf)-n):])
}

// Tail returns up to the last 8 KiB the console printed, consumed or not.
func (c *Console) Tail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.tail)
}

// printable makes console output safe to print in a test log: no carriage
// returns, escape characters shown as ^[.
func printable(s string) string {
	return strings.NewReplacer("\r", "", "\x1b", "^[", "\b", "^H").Replace(s)
}

// Send types s on the serial console. QEMU's PL011 stops reading its input
// while the receive FIFO is full, so a burst is not dropped — except that
// U-Boot empties its input when bootefi starts (the EFI console setup), so
// do not type ahead across a bootefi.
func (c *Console) Send(s string) error {
	if c.pace <= 0 {
		return c.write([]byte(s))
	}
	for i := 0; i < len(s); i++ {
		if err := c.write([]byte{s[i]}); err != nil {
			return err
		}
		time.Sleep(c.pace)
	}
	return nil
}

func (c *Console) write(b []byte) error {
	c.inMu.Lock()
	defer c.inMu.Unlock()
	if _, err := c.in.Write(b); err != nil {
		return fmt.Errorf("lab: typing on the serial console: %w%s", err, c.exitNote())
	}
	return nil
}

// waitEOF waits up to d for the output stream to end.
func (c *Console) waitEOF(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		c.mu.Lock()
		eof, changed := c.eof, c.changed
		c.mu.Unlock()
		if eof != nil {
			return
		}
		select {
		case <-changed:
		case <-t.C:
			return
		}
	}
}
