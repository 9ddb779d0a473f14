package script

import (
	"context"
	"strings"
	"time"

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
		// A PXE boot menu (option 43 sub-option 9, PXE 2.1) instead of a
		// file: iPXE would show it and discover a boot server.
		if _, _, ok := e.settingFrom("43.9"); ok {
			return Errorf(ENOTSUP, "Nothing to boot: DHCP on %s gave a PXE boot menu (option 43.9) but no filename; snp-go has no PXE boot menus or boot server discovery yet: give a filename (dnsmasq: a single pxe-service line and no pxe-prompt, or dhcp-boot)", i.Name)
		}
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
