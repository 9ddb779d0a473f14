package ipstack

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// PingOptions control Stack.Ping. The zero value sends 4 requests, 1 s
// apart, waiting 1 s for each reply, with 56 bytes of payload.
type PingOptions struct {
	Count    int           // echo requests to send; 0 means 4, <0 means until ctx is done
	Interval time.Duration // between requests (default 1 s)
	Timeout  time.Duration // wait for each reply (default 1 s)
	Size     int           // payload bytes (default 56, max 1472)
	// OnReply and OnTimeout, if set, are called as replies arrive or
	// requests time out (for console output).
	OnReply   func(PingReply)
	OnTimeout func(seq int)
}

// PingReply is one echo reply.
type PingReply struct {
	From netip.Addr
	Seq  int
	Size int // ICMP payload bytes
	RTT  time.Duration
}

// PingStats summarise a ping run.
type PingStats struct {
	Sent, Received int
	Min, Avg, Max  time.Duration
}

// Ping sends ICMP echo requests (RFC 792) to dst and reports round-trip
// times. It returns an error when no reply arrived at all or the request
// could not be sent; ctx cancellation (Ctrl-C) ends the run early and is not
// an error once a reply was seen.
func (s *Stack) Ping(ctx context.Context, dst netip.Addr, o PingOptions) (PingStats, error) {
	var st PingStats
	if o.Count == 0 {
		o.Count = 4
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.Size <= 0 {
		o.Size = 56
	}
	if o.Size > 1472 {
		o.Size = 1472
	}
	if !dst.Is4() {
		return st, fmt.Errorf("ping %v: only IPv4 is supported", dst)
	}
	var wq waiter.Queue
	ep, terr := s.s.NewEndpoint(icmp.ProtocolNumber4, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		return st, fmt.Errorf("ping %v: opening ICMP endpoint: %s", dst, terr)
	}
	defer ep.Close()
	we, readable := waiter.NewChannelEntry(waiter.ReadableEvents)
	wq.EventRegister(&we)
	defer wq.EventUnregister(&we)

	to := tcpip.FullAddress{Addr: tcpip.AddrFrom4(dst.As4())}
	var total time.Duration
	var lastErr error
	for seq := 1; o.Count < 0 || seq <= o.Count; seq++ {
		if ctx.Err() != nil {
			break
		}
		msg := make([]byte, header.ICMPv4MinimumSize+o.Size)
		icmpHdr := header.ICMPv4(msg)
		icmpHdr.SetType(header.ICMPv4Echo)
		icmpHdr.SetSequence(uint16(seq))
		for i := range o.Size {
			msg[header.ICMPv4MinimumSize+i] = byte(i)
		}
		sent := time.Now()
		if _, terr := ep.Write(bytes.NewReader(msg), tcpip.WriteOptions{To: &to}); terr != nil {
			// ARP failure or no route: report and keep counting.
			lastErr = fmt.Errorf("ping %v: sending request %d: %s", dst, seq, terr)
			st.Sent++
			if o.OnTimeout != nil {
				o.OnTimeout(seq)
			}
			if !sleepCtx(ctx, o.Interval) {
				break
			}
			continue
		}
		st.Sent++
		deadline := time.NewTimer(o.Timeout)
		got := false
		for !got {
			var b bytes.Buffer
			res, terr := ep.Read(&b, tcpip.ReadOptions{NeedRemoteAddr: true})
			if _, wb := terr.(*tcpip.ErrWouldBlock); wb {
				select {
				case <-readable:
					continue
				case <-deadline.C:
				case <-ctx.Done():
				}
				break
			}
			if terr != nil {
				lastErr = fmt.Errorf("ping %v: reading reply: %s", dst, terr)
				break
			}
			rep := header.ICMPv4(b.Bytes())
			if len(rep) < header.ICMPv4MinimumSize || rep.Type() != header.ICMPv4EchoReply || int(rep.Sequence()) != seq&0xffff {
				continue // stray or late reply
			}
			got = true
			rtt := time.Since(sent)
			st.Received++
			total += rtt
			if st.Min == 0 || rtt < st.Min {
				st.Min = rtt
			}
			if rtt > st.Max {
				st.Max = rtt
			}
			from, _ := netip.AddrFromSlice(res.RemoteAddr.Addr.AsSlice())
			if o.OnReply != nil {
				o.OnReply(PingReply{From: from, Seq: seq, Size: len(rep) - header.ICMPv4MinimumSize, RTT: rtt})
			}
		}
		deadline.Stop()
		if !got && o.OnTimeout != nil && ctx.Err() == nil {
			o.OnTimeout(seq)
		}
		if o.Count >= 0 && seq == o.Count {
			break
		}
		if wait := o.Interval - time.Since(sent); wait > 0 && !sleepCtx(ctx, wait) {
			break
		}
	}
	if st.Received > 0 {
		st.Avg = total / time.Duration(st.Received)
		return st, nil
	}
	if lastErr != nil {
		return st, lastErr
	}
	if ctx.Err() != nil && st.Sent == 0 {
		return st, fmt.Errorf("ping %v: %w", dst, ctx.Err())
	}
	return st, fmt.Errorf("ping %v: no reply to %d echo request(s)", dst, st.Sent)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
