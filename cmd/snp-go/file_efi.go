//go:build tamago && arm64

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"

	"github.com/snp-go/snp-go/efi"
	"github.com/snp-go/snp-go/net/fetch"
)

// fileFetcher serves file: URIs (iPXE's DOWNLOAD_PROTO_FILE) from the file
// system snp-go.efi was loaded from, through its Loaded Image's device
// handle and Simple File System (UEFI 2.10 §9.1, §13.4). "file:/a/b" is
// from the volume's root; "file:b" is relative to snp-go.efi's directory.
type fileFetcher struct {
	dev efi.Handle
	dir string // directory of snp-go.efi on that volume, "/"-separated
}

func newFileFetcher(li *efi.LoadedImage) *fileFetcher {
	dir := "/"
	if li != nil && len(li.FilePath) > 0 {
		if n := li.FilePath[len(li.FilePath)-1]; n.Type == efi.MediaDevicePath && n.SubType == efi.SubFilePath {
			dir = path.Dir("/" + strings.TrimLeft(strings.ReplaceAll(n.String(), `\`, "/"), "/"))
		}
	}
	f := &fileFetcher{dir: dir}
	if li != nil {
		f.dev = li.DeviceHandle
	}
	return f
}

func (f *fileFetcher) Fetch(ctx context.Context, u *url.URL, w io.Writer, opts fetch.Options) (int64, error) {
	if f.dev == 0 {
		return 0, errors.New("snp-go was not loaded from a file system")
	}
	p := u.Path
	if u.Opaque != "" {
		p = u.Opaque
	}
	if p == "" {
		return 0, errors.New("empty path")
	}
	if !strings.HasPrefix(p, "/") {
		p = path.Join(f.dir, p)
	}
	root, err := efi.OpenVolume(f.dev)
	if err != nil {
		return 0, fmt.Errorf("opening the boot volume: %w", err)
	}
	defer root.Close()
	file, err := root.Open(p)
	if err != nil {
		if errors.Is(err, efi.NotFound) {
			return 0, fmt.Errorf("%s: file not found on the boot volume", p)
		}
		return 0, err
	}
	defer file.Close()
	m, err := fetch.NewMeter(w, u.String(), -1, opts)
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 256<<10)
	for {
		if err := ctx.Err(); err != nil {
			return m.N(), err
		}
		n, rerr := file.Read(buf)
		if n > 0 {
			if _, err := m.Write(buf[:n]); err != nil {
				return m.N(), err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return m.N(), rerr
		}
	}
	m.Finish()
	return m.N(), nil
}
