package ipstack

import (
	"errors"
	"io"
	stdnet "net"
	"os"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/waiter"
)

// tcpReader is TCPConn's receive side. gonet's Read registers a new waiter
// entry and channel (allocations, two waiter-queue locks) each time it has
// to block and then selects on the entry and its deadline; a bulk reader
// (iSCSI Data-In, HTTPS) blocks about once per poll round, so that was a
// measurable share of a received frame's cost under QEMU TCG. Here one
// entry, registered for the connection's life, signals a one-slot channel,
// and a Read without a deadline waits on that channel alone.
type tcpReader struct {
	ep tcpip.Endpoint
	wq *waiter.Queue

	mu    sync.Mutex // serialises Read
	w     tcpip.SliceWriter
	entry waiter.Entry
	ready chan struct{} // one token: readable, or the deadline changed

	dl readDeadline
}

func newTCPReader(ep tcpip.Endpoint, wq *waiter.Queue) *tcpReader {
	r := &tcpReader{ep: ep, wq: wq, ready: make(chan struct{}, 1)}
	r.entry.Init(r, waiter.ReadableEvents|waiter.EventHUp|waiter.EventErr)
	wq.EventRegister(&r.entry)
	return r
}

// NotifyEvent implements waiter.EventListener.
func (r *tcpReader) NotifyEvent(waiter.EventMask) { r.poke() }

func (r *tcpReader) poke() {
	select {
	case r.ready <- struct{}{}:
	default:
	}
}

// close stops the notifications and wakes a blocked Read to find the
// endpoint closed.
func (r *tcpReader) close() {
	r.wq.EventUnregister(&r.entry)
	r.poke()
}

// read is net.Conn's Read: it returns what is queued, or waits for data,
// the end of the stream or the read deadline.
func (r *tcpReader) read(b []byte, c stdnet.Conn) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	opErr := func(err error) error {
		return &stdnet.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	for {
		done := r.dl.channel()
		if done != nil {
			select {
			case <-done:
				return 0, opErr(os.ErrDeadlineExceeded)
			default:
			}
		}
		r.w = b
		res, err := r.ep.Read(&r.w, tcpip.ReadOptions{})
		r.w = nil
		switch err.(type) {
		case nil:
			if res.Count != 0 {
				r.ep.ModerateRecvBuf(res.Count)
			}
			return res.Count, nil
		case *tcpip.ErrWouldBlock:
		case *tcpip.ErrClosedForReceive:
			return 0, io.EOF
		default:
			return 0, opErr(errors.New(err.String()))
		}
		if done != nil {
			select {
			case <-r.ready:
			case <-done:
			}
		} else {
			<-r.ready
		}
	}
}

// setDeadline sets the read deadline (net.Conn.SetReadDeadline) and wakes
// a waiting Read to look at it.
func (r *tcpReader) setDeadline(t time.Time) {
	r.dl.set(t)
	r.poke()
}

// readDeadline is a read deadline: done is closed when it passes.
type readDeadline struct {
	mu    sync.Mutex
	timer *time.Timer
	done  chan struct{} // nil: no deadline
}

func (d *readDeadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	d.done = nil
	if t.IsZero() { // "A zero value for t means I/O operations will not time out."
		return
	}
	done := make(chan struct{})
	d.done = done
	if wait := time.Until(t); wait > 0 {
		d.timer = time.AfterFunc(wait, func() { close(done) })
	} else {
		close(done)
	}
}

// channel returns the channel closed at the deadline, nil without one.
func (d *readDeadline) channel() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.done
}
