package script

import (
	"context"
	"strings"
	"time"

	"github.com/snp-go/snp-go/net/pxe"
	"github.com/snp-go/snp-go/script/lineedit"
	"github.com/snp-go/snp-go/script/settings"
)

// DefaultScript is what snp-go runs when it was built without EMBED=:
// iPXE's autoboot (DHCP, then chain the DHCP filename or boot the
// root-path), and the shell if that does not boot anything.
const DefaultScript = `#!ipxe
# snp-go default boot script (build with EMBED=file.ipxe to replace it).
autoboot && exit ||
echo snp-go: network boot did not succeed (error ${errno}); starting the shell.
echo Type "help" for the list of commands, "exit" to return to the firmware.
shell
`

// ShellPromptText and ShellPromptTimeout are iPXE's start-up banner
// prompt, for snp-go. ShellPromptTimeout is the default of the build
// option BANNER_TIMEOUT (iPXE's config/general.h: 20 tenths of a second).
const (
	ShellPromptText    = "Press Ctrl-B for the snp-go command line..."
	ShellPromptTimeout = 2 * time.Second
)

// PromptShell shows "Press Ctrl-B for the snp-go command line..." for
// timeout and reports whether Ctrl-B was pressed. Any other key ends the
// wait early (as in iPXE's shell_banner). Unlike iPXE, which erases the
// prompt with backspaces and lets the next output overwrite it, the
// prompt line is ended: on a serial console captured to a log, the
// erased prompt and the next line would otherwise share one line. A
// timeout of zero or less shows nothing and waits for nothing (iPXE's
// BANNER_TIMEOUT=0).
func (e *Engine) PromptShell(ctx context.Context, timeout time.Duration) bool {
	if e.env.Console == nil || timeout <= 0 {
		return false
	}
	e.printf("%s", ShellPromptText)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	k, err := e.env.Console.ReadKey(ctx)
	e.printf("\n")
	return err == nil && k == lineedit.KeyCtrlB
}

// Startup is snp-go's boot flow: offer the shell for banner (the build's
// BANNER_TIMEOUT; none when zero), then run the embedded script
// (DefaultScript when embedded is empty), or the shell if Ctrl-B was
// pressed. It returns when the script ends or the shell is left with
// `exit`; the EFI application then returns to the firmware. The error is
// the script's status (*ScriptError) or nil.
func (e *Engine) Startup(ctx context.Context, embedded []byte, banner time.Duration) error {
	if e.PromptShell(ctx, banner) {
		return e.Shell(ctx)
	}
	name := "embedded.ipxe"
	if len(embedded) == 0 {
		embedded = []byte(DefaultScript)
		name = "default.ipxe"
	}
	return e.RunScript(ctx, name, embedded)
}

// autobootRun is iPXE's autoboot/netboot: for each interface, configure
// it with DHCP, run the DHCP scriptlet if there is one, then boot the
// DHCP filename (relative to next-server over TFTP unless it is a URI)
// with the root-path hooked, or boot the root-path alone.
func autobootRun(ctx context.Context, c *Call) error {
	return forInterfaces(c, true, func(i Interface) error { return c.E.netboot(ctx, i) })
}

func (e *Engine) netboot(ctx context.Context, i Interface) error {
	if err := e.ifconf(ctx, i); err != nil {
		return err
	}
	e.ifstat(i)
	if s, ok := e.Settings.Get("scriptlet"); ok && s != "" {
		return e.Exec(ctx, s)
	}
	if raw43, origin, ok := e.pxeMenu(); ok {
		return e.pxeMenuBoot(ctx, i, raw43, origin)
	}
	filename, rootPath := "", ""
	// As iPXE's fetch_next_server_and_filename: the next-server comes
	// from the scope that gave the filename (a ProxyDHCP server's file
	// lives on its next-server, not on the DHCP server's).
	origin := ""
	if f, o, ok := e.settingFrom("filename"); ok {
		filename, _ = e.Settings.Expand(f)
		origin = o
	}
	if r, ok := e.Settings.Get("root-path"); ok {
		rootPath, _ = e.Settings.Expand(r)
	}
	if filename != "" {
		if origin == settings.ProxyDHCPScope {
			e.printf("Using the ProxyDHCP filename %s\n", filename)
		}
		if !isURI(filename) {
			if ns, _, ok := e.settingFrom(originPrefix(origin) + "next-server"); ok && ns != "0.0.0.0" {
				e.printf("Next server: %s\n", ns)
				filename = "tftp://" + ns + "/" + strings.TrimPrefix(filename, "/")
			}
		}
	}
	if filename != "" && rootPath != "" && (!isURI(rootPath) || e.env.SAN == nil) {
		e.printf("Ignoring unsupported root path %s\n", rootPath)
		rootPath = ""
	}
	if filename == "" && rootPath == "" {
		return Errorf(ENOENT, "Nothing to boot: DHCP on %s gave neither a filename nor a root-path", i.Name)
	}
	if filename == "" {
		if e.env.SAN == nil {
			return notAvailable("sanboot", "the SAN (iSCSI) support")
		}
		cfg, err := e.sanConfig(nil)
		if err != nil {
			return err
		}
		if v, ok := e.Settings.Get("keep-san"); ok && v != "0" {
			cfg.Keep = true
		}
		return e.sanboot(ctx, []string{rootPath}, cfg)
	}
	// A filename, maybe with a root path to hook first (so that what the
	// filename boots can use the disk).
	drive := -1
	if rootPath != "" {
		cfg, err := e.sanConfig(nil)
		if err != nil {
			return err
		}
		if drive, err = e.sanHook(ctx, []string{rootPath}, cfg); err != nil {
			return err
		}
	}
	img, err := e.fetch(ctx, "chain", filename, false)
	if err == nil {
		img.AutoFree = true
		err = e.execImage(ctx, img)
	}
	if drive >= 0 {
		if v, ok := e.Settings.Get("keep-san"); !ok || v == "0" {
			if uerr := e.sanUnhook(context.WithoutCancel(ctx), drive); uerr != nil && err == nil {
				err = uerr
			}
		}
	}
	return err
}

