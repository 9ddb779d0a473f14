package ntp

import (
	"context"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/snp-go/snp-go/net/nettest"
)

func TestTimestampRoundTrip(t *testing.T) {
	for _, s := range []string{"1999-12-31T23:59:59.5Z", "2025-06-01T12:00:00.25Z", "2036-02-07T06:28:16Z", "2040-01-01T00:00:00Z"} {
		want, _ := time.Parse(time.RFC3339Nano, s)
		if got := fromNTP(toNTP(want)); got.Sub(want).Abs() > time.Microsecond {
			t.Errorf("fromNTP(toNTP(%s)) = %s", s, got.Format(time.RFC3339Nano))
		}
	}
}

// server answers NTP on h with serverTime, using mutate to spoil replies.
func server(t *testing.T, h *nettest.Host, serverTime time.Time, mutate func([]byte)) {
	u, err := h.Stack.ListenUDP(netip.AddrPortFrom(h.Addr, 123))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	go func() {
		b := make([]byte, 100)
		for {
			n, from, err := u.ReadFrom(b)
			if err != nil {
				return
			}
			if n < packetLen {
				continue
			}
			r := make([]byte, packetLen)
			r[0] = 0<<6 | version<<3 | modeServer
			r[1] = 2
			copy(r[24:32], b[40:48]) // origin = client's transmit
			binary.BigEndian.PutUint64(r[32:], toNTP(serverTime))
			binary.BigEndian.PutUint64(r[40:], toNTP(serverTime))
			if mutate != nil {
				mutate(r)
			}
			u.WriteTo(r, from)
		}
	}()
}

func TestQuery(t *testing.T) {
	st := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		mutate  func([]byte)
		wantErr string
	}{
		{name: "ok"},
		{name: "kiss-of-death", mutate: func(r []byte) { r[1] = 0; copy(r[12:], "RATE") }, wantErr: "kiss-o'-death \"RATE\""},
		{name: "unsynchronised", mutate: func(r []byte) { r[0] |= 3 << 6 }, wantErr: "not synchronised"},
		{name: "wrong origin ignored", mutate: func(r []byte) { r[24]++ }, wantErr: "no reply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := nettest.Pair(t, nettest.HostOptions{}, nettest.HostOptions{})
			server(t, b, st, tc.mutate)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			// The local clock is 1970: as on a board without an RTC.
			local := func() time.Time { return time.Unix(0, 0) }
			res, err := Query(ctx, a.Stack, netip.AddrPortFrom(b.Addr, 0), local)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Query = %+v, %v; want error containing %q", res, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := res.Time.Sub(st).Abs(); d > 200*time.Millisecond {
				t.Errorf("Query time = %v; want %v (±200 ms)", res.Time, st)
			}
			if res.Stratum != 2 || res.Offset < 59*365*24*time.Hour {
				t.Errorf("Query = %+v; want stratum 2 and an offset of ~60 years", res)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(make([]byte, 48))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parse(b)
		if err == nil {
			r.check(0)
			fromNTP(r.transmit)
		}
	})
}
