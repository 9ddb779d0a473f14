package ipstack

import (
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// budget shares one receive-buffer budget among all open TCP endpoints, so
// that the windows they advertise together stay below what U-Boot's 32-frame
// receive ring absorbs (see Options.ReceiveBudget).
type budget struct {
	total, max, min int

	mu  sync.Mutex
	eps map[tcpip.Endpoint]struct{}
}

// share is the receive buffer each of n connections gets.
func (b *budget) share(n int) int {
	if n < 1 {
		n = 1
	}
	s := b.total / n
	if s > b.max {
		s = b.max
	}
	if s < b.min {
		s = b.min
	}
	return s
}

// add counts ep and resizes every endpoint's receive buffer. Call it before
// Connect/Listen so the window scale in the SYN matches (RFC 7323 2.2).
func (b *budget) add(ep tcpip.Endpoint) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.eps[ep] = struct{}{}
	b.applyLocked()
}

// remove forgets ep and lets the others grow back.
func (b *budget) remove(ep tcpip.Endpoint) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.eps[ep]; !ok {
		return
	}
	delete(b.eps, ep)
	b.applyLocked()
}

func (b *budget) applyLocked() {
	s := int64(b.share(len(b.eps)))
	for ep := range b.eps {
		if ep.SocketOptions().GetReceiveBufferSize() != s {
			ep.SocketOptions().SetReceiveBufferSize(s, true)
		}
	}
}

// count returns the number of endpoints sharing the budget.
func (b *budget) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.eps)
}
