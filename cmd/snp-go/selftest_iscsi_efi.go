//go:build tamago && arm64

package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"time"

	"github.com/snp-go/snp-go/chap"
	"github.com/snp-go/snp-go/iscsi"
	"github.com/snp-go/snp-go/net/dhcp"
)

// SelftestISCSI logs in to the root path (credentials from the
// environment-like options) and reads the whole LUN in chunk-sized
// requests, outside any firmware callback: the network and iSCSI path
// alone, for comparison with reads through Block IO.
func (p *efiPlatform) SelftestISCSI(root string, chunk int, user, pass, ruser, rpass string) error {
	n, err := p.Network()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := dhcp.Run(ctx, n.stack.Interfaces()[0], dhcp.Options{}); err != nil {
		return err
	}
	d, err := iscsi.Open(ctx, iscsi.Config{RootPath: root, InitiatorName: "iqn.2010-04.org.ipxe:selftest",
		Credentials: chap.Credentials{Username: user, Password: chap.NewSecret(pass), ReverseUsername: ruser, ReversePassword: chap.NewSecret(rpass)},
		Dial:        n.resolver.Dialer(), Logf: func(f string, a ...any) { fmt.Fprintf(os.Stdout, "iscsi: "+f+"\n", a...) }})
	if err != nil {
		return err
	}
	defer d.Close()
	buf := make([]byte, chunk)
	h := sha256.New()
	t := time.Now()
	total := d.Size()
	for off := uint64(0); off < total; off += uint64(len(buf)) {
		b := buf
		if rest := total - off; rest < uint64(len(b)) {
			b = b[:rest]
		}
		if err := d.ReadBlocks(ctx, off/uint64(d.BlockSize()), b); err != nil {
			return fmt.Errorf("read at %d: %w", off, err)
		}
		h.Write(b)
	}
	el := time.Since(t)
	st := n.nics[0].Stats()
	fmt.Printf("iscsi: NIC frames: %d received, %d sent (%.2f sent per received)\n", st.RxFrames, st.TxFrames, float64(st.TxFrames)/float64(max(st.RxFrames, 1)))
	fmt.Printf("iscsi: read %d bytes in %d-byte requests in %v (%.1f MB/s), sha256 %x\n", total, chunk, el.Round(time.Millisecond), float64(total)/el.Seconds()/1e6, h.Sum(nil))
	return nil
}
