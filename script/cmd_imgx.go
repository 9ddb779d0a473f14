package script

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"strings"

	"github.com/snp-go/snp-go/script/settings"
)

// imgxState is the engine's image tags beyond SELECTED (iPXE's struct
// image_tag): the device tree and the shim chosen for the next EFI boot.
// A tag holds its image even after imgfree, as iPXE's tag holds a
// reference.
type imgxState struct {
	fdt  *Image // `fdt`: installed as the EFI device tree table at boot
	shim *Image // `shim`: what a refused image would be started through
	// shim options, recorded as iPXE's shim() records them.
	shimRequireLoader, shimAllowPXE, shimAllowSBAT bool
}

func imgxCommands() []*Command {
	var cmds []*Command
	for _, d := range digests {
		cmds = append(cmds, &Command{Name: d.name, Summary: "Calculate " + d.algo + " digest of images",
			Usage: "<image> [<image>...]", Options: []Option{{"set", 's', true}}, Min: 1, Max: -1, Run: digestRun(d.new)})
	}
	acquireOpts := []Option{{"timeout", 't', true}, {"quiet", 'q', false}}
	cmds = append(cmds,
		&Command{Name: "imgextract", Summary: "Extract a gzip or zlib compressed image",
			Options: []Option{{"name", 'n', true}, {"keep", 'k', false}, {"timeout", 't', true}, {"quiet", 'q', false}},
			Min:     1, Max: 1, Run: imgextractRun},
		&Command{Name: "fdt", Summary: "Select a device tree for the next boot", Usage: "[<uri>]",
			Options: acquireOpts, Max: 1, Run: fdtRun},
		&Command{Name: "shim", Summary: "Select a UEFI shim for the next boot",
			Options: append(append([]Option(nil), acquireOpts...),
				Option{"require-loader", 'l', false}, Option{"allow-pxe", 'p', false}, Option{"allow-sbat", 's', false}),
			Max: 1, Run: shimRun},
		&Command{Name: "sync", Summary: "Wait for pending operations",
			Options: []Option{{"timeout", 't', true}}, Run: syncRun},
	)
	return cmds
}

// digests are iPXE's digest commands (hci/commands/digest_cmd.c: md5sum
// and sha1sum; crypto/mishmash/cmd_sha*.c for the others).
var digests = []struct {
	name, algo string
	new        func() hash.Hash
}{
	{"md5sum", "MD5", md5.New},
	{"sha1sum", "SHA-1", sha1.New},
	{"sha256sum", "SHA-256", sha256.New},
	{"sha512sum", "SHA-512", sha512.New},
}

// digestRun is iPXE's digest_exec: for each image (a name, or a URI to
// fetch) print "<hex digest>  <name>" as coreutils does, or with --set
// store the digest in a setting (type hexraw unless named).
func digestRun(newHash func() hash.Hash) func(ctx context.Context, c *Call) error {
	return func(ctx context.Context, c *Call) error {
		var set *settings.Ref
		if name, ok := c.Value("set"); ok {
			r, err := parseSetting(name)
			if err != nil {
				return err
			}
			set = &r
		}
		for _, a := range c.Args {
			img, err := c.E.acquire(ctx, c.Name, a, false)
			if err != nil {
				return err
			}
			h := newHash()
			h.Write(img.Data)
			sum := h.Sum(nil)
			if set == nil {
				c.E.printf("%x  %s\n", sum, img.Name)
				continue
			}
			typ := set.Type
			if typ == nil {
				typ = settings.HexRaw
			}
			if err := c.E.Settings.StoreRaw(*set, sum, typ); err != nil {
				return storeError(*set, err)
			}
		}
		return nil
	}
}

// archiveKind names a compressed image as iPXE's probes do: "gzip"
// (image/gzip.c: the magic 1f 8b and room for the 10-byte header and
// 8-byte footer) or "zlib" (image/zlib.c, RFC 1950 and RFC 6713: method 8
// and a header check that is a multiple of 31); "" for anything else.
func archiveKind(data []byte) string {
	switch {
	case len(data) >= 18 && data[0] == 0x1f && data[1] == 0x8b:
		return "gzip"
	case len(data) >= 2 && data[0]&0x8f == 0x08 && binary.BigEndian.Uint16(data)%31 == 0:
		return "zlib"
	}
	return ""
}

// maxExtracted bounds an extracted image: memory is all snp-go has, and a
// few kilobytes of deflate data expand to gigabytes.
const maxExtracted = 1 << 30

