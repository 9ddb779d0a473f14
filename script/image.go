package script

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
)

// Image is a downloaded (or embedded) file registered with the engine:
// a script, an EFI executable, or data such as an initrd.
type Image struct {
	Name     string // unique name, by default the last segment of the URI path
	URI      string // where it came from ("" if not downloaded)
	Data     []byte
	Args     string // command line set with imgargs or after the URI
	Selected bool   // chosen with imgselect/kernel: what a bare `boot` runs
	AutoFree bool   // unregister after it has been executed
	Trusted  bool   // verified with imgverify (iPXE IMAGE_TRUSTED)
	Hidden   bool   // not offered to a booted image: the fdt or shim (iPXE IMAGE_HIDDEN)
}

// Kind names what the image is, judged from its first bytes.
func (img *Image) Kind() string {
	switch {
	case IsScript(img.Data):
		return "script"
	case IsEFIImage(img.Data):
		return "efi"
	case archiveKind(img.Data) != "":
		return archiveKind(img.Data)
	}
	return "data"
}

// CommandLine is what an EFI image gets as its LoadOptions: its name,
// then its arguments, as iPXE passes them.
func (img *Image) CommandLine() string {
	if img.Args == "" {
		return img.Name
	}
	return img.Name + " " + img.Args
}

// Images returns the registered images in registration order.
func (e *Engine) Images() []*Image { return append([]*Image(nil), e.images...) }

// RegisterImage adds img, replacing any image of the same name.
func (e *Engine) RegisterImage(img *Image) {
	e.unregister(img.Name)
	e.images = append(e.images, img)
}

func (e *Engine) unregister(name string) {
	for i, o := range e.images {
		if o.Name == name {
			e.images = append(e.images[:i], e.images[i+1:]...)
			return
		}
	}
}

func (e *Engine) findImage(name string) *Image {
	for _, img := range e.images {
		if img.Name == name {
			return img
		}
	}
	return nil
}

// imageName is the default name of an image fetched from uri: the last
// segment of its path (iPXE image_set_uri).
func imageName(uri string) string {
	u, err := url.Parse(uri)
	p := uri
	if err == nil {
		p = u.Path
		if p == "" {
			p = u.Opaque
		}
	}
	n := path.Base(p)
	if n == "." || n == "/" || n == "" {
		return "image"
	}
	return n
}

// fetch downloads uri (resolved against the current URI) into a new,
// registered image.
func (e *Engine) fetch(ctx context.Context, cmd, ref string, quiet bool) (*Image, error) {
	ref, params := e.takeParams(ref) // "##params": see cmd_params.go
	uri, err := e.resolveURI(ref)
	if err != nil {
		return nil, err
	}
	if e.env.Fetcher == nil {
		return nil, notAvailable(cmd, "the network: no fetcher in this build")
	}
	fetch := e.env.Fetcher.Fetch
	if params != nil {
		req, err := params.request(uri)
		if err != nil {
			return nil, err
		}
		fetch = func(ctx context.Context, uri string, progress func(done, total int64)) ([]byte, error) {
			return e.fetchRequest(ctx, cmd, req, progress)
		}
	}
	var last int64 = -1
	progress := func(done, total int64) {
		if quiet || total <= 0 {
			return
		}
		pct := done * 100 / total
		if pct != last {
			if last >= 0 {
				e.printf("\b\b\b\b")
			}
			e.printf("%3d%%", pct)
			last = pct
		}
	}
	if !quiet {
		e.printf("%s... ", redactURI(uri))
	}
	data, err := fetch(ctx, uri, progress)
	if last >= 0 {
		e.printf("\b\b\b\b    \b\b\b\b")
	}
	if err != nil {
		if !quiet {
			e.printf("failed\n")
		}
		return nil, &Error{Errno: StatusOf(err), Err: fmt.Errorf("fetching %s: %w", redactURI(uri), err)}
	}
	if !quiet {
		e.printf("ok\n")
	}
	img := &Image{Name: imageName(uri), URI: uri, Data: data}
	e.RegisterImage(img)
	return img, nil
}

