// Package dns is a small stub resolver (RFC 1035) for snp-go: A records over
// UDP with TCP fallback on truncation (RFC 7766), CNAME chains, and the
// search domain DHCP hands out. It runs on snp-go's own stack, so it works
// before (and without) the standard library's resolver.
package dns

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	stdnet "net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/snp-go/snp-go/net/ipstack"
)

// Resolver resolves host names through a Stack.
type Resolver struct {
	Stack *ipstack.Stack
	// Servers and Search override the stack's DHCP-provided values.
	Servers []netip.Addr
	Search  []string
	// Timeout bounds one query to one server (default 2 s); Attempts is
	// how many rounds over all servers are made (default 2).
	Timeout  time.Duration
	Attempts int
	// Port is the server port (default 53; tests use others).
	Port uint16
}

// NotFoundError reports that a name does not exist (NXDOMAIN) or has no A
// record, after the search list was tried.
type NotFoundError struct {
	Name  string
	Tried []string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("dns: %s: no such host (tried %s)", e.Name, strings.Join(e.Tried, ", "))
}

// LookupHost returns the IPv4 address of host: an IP literal is returned
// as is, otherwise the first A record.
func (r *Resolver) LookupHost(ctx context.Context, host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap(), nil
	}
	as, err := r.LookupA(ctx, host)
	if err != nil {
		return netip.Addr{}, err
	}
	return as[0], nil
}

// LookupA returns the A records of name, following the search list: a name
// without dots is tried with each search domain first, a name with dots is
// tried as is first, and a name ending in "." only as is.
func (r *Resolver) LookupA(ctx context.Context, name string) ([]netip.Addr, error) {
	servers, search := r.Servers, r.Search
	if servers == nil || search == nil {
		s, d := r.Stack.DNS()
		if servers == nil {
			servers = s
		}
		if search == nil {
			search = d
		}
	}
	if len(servers) == 0 {
		return nil, fmt.Errorf("dns: cannot resolve %s: no DNS server configured (DHCP option 6 or `set dns`)", name)
	}
	cands := candidates(name, search)
	var tried []string
	for _, fq := range cands {
		tried = append(tried, strings.TrimSuffix(fq, "."))
		addrs, err := r.query(ctx, servers, fq)
		if err == nil {
			return addrs, nil
		}
		if !errors.Is(err, errNoAnswer) {
			return nil, fmt.Errorf("dns: %s: %w", fq, err)
		}
	}
	return nil, &NotFoundError{Name: name, Tried: tried}
}

// candidates lists the fully qualified names to try for name.
func candidates(name string, search []string) []string {
	if strings.HasSuffix(name, ".") {
		return []string{name}
	}
	var withSearch []string
	for _, d := range search {
		d = strings.Trim(d, ".")
		if d != "" {
			withSearch = append(withSearch, name+"."+d+".")
		}
	}
	if !strings.Contains(name, ".") {
		return append(withSearch, name+".")
	}
	return append([]string{name + "."}, withSearch...)
}

var errNoAnswer = errors.New("no A record")

// query asks each server in turn, Attempts rounds.
func (r *Resolver) query(ctx context.Context, servers []netip.Addr, fq string) ([]netip.Addr, error) {
	timeout, attempts, port := r.Timeout, r.Attempts, r.Port
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	if attempts <= 0 {
		attempts = 2
	}
	if port == 0 {
		port = 53
	}
	qname, err := dnsmessage.NewName(fq)
	if err != nil {
		return nil, fmt.Errorf("bad name: %w", err)
	}
	var lastErr error
	for range attempts {
		for _, srv := range servers {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			addrs, err := r.exchange(ctx, netip.AddrPortFrom(srv, port), qname, timeout)
			if err == nil || errors.Is(err, errNoAnswer) {
				return addrs, err
			}
			lastErr = fmt.Errorf("server %v: %w", srv, err)
		}
	}
	return nil, lastErr
}

func (r *Resolver) exchange(ctx context.Context, srv netip.AddrPort, qname dnsmessage.Name, timeout time.Duration) ([]netip.Addr, error) {
	var idb [2]byte
	rand.Read(idb[:])
	id := binary.BigEndian.Uint16(idb[:])
	q := dnsmessage.Question{Name: qname, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}
	msg := dnsmessage.Message{Header: dnsmessage.Header{ID: id, RecursionDesired: true}, Questions: []dnsmessage.Question{q}}
	pkt, err := msg.Pack()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()

	c, err := r.Stack.DialUDP(netip.AddrPort{}, srv)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	c.SetReadDeadline(deadline)
	if _, err := c.Write(pkt); err != nil {
		return nil, err
	}
	buf := make([]byte, 1500)
	for {
		n, err := c.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				if pe := ctx.Err(); errors.Is(pe, context.DeadlineExceeded) {
					return nil, fmt.Errorf("no answer within %v", timeout)
				}
				return nil, ctx.Err()
			}
			return nil, err
		}
		addrs, truncated, err := parseResponse(buf[:n], id, q)
		if errors.Is(err, errMismatch) {
			continue // stray or spoofed datagram
		}
		if truncated {
			return r.exchangeTCP(ctx, srv, pkt, id, q)
		}
		return addrs, err
	}
}

