// Package ntp is a small SNTPv4 client (RFC 4330, packet format of RFC 5905
// section 7.3) over snp-go's stack. snp-go uses it for the `ntp` command: the
// wall clock that certificate validity is checked against when the firmware
// has no usable real-time clock.
package ntp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/snp-go/snp-go/net/ipstack"
)

// Result of one successful query.
type Result struct {
	Server  netip.AddrPort
	Time    time.Time     // server time at the moment the reply arrived
	Offset  time.Duration // server clock minus local clock
	RTT     time.Duration // round-trip delay (RFC 5905 section 8 "delta")
	Stratum uint8
}

const (
	packetLen  = 48
	modeClient = 3
	modeServer = 4
	version    = 4
)

// ntpEpoch is 1900-01-01, era 0 (RFC 5905 section 6).
var ntpEpoch = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

// toNTP encodes t as a 64-bit NTP timestamp.
func toNTP(t time.Time) uint64 {
	d := t.Sub(ntpEpoch) // saturates after 2192; fine until era 1 needs it
	if t.After(ntpEpoch.Add(1 << 32 * time.Second)) {
		d = t.Sub(ntpEpoch.Add(1 << 32 * time.Second)) // era 1 (from 2036-02-07)
	}
	sec := uint64(d / time.Second)
	frac := uint64(d%time.Second) << 32 / uint64(time.Second)
	return sec<<32 | frac
}

// fromNTP decodes a timestamp; seconds with the top bit clear are taken to
// be in era 1 (2036-2104), as RFC 4330 section 3 suggests.
func fromNTP(v uint64) time.Time {
	sec, frac := v>>32, v&0xffffffff
	base := ntpEpoch
	if sec&0x80000000 == 0 {
		base = ntpEpoch.Add(1 << 32 * time.Second)
	}
	return base.Add(time.Duration(sec)*time.Second + time.Duration(frac*uint64(time.Second)>>32))
}

// reply holds the fields of a server packet we use.
type reply struct {
	leap, mode, stratum       uint8
	origin, receive, transmit uint64
	refID                     [4]byte
}

// parse decodes a server packet (RFC 5905 figure 8).
func parse(b []byte) (reply, error) {
	if len(b) < packetLen {
		return reply{}, fmt.Errorf("short NTP packet (%d bytes)", len(b))
	}
	r := reply{
		leap:     b[0] >> 6,
		mode:     b[0] & 7,
		stratum:  b[1],
		origin:   binary.BigEndian.Uint64(b[24:]),
		receive:  binary.BigEndian.Uint64(b[32:]),
		transmit: binary.BigEndian.Uint64(b[40:]),
	}
	copy(r.refID[:], b[12:16])
	return r, nil
}

// check applies RFC 4330 section 5's sanity rules to a reply to origin.
func (r reply) check(origin uint64) error {
	switch {
	case r.mode != modeServer:
		return fmt.Errorf("not a server reply (mode %d)", r.mode)
	case r.origin != origin:
		return errMismatch
	case r.stratum == 0:
		return fmt.Errorf("server refused: kiss-o'-death %q", r.refID[:])
	case r.leap == 3:
		return errors.New("server clock is not synchronised (leap indicator 3)")
	case r.transmit == 0:
		return errors.New("server sent a zero transmit timestamp")
	}
	return nil
}

var errMismatch = errors.New("reply does not match the request")

// Query asks server (port 123 if zero) for the time. now is the local clock
// (nil: time.Now); the Result's Time is now() at arrival plus the offset.
func Query(ctx context.Context, s *ipstack.Stack, server netip.AddrPort, now func() time.Time) (Result, error) {
	if now == nil {
		now = time.Now
	}
	if server.Port() == 0 {
		server = netip.AddrPortFrom(server.Addr(), 123)
	}
	fail := func(err error) (Result, error) { return Result{}, fmt.Errorf("ntp %v: %w", server, err) }
	c, err := s.DialUDP(netip.AddrPort{}, server)
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
	}
	d, _ := ctx.Deadline()
	c.SetReadDeadline(d)
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	req := make([]byte, packetLen)
	req[0] = version<<3 | modeClient
	t1 := now()
	mono1 := time.Now()
	origin := toNTP(t1)
	binary.BigEndian.PutUint64(req[40:], origin) // echoed back as origin
	if _, err := c.Write(req); err != nil {
		return fail(err)
	}
	buf := make([]byte, 512)
	for {
		n, err := c.Read(buf)
		if err != nil {
			var ne interface{ Timeout() bool }
			if ctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()) {
				if errors.Is(ctx.Err(), context.Canceled) {
					return fail(ctx.Err())
				}
				return fail(fmt.Errorf("no reply by %s", d.Format(time.TimeOnly)))
			}
			return fail(err)
		}
		elapsed := time.Since(mono1) // monotonic, immune to now() jumps
		r, err := parse(buf[:n])
		if err == nil {
			err = r.check(origin)
		}
		if errors.Is(err, errMismatch) || (err != nil && r.mode != modeServer) {
			continue
		}
		if err != nil {
			return fail(err)
		}
		t4 := t1.Add(elapsed)
		t2, t3 := fromNTP(r.receive), fromNTP(r.transmit)
		offset := (t2.Sub(t1) + t3.Sub(t4)) / 2
		rtt := elapsed - t3.Sub(t2)
		if rtt < 0 {
			rtt = 0
		}
		return Result{Server: server, Time: t4.Add(offset), Offset: offset, RTT: rtt, Stratum: r.stratum}, nil
	}
}
