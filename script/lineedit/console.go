package lineedit

import (
	"context"
	"io"
	"sync"
	"time"
)

// maxTypeahead bounds the keys buffered while nobody reads; older keys
// are dropped first.
const maxTypeahead = 256

// Console joins a key source to readers. Keys arrive through Put (from
// the firmware's input poller, or from PumpFrom for a byte stream); they
// are handed to ReadKey callers in order. A Ctrl-C that arrives while no
// ReadKey is waiting is not queued: it is delivered on Interrupts, so the
// engine can cancel the command that is running.
//
// Output goes to the io.Writer given to NewConsole.
type Console struct {
	w io.Writer

	mu      sync.Mutex
	queue   []Key
	waiting int
	ended   bool // the key source has ended: ReadKey returns io.EOF once the queue is empty
	notify  chan struct{}
	intr    chan struct{}
}

// NewConsole returns a console writing to w.
func NewConsole(w io.Writer) *Console {
	return &Console{w: w, notify: make(chan struct{}, 1), intr: make(chan struct{}, 1)}
}

// Write writes to the console output.
func (c *Console) Write(p []byte) (int, error) { return c.w.Write(p) }

// Put delivers one key press. It never blocks.
func (c *Console) Put(k Key) {
	c.mu.Lock()
	if k == KeyCtrlC && c.waiting == 0 {
		c.queue = c.queue[:0] // an interrupt discards typeahead
		c.mu.Unlock()
		c.Interrupt()
		return
	}
	if len(c.queue) >= maxTypeahead {
		c.queue = c.queue[1:]
	}
	c.queue = append(c.queue, k)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// ReadKey waits for the next key until ctx is done.
func (c *Console) ReadKey(ctx context.Context) (Key, error) {
	c.mu.Lock()
	c.waiting++
	defer func() {
		c.mu.Lock()
		c.waiting--
		c.mu.Unlock()
	}()
	for {
		if len(c.queue) > 0 {
			k := c.queue[0]
			c.queue = c.queue[1:]
			c.mu.Unlock()
			return k, nil
		}
		if c.ended {
			c.mu.Unlock()
			return 0, io.EOF
		}
		c.mu.Unlock()
		select {
		case <-c.notify:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		c.mu.Lock()
	}
}

// CloseInput marks the key source as ended: once the queued keys are
// read, ReadKey returns io.EOF instead of waiting.
func (c *Console) CloseInput() {
	c.mu.Lock()
	c.ended = true
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// Interrupts delivers Ctrl-C presses made while no ReadKey was waiting.
// At most one is buffered.
func (c *Console) Interrupts() <-chan struct{} { return c.intr }

// Interrupt raises an interrupt as a Ctrl-C pressed while no ReadKey
// waits does, without touching the typeahead. The engine uses it to give
// back an interrupt it took for a command that had already finished.
func (c *Console) Interrupt() {
	select {
	case c.intr <- struct{}{}:
	default:
	}
}

// DrainInterrupts discards a buffered interrupt (one pressed before the
// command that should be interrupted started).
func (c *Console) DrainInterrupts() {
	select {
	case <-c.intr:
	default:
	}
}

// EscTimeout is how long PumpFrom waits for the rest of an escape
// sequence before reporting a lone Esc.
const EscTimeout = 50 * time.Millisecond

// PumpFrom decodes the byte stream r (a serial line, a terminal, a test)
// into keys and Puts them until r fails or ends; it returns that error
// (nil for io.EOF). Run it in its own goroutine.
func (c *Console) PumpFrom(r io.Reader) error {
	chunks := make(chan []byte)
	errc := make(chan error, 1)
	go func() {
		for {
			buf := make([]byte, 256)
			n, err := r.Read(buf)
			if n > 0 {
				chunks <- buf[:n]
			}
			if err != nil {
				errc <- err
				close(chunks)
				return
			}
		}
	}()
	var d Decoder
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case p, ok := <-chunks:
			if !ok {
				for _, k := range d.Flush() {
					c.Put(k)
				}
				c.CloseInput()
				err := <-errc
				if err == io.EOF {
					err = nil
				}
				return err
			}
			for _, k := range d.Feed(p) {
				c.Put(k)
			}
			timer.Stop()
			if d.Pending() {
				timer.Reset(EscTimeout)
			}
		case <-timer.C:
			for _, k := range d.Flush() {
				c.Put(k)
			}
		}
	}
}