// exchangeTCP repeats the query over TCP (RFC 1035 4.2.2 length prefix).
func (r *Resolver) exchangeTCP(ctx context.Context, srv netip.AddrPort, pkt []byte, id uint16, q dnsmessage.Question) ([]netip.Addr, error) {
	c, err := r.Stack.DialTCP(ctx, netip.AddrPort{}, srv)
	if err != nil {
		return nil, fmt.Errorf("TCP retry after truncation: %w", err)
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	out := binary.BigEndian.AppendUint16(nil, uint16(len(pkt)))
	if _, err := c.Write(append(out, pkt...)); err != nil {
		return nil, err
	}
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return nil, fmt.Errorf("TCP answer: %w", err)
	}
	resp := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, resp); err != nil {
		return nil, fmt.Errorf("TCP answer: %w", err)
	}
	addrs, _, err := parseResponse(resp, id, q)
	return addrs, err
}

var errMismatch = errors.New("response does not match the query")

// parseResponse checks that b answers question q with id and returns its A
// records (following CNAMEs within the answer section).
func parseResponse(b []byte, id uint16, q dnsmessage.Question) (addrs []netip.Addr, truncated bool, err error) {
	var p dnsmessage.Parser
	h, err := p.Start(b)
	if err != nil {
		return nil, false, errMismatch
	}
	if h.ID != id || !h.Response {
		return nil, false, errMismatch
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 || !strings.EqualFold(qs[0].Name.String(), q.Name.String()) || qs[0].Type != q.Type {
		return nil, false, errMismatch
	}
	if h.Truncated {
		return nil, true, nil
	}
	switch h.RCode {
	case dnsmessage.RCodeSuccess:
	case dnsmessage.RCodeNameError:
		return nil, false, errNoAnswer
	default:
		return nil, false, fmt.Errorf("server answered %v", h.RCode)
	}
	want := strings.ToLower(q.Name.String())
	for hops := 0; ; hops++ {
		found := false
		var next string
		for {
			rh, err := p.AnswerHeader()
			if errors.Is(err, dnsmessage.ErrSectionDone) {
				break
			}
			if err != nil {
				return nil, false, fmt.Errorf("malformed answer: %w", err)
			}
			name := strings.ToLower(rh.Name.String())
			switch {
			case rh.Type == dnsmessage.TypeA && rh.Class == dnsmessage.ClassINET && name == want:
				a, err := p.AResource()
				if err != nil {
					return nil, false, fmt.Errorf("malformed A record: %w", err)
				}
				addrs = append(addrs, netip.AddrFrom4(a.A))
				found = true
			case rh.Type == dnsmessage.TypeCNAME && name == want:
				c, err := p.CNAMEResource()
				if err != nil {
					return nil, false, fmt.Errorf("malformed CNAME record: %w", err)
				}
				next = strings.ToLower(c.CNAME.String())
			default:
				if err := p.SkipAnswer(); err != nil {
					return nil, false, fmt.Errorf("malformed answer: %w", err)
				}
			}
		}
		if found {
			return addrs, false, nil
		}
		if next == "" || hops >= 8 {
			return nil, false, errNoAnswer
		}
		// The CNAME target's records may come before or after it: rescan.
		want = next
		p = dnsmessage.Parser{}
		if _, err := p.Start(b); err != nil {
			return nil, false, errMismatch
		}
		if err := p.SkipAllQuestions(); err != nil {
			return nil, false, errMismatch
		}
	}
}

// Dialer returns a DialContext for "tcp" and "udp" that resolves host names
// with r and dials through r.Stack (used by fetch's HTTP transport).
func (r *Resolver) Dialer() func(ctx context.Context, network, address string) (stdnet.Conn, error) {
	return func(ctx context.Context, network, address string) (stdnet.Conn, error) {
		host, port, err := stdnet.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		a, err := r.LookupHost(ctx, host)
		if err != nil {
			return nil, err
		}
		return r.Stack.DialContext(ctx, network, stdnet.JoinHostPort(a.String(), port))
	}
}
