package nfs

import (
	"context"
	stdnet "net"
	"net/netip"
	"testing"
	"time"

	"github.com/snp-go/snp-go/net/fetch"
	"github.com/snp-go/snp-go/net/fetch/fetchtest"
)

func osDial(ctx context.Context, laddr, raddr netip.AddrPort) (stdnet.Conn, error) {
	d := stdnet.Dialer{}
	if laddr.IsValid() {
		d.LocalAddr = stdnet.TCPAddrFromAddrPort(laddr)
	}
	return d.DialContext(ctx, "tcp4", raddr.String())
}

func newClient(t testing.TB, cfg Config) *fetch.Client {
	t.Helper()
	if cfg.Dial == nil {
		cfg.Dial = osDial
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fetchtest.Client("nfs", c)
}

func fetchOptions() fetch.Options { return fetch.Options{} }