// redactURI hides a password in a URI's user information.
func redactURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return uri
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "<hidden>")
		return strings.Replace(u.String(), "%3Chidden%3E", "<hidden>", 1)
	}
	return uri
}

// acquire finds a registered image by name, or fetches it as a URI
// (iPXE imgacquire).
func (e *Engine) acquire(ctx context.Context, cmd, nameOrURI string, quiet bool) (*Image, error) {
	if img := e.findImage(nameOrURI); img != nil {
		return img, nil
	}
	return e.fetch(ctx, cmd, nameOrURI, quiet)
}

// execImage runs an image: a script in place, an EFI image through the
// Booter. While it runs, relative URIs resolve against its URI.
func (e *Engine) execImage(ctx context.Context, img *Image) error {
	if err := e.checkTrusted(img); err != nil {
		return err
	}
	savedURI := e.cwuri
	if img.URI != "" {
		e.cwuri = img.URI
	}
	// Like iPXE's image_exec, the image is unregistered while it runs: a
	// running script is not an initrd of the kernel it boots.
	e.unregister(img.Name)
	defer func() {
		e.cwuri = savedURI
		if !img.AutoFree && e.findImage(img.Name) == nil {
			e.images = append(e.images, img)
		}
	}()
	switch img.Kind() {
	case "script":
		err := e.RunScript(ctx, img.Name, img.Data)
		var se *ScriptError
		if errors.As(err, &se) {
			// The script has reported its own failure.
			return &Error{Errno: StatusOf(err), Err: err, Quiet: true}
		}
		return err
	case "efi":
		return e.bootEFI(ctx, img)
	case "gzip", "zlib":
		return e.execArchive(ctx, img)
	}
	return Errorf(ENOEXEC, "%s is neither an iPXE script (#!ipxe) nor an EFI executable (PE/COFF)", img.Name)
}

func imageCommands() []*Command {
	single := []Option{{"name", 'n', true}, {"timeout", 't', true}, {"quiet", 'q', false}, {"autofree", 'a', false}}
	exec := append(append([]Option(nil), single...), Option{"replace", 'r', false})
	var cmds []*Command
	for _, n := range []string{"imgfetch", "module", "initrd"} {
		cmds = append(cmds, &Command{Name: n, Summary: "Download an image", Usage: "<uri> [<arguments>...]",
			Options: single, Min: 1, Max: -1, Run: imgfetchRun})
	}
	for _, n := range []string{"imgselect", "imgload", "kernel"} {
		cmds = append(cmds, &Command{Name: n, Summary: "Select an image to boot", Usage: "<uri|image> [<arguments>...]",
			Options: single, Min: 1, Max: -1, Run: imgselectRun})
	}
	for _, n := range []string{"imgexec", "chain", "boot"} {
		cmds = append(cmds, &Command{Name: n, Summary: "Download (if needed) and run an image", Usage: "[<uri|image> [<arguments>...]]",
			Options: exec, Min: 0, Max: -1, Run: imgexecRun})
	}
	cmds = append(cmds,
		&Command{Name: "imgargs", Summary: "Set an image's command line", Usage: "<uri|image> [<arguments>...]",
			Options: single, Min: 1, Max: -1, Run: imgargsRun},
		&Command{Name: "imgstat", Summary: "List images", Usage: "[<image>...]", Max: -1, Run: imgstatRun},
		&Command{Name: "imgfree", Summary: "Free images", Usage: "[<image>...]", Max: -1, Run: imgfreeRun},
	)
	return cmds
}

