package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/snp-go/snp-go/net/ipstack"
	"github.com/snp-go/snp-go/net/nettest"
)

// zone is the test server's data: name → A records or CNAME target.
var zone = map[string]any{
	"boot.example.test.":  []netip.Addr{netip.MustParseAddr("10.0.0.2")},
	"alias.example.test.": "boot.example.test.",
	"big.example.test.":   []netip.Addr{netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("10.0.0.8")},
	"www.other.test.":     []netip.Addr{netip.MustParseAddr("10.0.0.9")},
}

// answer builds the response to query b; truncate sets TC for big.*.
func answer(b []byte, truncate bool) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(b)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	name := strings.ToLower(q.Name.String())
	rb := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RecursionAvailable: true})
	rb.EnableCompression()
	rb.StartQuestions()
	rb.Question(q)
	rb.StartAnswers()
	hdr := func(n string, t dnsmessage.Type) dnsmessage.ResourceHeader {
		return dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(n), Type: t, Class: dnsmessage.ClassINET, TTL: 60}
	}
	v, ok := zone[name]
	if !ok {
		rb = dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RCode: dnsmessage.RCodeNameError})
		rb.StartQuestions()
		rb.Question(q)
		out, _ := rb.Finish()
		return out
	}
	if truncate && strings.HasPrefix(name, "big.") {
		rb = dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Truncated: true})
		rb.StartQuestions()
		rb.Question(q)
		out, _ := rb.Finish()
		return out
	}
	if target, ok := v.(string); ok {
		rb.CNAMEResource(hdr(name, dnsmessage.TypeCNAME), dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(target)})
		name, v = target, zone[target]
	}
	for _, a := range v.([]netip.Addr) {
		rb.AResource(hdr(name, dnsmessage.TypeA), dnsmessage.AResource{A: a.As4()})
	}
	out, _ := rb.Finish()
	return out
}

// server runs the zone on h over UDP and TCP port 53 and counts queries.
func server(t *testing.T, h *nettest.Host) *atomic.Int32 {
	var n atomic.Int32
	u, err := h.Stack.ListenUDP(netip.AddrPortFrom(h.Addr, 53))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			k, from, err := u.ReadFrom(buf)
			if err != nil {
				return
			}
			n.Add(1)
			u.WriteTo(answer(buf[:k], true), from)
		}
	}()
	l, err := h.Stack.ListenTCP(netip.AddrPortFrom(h.Addr, 53))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			var lb [2]byte
			if _, err := io.ReadFull(c, lb[:]); err == nil {
				q := make([]byte, binary.BigEndian.Uint16(lb[:]))
				if _, err := io.ReadFull(c, q); err == nil {
					a := answer(q, false)
					c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(a))), a...))
				}
			}
			c.Close()
		}
	}()
	return &n
}

func TestLookup(t *testing.T) {
	a, b := nettest.Pair(t, nettest.HostOptions{}, nettest.HostOptions{})
	server(t, b)
	if err := a.If.Configure(ipstack.Config{Address: netip.MustParsePrefix("10.0.0.1/24"), DNS: []netip.Addr{b.Addr}, Domain: "example.test"}); err != nil {
		t.Fatal(err)
	}
	r := &Resolver{Stack: a.Stack, Timeout: time.Second}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		want []netip.Addr
	}{
		{"boot", []netip.Addr{netip.MustParseAddr("10.0.0.2")}},                                 // search domain
		{"boot.example.test", []netip.Addr{netip.MustParseAddr("10.0.0.2")}},                    // FQDN without dot
		{"BOOT.example.test.", []netip.Addr{netip.MustParseAddr("10.0.0.2")}},                   // absolute, case-insensitive
		{"alias", []netip.Addr{netip.MustParseAddr("10.0.0.2")}},                                // CNAME
		{"big", []netip.Addr{netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("10.0.0.8")}}, // TC → TCP
		{"www.other.test", []netip.Addr{netip.MustParseAddr("10.0.0.9")}},
	} {
		got, err := r.LookupA(ctx, tc.name)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("LookupA(%q) = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	_, err := r.LookupA(ctx, "nosuch")
	var nf *NotFoundError
	if !errors.As(err, &nf) || !reflect.DeepEqual(nf.Tried, []string{"nosuch.example.test", "nosuch"}) {
		t.Errorf("LookupA(nosuch) = %v; want NotFoundError after nosuch.example.test, nosuch", err)
	}
	if got, err := r.LookupHost(ctx, "10.1.2.3"); err != nil || got != netip.MustParseAddr("10.1.2.3") {
		t.Errorf("LookupHost(literal) = %v, %v", got, err)
	}
}

func TestNoServerTimesOut(t *testing.T) {
	a, _ := nettest.Pair(t, nettest.HostOptions{}, nettest.HostOptions{})
	r := &Resolver{Stack: a.Stack, Servers: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, Timeout: 100 * time.Millisecond, Attempts: 2}
	start := time.Now()
	_, err := r.LookupA(context.Background(), "boot.example.test.")
	if err == nil || !strings.Contains(err.Error(), "10.0.0.2") {
		t.Errorf("LookupA with silent server = %v; want error naming the server", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v; want ~200 ms", d)
	}
	r = &Resolver{Stack: a.Stack}
	if _, err := r.LookupA(context.Background(), "x"); err == nil || !strings.Contains(err.Error(), "no DNS server") {
		t.Errorf("LookupA without servers = %v; want 'no DNS server configured'", err)
	}
}

func TestCandidates(t *testing.T) {
	for _, tc := range []struct {
		name   string
		search []string
		want   []string
	}{
		{"boot", []string{"a.test"}, []string{"boot.a.test.", "boot."}},
		{"boot.x", []string{"a.test."}, []string{"boot.x.", "boot.x.a.test."}},
		{"boot.", []string{"a.test"}, []string{"boot."}},
		{"boot", nil, []string{"boot."}},
	} {
		if got := candidates(tc.name, tc.search); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("candidates(%q, %q) = %q; want %q", tc.name, tc.search, got, tc.want)
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	q := dnsmessage.Question{Name: dnsmessage.MustNewName("alias.example.test."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}
	qm := dnsmessage.Message{Header: dnsmessage.Header{ID: 7}, Questions: []dnsmessage.Question{q}}
	qb, _ := qm.Pack()
	f.Add(answer(qb, false))
	f.Add(answer(qb, true))
	f.Fuzz(func(t *testing.T, b []byte) {
		addrs, trunc, err := parseResponse(b, 7, q)
		if err == nil && !trunc && len(addrs) == 0 {
			t.Fatalf("parseResponse(%x): success without addresses", b)
		}
	})
}