// extract decompresses a gzip or zlib image (iPXE core/archive.c
// image_extract): ENOTSUP if it is neither, EINVAL if the data is
// corrupt or truncated.
func extract(data []byte) ([]byte, error) {
	var r io.Reader
	var err error
	switch archiveKind(data) {
	case "gzip":
		var z *gzip.Reader
		if z, err = gzip.NewReader(bytes.NewReader(data)); err == nil {
			z.Multistream(false) // one member, as iPXE's gzip_extract
			r = z
		}
	case "zlib":
		r, err = zlib.NewReader(bytes.NewReader(data))
	default:
		return nil, Errorf(ENOTSUP, "not a gzip or zlib compressed image")
	}
	if err != nil {
		return nil, &Error{Errno: EINVAL, Err: err}
	}
	out, err := io.ReadAll(io.LimitReader(r, maxExtracted+1))
	switch {
	case err != nil:
		return nil, &Error{Errno: EINVAL, Err: err}
	case len(out) > maxExtracted:
		return nil, Errorf(ENOMEM, "extracted image larger than %d bytes", maxExtracted)
	}
	return out, nil
}

// extractImage registers the extracted contents of img (iPXE
// image_extract): named name, or img's name without its last ".suffix";
// same URI; trusted if img was.
func (e *Engine) extractImage(img *Image, name string) (*Image, error) {
	data, err := extract(img.Data)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = img.Name
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			name = name[:i]
		}
	}
	x := &Image{Name: name, URI: img.URI, Data: data, Trusted: img.Trusted}
	e.RegisterImage(x)
	return x, nil
}

// unregisterImage removes img itself (not another image of its name).
func (e *Engine) unregisterImage(img *Image) {
	for i, o := range e.images {
		if o == img {
			e.images = append(e.images[:i], e.images[i+1:]...)
			return
		}
	}
}