// imgsingle is iPXE's imgsingle_exec: acquire the image (or use the
// selected one), then name it, set its arguments, mark it autofree.
func imgsingle(ctx context.Context, c *Call, acquire func(ctx context.Context, nameOrURI string) (*Image, error), clearArgs bool) (*Image, error) {
	timeout, err := c.Timeout("timeout")
	if err != nil {
		return nil, err
	}
	var img *Image
	if len(c.Args) > 0 {
		actx := ctx
		if timeout > 0 {
			var cancel context.CancelFunc
			actx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		if img, err = acquire(actx, c.Args[0]); err != nil {
			return nil, err
		}
	} else {
		for _, i := range c.E.images {
			if i.Selected {
				img = i
			}
		}
		if img == nil {
			return nil, Errorf(ENOENT, "No image selected")
		}
	}
	if clearArgs {
		img.Args = ""
	}
	if n, ok := c.Value("name"); ok {
		if o := c.E.findImage(n); o != nil && o != img {
			c.E.unregister(n)
		}
		img.Name = n
	}
	if len(c.Args) > 1 {
		img.Args = strings.Join(c.Args[1:], " ")
	}
	if c.Flag("autofree") {
		img.AutoFree = true
	}
	return img, nil
}

func imgfetchRun(ctx context.Context, c *Call) error {
	_, err := imgsingle(ctx, c, func(ctx context.Context, uri string) (*Image, error) {
		return c.E.fetch(ctx, c.Name, uri, c.Flag("quiet"))
	}, false)
	return err
}

func (c *Call) acquire(ctx context.Context, nameOrURI string) (*Image, error) {
	return c.E.acquire(ctx, c.Name, nameOrURI, c.Flag("quiet"))
}

func imgselectRun(ctx context.Context, c *Call) error {
	img, err := imgsingle(ctx, c, c.acquire, false)
	if err != nil {
		return err
	}
	for _, i := range c.E.images {
		i.Selected = false
	}
	img.Selected = true
	return nil
}

func imgexecRun(ctx context.Context, c *Call) error {
	img, err := imgsingle(ctx, c, c.acquire, false)
	if err != nil {
		return err
	}
	if c.Flag("replace") && c.E.frame != nil {
		// Refuse an untrusted replacement now, while the script can say so.
		if err := c.E.checkTrusted(img); err != nil {
			return &Error{Errno: StatusOf(err), Err: fmt.Errorf("Could not boot %s: %w", img.Name, err)}
		}
		c.E.replace = img
		c.E.shellStop(stopSequence)
		return nil
	}
	if err := c.E.execImage(ctx, img); err != nil {
		if isQuiet(err) {
			return err
		}
		return &Error{Errno: StatusOf(err), Err: fmt.Errorf("Could not boot %s: %w", img.Name, err)}
	}
	return nil
}

func imgargsRun(ctx context.Context, c *Call) error {
	_, err := imgsingle(ctx, c, c.acquire, true)
	return err
}

func imgmulti(c *Call, f func(*Image)) error {
	if len(c.Args) == 0 {
		for _, img := range c.E.Images() {
			f(img)
		}
		return nil
	}
	for _, n := range c.Args {
		img := c.E.findImage(n)
		if img == nil {
			return Errorf(ENOENT, "%q: no such image", n)
		}
		f(img)
	}
	return nil
}

func imgstatRun(ctx context.Context, c *Call) error {
	return imgmulti(c, func(img *Image) {
		flags := ""
		if img.Selected {
			flags += " [SELECTED]"
		}
		flags += c.E.imgxFlags(img)
		if img.Trusted {
			flags += " [TRUSTED]"
		}
		if img.AutoFree {
			flags += " [AUTOFREE]"
		}
		if img.Hidden {
			flags += " [HIDDEN]"
		}
		c.E.printf("%s : %d bytes [%s]%s", img.Name, len(img.Data), img.Kind(), flags)
		if img.Args != "" {
			c.E.printf(" \"%s\"", img.Args)
		}
		c.E.printf("\n")
	})
}

func imgfreeRun(ctx context.Context, c *Call) error {
	return imgmulti(c, func(img *Image) { c.E.unregister(img.Name) })
}