// settingFrom returns the formatted value of setting name and the scope
// it was found in.
func (e *Engine) settingFrom(name string) (text, origin string, ok bool) {
	r, err := settings.ParseName(name)
	if err != nil {
		return "", "", false
	}
	v, err := e.Settings.Fetch(r)
	if err != nil {
		return "", "", false
	}
	text, err = v.Format()
	return text, v.Origin, err == nil
}

// originPrefix turns a scope into a setting name prefix ("" stays "").
func originPrefix(origin string) string {
	if origin == "" || origin == settings.BuiltinScope {
		return ""
	}
	return origin + "/"
}

// pxeMenu is iPXE's have_pxe_menu: the DHCP or ProxyDHCP answer says
// "PXEClient" and holds a PXE boot menu (option 43 sub-option 9), unless
// discovery control says to skip it when a filename is present. It
// returns option 43 of the scope holding the menu.
func (e *Engine) pxeMenu() ([]byte, string, bool) {
	if vc, _, ok := e.settingFrom("60"); !ok || vc != "PXEClient" {
		return nil, "", false
	}
	_, origin, ok := e.settingFrom("43.9")
	if !ok {
		return nil, "", false
	}
	raw := e.rawSetting(originPrefix(origin) + "43")
	o, err := pxe.Parse(raw)
	if err != nil || len(o.Menu) == 0 {
		return nil, "", false
	}
	if _, _, hasFile := e.settingFrom("filename"); hasFile && o.Control&pxe.SkipIfFile != 0 {
		return nil, "", false
	}
	return raw, origin, true
}

func (e *Engine) rawSetting(name string) []byte {
	r, err := settings.ParseName(name)
	if err != nil {
		return nil
	}
	v, err := e.Settings.Fetch(r)
	if err != nil {
		return nil
	}
	return v.Raw
}

// pxeMenuBoot is iPXE's pxe_menu_boot for a serial console: list the
// menu, wait for the prompt's timeout (sub-option 10; 255 waits for a
// choice, none or 0 takes the first item at once) for a digit choosing
// an item (Enter or another key: the first; Esc or Ctrl-C: cancel), then
// ask the boot servers for that item's type and boot the file the answer
// (scope "pxebs") names from its next-server. Type 0 is local boot: return.
func (e *Engine) pxeMenuBoot(ctx context.Context, i Interface, raw43 []byte, origin string) error {
	o, _ := pxe.Parse(raw43)
	e.printf("Booting from PXE menu (%s)\n", origin)
	for k, it := range o.Menu {
		e.printf("  %d. %s\n", k+1, it.Desc)
	}
	sel := 0
	if o.HasPrompt && o.PromptTimeout != 0 && e.env.Console != nil {
		var wctx context.Context
		var cancel context.CancelFunc
		if o.PromptTimeout == pxe.WaitForever {
			wctx, cancel = context.WithCancel(ctx)
		} else {
			wctx, cancel = context.WithTimeout(ctx, time.Duration(o.PromptTimeout)*time.Second)
		}
		e.printf("%s (%d)", o.PromptText, o.PromptTimeout)
		k, err := e.env.Console.ReadKey(wctx)
		cancel()
		e.printf("\n")
		switch {
		case err == nil && (k == lineedit.KeyEsc || k == lineedit.KeyCtrlC):
			return Errorf(ECANCELED, "PXE boot menu cancelled")
		case err == nil && k >= '1' && k <= '9' && int(k-'1') < len(o.Menu):
			sel = int(k - '1')
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		}
	}
	item := o.Menu[sel]
	e.printf("PXE boot menu: %s (type %#04x)\n", item.Desc, item.Type)
	if item.Type == 0 {
		return nil // local boot
	}
	bs, ok := e.env.Links.(BootServers)
	if !ok {
		return notAvailable("autoboot", "PXE boot server discovery")
	}
	lease, err := bs.PXEBootServer(ctx, i.Name, item.Type, raw43)
	if err != nil {
		return &Error{Errno: StatusOf(err), Err: err}
	}
	if e.Settings.HasScope(settings.PXEBSScope) {
		e.Settings.ClearScope(settings.PXEBSScope)
	}
	if err := settings.ApplyDHCP(e.Settings, settings.PXEBSScope, lease); err != nil {
		e.printf("%s: PXE boot server warning: %v\n", i.Name, err)
	}
	f, ok := e.Settings.Get(settings.PXEBSScope + "/filename")
	if !ok || f == "" {
		return Errorf(ENOENT, "PXE boot server for %q (type %#04x) gave no filename", item.Desc, item.Type)
	}
	filename, _ := e.Settings.Expand(f)
	ns, _ := e.Settings.Get(settings.PXEBSScope + "/next-server")
	e.printf("PXE boot server %s: filename %s\n", ns, filename)
	if !isURI(filename) && ns != "" && ns != "0.0.0.0" {
		filename = "tftp://" + ns + "/" + strings.TrimPrefix(filename, "/")
	}
	img, err := e.fetch(ctx, "chain", filename, false)
	if err != nil {
		return err
	}
	img.AutoFree = true
	return e.execImage(ctx, img)
}