// imgacquire acquires the command's image argument with its --timeout
// and --quiet options.
func (c *Call) imgacquire(ctx context.Context, nameOrURI string) (*Image, error) {
	timeout, err := c.Timeout("timeout")
	if err != nil {
		return nil, err
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return c.acquire(ctx, nameOrURI)
}

// imgextractRun is iPXE's imgextract: extract, then free the original
// (even when extracting failed) unless --keep.
func imgextractRun(ctx context.Context, c *Call) error {
	img, err := c.imgacquire(ctx, c.Args[0])
	if err != nil {
		return err
	}
	name, _ := c.Value("name")
	_, err = c.E.extractImage(img, name)
	if !c.Flag("keep") {
		c.E.unregisterImage(img)
	}
	if err != nil {
		n := StatusOf(err)
		return &Error{Errno: n, Err: fmt.Errorf("Could not extract image: %s (%w)", n, err), Said: true}
	}
	return nil
}

// execArchive runs a compressed image as iPXE's gzip and zlib image types
// do (image_extract_exec): extract it, give the result its command line,
// mark it autofree and run it in its place.
func (e *Engine) execArchive(ctx context.Context, img *Image) error {
	x, err := e.extractImage(img, "")
	if err != nil {
		return err
	}
	x.Args, x.AutoFree = img.Args, true
	return e.execImage(ctx, x)
}

// fdtMagic and fdtVersion are the devicetree blob header's magic and the
// version iPXE requires as last_comp_version (Devicetree Specification
// 0.4 §5.2; iPXE core/fdt.c fdt_parse).
const (
	fdtMagic      = 0xd00dfeed
	fdtVersion    = 16
	fdtHeaderSize = 40
)

// CheckFDT validates a flattened devicetree blob's header as iPXE's
// fdt_parse does before it installs one: the magic, a totalsize within
// the blob, last_comp_version 16, and structure and strings blocks
// inside totalsize (the structure block 4-byte aligned). It returns the
// blob cut to totalsize.
func CheckFDT(blob []byte) ([]byte, error) {
	if len(blob) < fdtHeaderSize {
		return nil, fmt.Errorf("%d bytes is too short for a device tree header (%d bytes)", len(blob), fdtHeaderSize)
	}
	be := binary.BigEndian
	if m := be.Uint32(blob); m != fdtMagic {
		return nil, fmt.Errorf("bad magic %#08x (a device tree blob starts with %#08x)", m, fdtMagic)
	}
	total := be.Uint32(blob[4:])
	if total < fdtHeaderSize || uint64(total) > uint64(len(blob)) {
		return nil, fmt.Errorf("totalsize %d does not fit the %d-byte image", total, len(blob))
	}
	if v := be.Uint32(blob[24:]); v != fdtVersion {
		return nil, fmt.Errorf("last compatible version %d, not %d", v, fdtVersion)
	}
	block := func(what string, off, size uint32, align uint32) error {
		if off > total || size > total-off {
			return fmt.Errorf("%s block [%d,+%d) exceeds totalsize %d", what, off, size, total)
		}
		if (off|size)&(align-1) != 0 {
			return fmt.Errorf("%s block [%d,+%d) is not %d-byte aligned", what, off, size, align)
		}
		return nil
	}
	if err := block("structure", be.Uint32(blob[8:]), be.Uint32(blob[36:]), 4); err != nil {
		return nil, err
	}
	if err := block("strings", be.Uint32(blob[12:]), be.Uint32(blob[32:]), 1); err != nil {
		return nil, err
	}
	return blob[:total], nil
}

// fdtRun is iPXE's fdt: select an image as the device tree installed for
// the next EFI image booted, or with no argument go back to the
// firmware's own. Unlike iPXE, which finds a bad blob only when it boots,
// the blob is checked here.
func fdtRun(ctx context.Context, c *Call) error {
	if len(c.Args) == 0 {
		c.E.imgx.fdt = nil
		return nil
	}
	if c.E.env.DeviceTree == nil {
		return notAvailable(c.Name, "the firmware's configuration tables")
	}
	img, err := c.imgacquire(ctx, c.Args[0])
	if err != nil {
		return err
	}
	if _, err := CheckFDT(img.Data); err != nil {
		return Errorf(EINVAL, "%s is not a flattened device tree: %v", img.Name, err)
	}
	c.E.imgx.fdt = img
	img.Hidden = true
	return nil
}

// shimRun is iPXE's shim: select an image as the UEFI shim that boots an
// image the firmware refuses to load, or with no argument clear it.
func shimRun(ctx context.Context, c *Call) error {
	var img *Image
	if len(c.Args) > 0 {
		var err error
		if img, err = c.imgacquire(ctx, c.Args[0]); err != nil {
			return err
		}
		img.Hidden = true
	}
	x := &c.E.imgx
	x.shim = img
	x.shimRequireLoader, x.shimAllowPXE, x.shimAllowSBAT = c.Flag("require-loader"), c.Flag("allow-pxe"), c.Flag("allow-sbat")
	return nil
}

// syncRun is iPXE's sync: wait (for --timeout, or until Ctrl-C) until
// the backends have no operation in progress.
func syncRun(ctx context.Context, c *Call) error {
	timeout, err := c.Timeout("timeout")
	if err != nil {
		return err
	}
	if c.E.env.Syncer == nil {
		return nil // no backend works in the background
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if err := c.E.env.Syncer.Sync(ctx); err != nil {
		n := StatusOf(err)
		return &Error{Errno: n, Err: fmt.Errorf("Operations did not complete: %s", n), Said: true}
	}
	return nil
}

// imgxFlags are imgstat's marks for the tags and flags kept here.
func (e *Engine) imgxFlags(img *Image) string {
	s := ""
	if img == e.imgx.fdt {
		s += " [FDT]"
	}
	if img == e.imgx.shim {
		s += " [SHIM]"
	}
	return s
}

// bootEFI starts an EFI image as iPXE's efi_image_exec does: hidden
// images (the device tree, the shim) are not offered to it, and the
// selected device tree is installed while it runs.
func (e *Engine) bootEFI(ctx context.Context, img *Image) error {
	if e.env.Booter == nil {
		return notAvailable("boot", "the EFI image loader: no booter in this build")
	}
	var others []*Image
	for _, o := range e.images {
		if !o.Hidden {
			others = append(others, o)
		}
	}
	if f := e.imgx.fdt; f != nil {
		blob, err := CheckFDT(f.Data)
		if err != nil {
			return Errorf(EINVAL, "%s is not a flattened device tree: %v", f.Name, err)
		}
		if err := e.env.DeviceTree.InstallFDT(blob); err != nil {
			return fmt.Errorf("installing device tree %s: %w", f.Name, err)
		}
		defer func() {
			if err := e.env.DeviceTree.RestoreFDT(); err != nil {
				e.printf("Could not restore the firmware's device tree: %v\n", err)
			}
		}()
	}
	err := e.env.Booter.Boot(ctx, BootRequest{Image: img, Images: others})
	if s := e.imgx.shim; s != nil && errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w; snp-go cannot start it through shim %s as iPXE would (snp-go offers no file system the shim could load it from)", err, s.Name)
	}
	return err
}
