//go:build tamago && arm64

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/snp-go/snp-go/efi"
	"github.com/snp-go/snp-go/net/dhcp"
	"github.com/snp-go/snp-go/net/fetch"
	"github.com/snp-go/snp-go/net/ipstack"
	"github.com/snp-go/snp-go/net/ntp"
	"github.com/snp-go/snp-go/net/pxe"
	"github.com/snp-go/snp-go/script"
	"github.com/snp-go/snp-go/script/lineedit"
	"github.com/snp-go/snp-go/script/settings"
)

// console polls EFI Simple Text Input and feeds the script engine's
// console. U-Boot's EFI console turns the serial line's escape sequences
// into scan codes (UEFI 2.10 §12.3, Table 12.4).
func (p *efiPlatform) console() *lineedit.Console {
	c := lineedit.NewConsole(efi.Console{})
	go func() {
		for {
			k, ok, err := efi.ReadKey()
			if err != nil {
				c.CloseInput()
				return
			}
			if !ok {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			if key, ok := efiKey(k); ok {
				c.Put(key)
			}
		}
	}()
	return c
}

// efiKey maps an EFI_INPUT_KEY to a line editor key.
func efiKey(k efi.Key) (lineedit.Key, bool) {
	switch k.ScanCode {
	case 0:
		if k.UnicodeChar == 0 {
			return 0, false
		}
		if k.UnicodeChar == 0x7f {
			return lineedit.KeyBackspace, true
		}
		if k.UnicodeChar == '\n' {
			return lineedit.KeyEnter, true
		}
		return lineedit.Key(k.UnicodeChar), true
	case efi.ScanUp:
		return lineedit.KeyUp, true
	case efi.ScanDown:
		return lineedit.KeyDown, true
	case efi.ScanRight:
		return lineedit.KeyRight, true
	case efi.ScanLeft:
		return lineedit.KeyLeft, true
	case efi.ScanHome:
		return lineedit.KeyHome, true
	case efi.ScanEnd:
		return lineedit.KeyEnd, true
	case efi.ScanInsert:
		return lineedit.KeyInsert, true
	case efi.ScanDelete:
		return lineedit.KeyDelete, true
	case efi.ScanEsc:
		return lineedit.KeyEsc, true
	}
	return 0, false
}

// env builds the script engine's environment on the firmware.
func (p *efiPlatform) env(con *lineedit.Console) script.Env {
	e := script.Env{
		Console: con,
		Booter:  efiBooter{p},
		System:  efiSystem{},
		Trust:   efiTrust{},
		Certs:   &certStore,
		Version: version,
		Now:     p.now,
	}
	if _, err := p.Network(); err != nil {
		fmt.Printf("snp-go: network unavailable: %v\n", err)
	} else {
		nl := &efiLinks{p: p}
		e.Links, e.Pinger, e.Resolver, e.TimeSync, e.VLANs, e.Fetcher = nl, nl, nl, nl, nl, nl
	}
	e.SAN = p.san()
	e.DeviceTree = &efiDeviceTree{} // fdt (fdt_efi.go)
	return e
}

// now is the wall clock: the runtime clock (set from EFI GetTime) plus
// whatever NTP found it to be off by.
func (p *efiPlatform) now() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Now().Add(p.ntpOffset)
}

// efiLinks is the network seen by the script engine.
type efiLinks struct {
	p *efiPlatform

	mu     sync.Mutex
	closed map[string]bool
}

func (l *efiLinks) net() *network { return l.p.net }

func (l *efiLinks) Interfaces() []script.Interface {
	var out []script.Interface
	for _, ifc := range l.net().stack.Interfaces() {
		st := ifc.Stats()
		up := true
		if nic := l.net().physical(ifc.Name()); nic != nil {
			up, _ = nic.MediaPresent()
		}
		l.mu.Lock()
		open := !l.closed[ifc.Name()]
		l.mu.Unlock()
		out = append(out, script.Interface{
			Name: ifc.Name(), MAC: ifc.MAC(), Chip: "EFI SNP", Open: open, Link: up,
			TXPackets: st.TxFrames, TXErrors: st.TxErrors, RXPackets: st.RxFrames, RXErrors: st.RxErrors,
		})
	}
	return out
}

func (l *efiLinks) iface(name string) (*ipstack.Interface, error) {
	ifc := l.net().stack.Interface(name)
	if ifc == nil {
		return nil, fmt.Errorf("%s: no such interface", name)
	}
	return ifc, nil
}

func (l *efiLinks) Open(ctx context.Context, name string) error {
	if _, err := l.iface(name); err != nil {
		return err
	}
	l.mu.Lock()
	delete(l.closed, name)
	l.mu.Unlock()
	return nil
}

func (l *efiLinks) Close(ctx context.Context, name string) error {
	ifc, err := l.iface(name)
	if err != nil {
		return err
	}
	l.mu.Lock()
	if l.closed == nil {
		l.closed = map[string]bool{}
	}
	l.closed[name] = true
	l.mu.Unlock()
	return ifc.Configure(ipstack.Config{})
}

func (l *efiLinks) WaitLink(ctx context.Context, name string) error {
	if _, err := l.iface(name); err != nil {
		return err
	}
	nic := l.net().physical(name)
	for nic != nil {
		if up, known := nic.MediaPresent(); up || !known {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

func (l *efiLinks) DHCP(ctx context.Context, name string) (settings.Lease, error) {
	ifc, err := l.iface(name)
	if err != nil {
		return settings.Lease{}, err
	}
	lease, err := dhcp.Run(ctx, ifc, dhcp.Options{})
	if err != nil {
		return settings.Lease{}, err
	}
	return settingsLease(lease), nil
}

// PXEBootServer is PXE boot server discovery for the engine's menu boot:
// the targets come from the menu's option 43.
func (l *efiLinks) PXEBootServer(ctx context.Context, name string, typ uint16, opt43 []byte) (settings.Lease, error) {
	ifc, err := l.iface(name)
	if err != nil {
		return settings.Lease{}, err
	}
	o, err := pxe.Parse(opt43)
	if err != nil {
		return settings.Lease{}, err
	}
	attempt, accept := o.Targets(typ)
	bs, err := dhcp.BootServer(ctx, ifc, dhcp.Options{}, typ, attempt, accept)
	if err != nil {
		return settings.Lease{}, err
	}
	return settings.Lease{Options: bs.Options, ServerIP: bs.NextServer, BootFile: bs.BootFile}, nil
}

// settingsLease hands a DHCP lease, and the ProxyDHCP answer that came
// with it, to the script engine.
func settingsLease(l *dhcp.Lease) settings.Lease {
	sl := settings.Lease{Options: l.Options, YourIP: l.ClientIP, ServerIP: l.NextServer, BootFile: l.BootFile}
	if p := l.Proxy; p != nil {
		sl.Proxy = &settings.Lease{Options: p.Options, ServerIP: p.NextServer, BootFile: p.BootFile}
		sl.ProxyFrom = fmt.Sprintf("%v (%s)", p.Server, p.Via)
	}
	if l.ProxyError != nil {
		sl.ProxyNote = l.ProxyError.Error()
	}
	return sl
}

func (l *efiLinks) Ping(ctx context.Context, host string, size int, seq int) (script.PingReply, error) {
	a, err := l.Lookup(ctx, host)
	if err != nil {
		return script.PingReply{}, err
	}
	var r script.PingReply
	_, err = l.net().stack.Ping(ctx, a, ipstack.PingOptions{Count: 1, Size: size, OnReply: func(p ipstack.PingReply) {
		r = script.PingReply{From: p.From, Size: p.Size, RTT: p.RTT}
	}})
	return r, err
}

func (l *efiLinks) Lookup(ctx context.Context, name string) (netip.Addr, error) {
	return l.net().resolver.LookupHost(ctx, name)
}

func (l *efiLinks) NTP(ctx context.Context, server string) (time.Time, error) {
	a, err := l.Lookup(ctx, server)
	if err != nil {
		return time.Time{}, err
	}
	r, err := ntp.Query(ctx, l.net().stack, netip.AddrPortFrom(a, 123), l.p.now)
	if err != nil {
		return time.Time{}, err
	}
	l.p.mu.Lock()
	l.p.ntpOffset += r.Offset
	l.p.clock = "NTP " + server
	l.p.mu.Unlock()
	return r.Time, nil
}

func (l *efiLinks) Create(ctx context.Context, trunk string, tag, priority int) (string, error) {
	return l.net().createVLAN(trunk, tag, priority)
}

func (l *efiLinks) Destroy(ctx context.Context, name string) error {
	return l.net().destroyVLAN(name)
}

func (l *efiLinks) Fetch(ctx context.Context, uri string, progress func(done, total int64)) ([]byte, error) {
	return l.FetchRequest(ctx, script.Request{URI: uri}, progress)
}

// FetchRequest implements script.RequestFetcher: a URI with ##params
// (an HTTP POST form, extra headers).
func (l *efiLinks) FetchRequest(ctx context.Context, req script.Request, progress func(done, total int64)) ([]byte, error) {
	uri := req.URI
	var buf bytes.Buffer
	opts := fetch.Options{}
	if req.Method != "" || req.Body != nil || req.Header != nil {
		opts.Request = &fetch.Request{Method: req.Method, ContentType: req.ContentType, Body: req.Body, Header: req.Header}
	}
	if progress != nil {
		opts.Progress = func(p fetch.Progress) { progress(p.Bytes, p.Total) }
	}
	if _, err := l.net().fetch.Fetch(ctx, uri, &buf, opts); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// efiBooter starts EFI images from memory: LoadImage, LoadOptions,
// StartImage (UEFI 2.10 §7.4).
type efiBooter struct{ p *efiPlatform }

func (b efiBooter) Boot(ctx context.Context, req script.BootRequest) error {
	return b.p.startImage(req.Image.Data, nil, req.Image.CommandLine(), req.Image.Name)
}

// startImage loads an image from memory (src) or from a device path,
// gives it its command line and starts it. While it runs, snp-go's own
// watchdog re-arming stops: as for any boot option, the image gets the
// 5-minute watchdog (UEFI 2.10 §3.1.2) and manages it itself.
func (p *efiPlatform) startImage(src []byte, dp []byte, cmdline, name string) error {
	if src != nil {
		buf, err := efi.AllocatePool(len(src))
		if err != nil {
			return err
		}
		defer efi.FreePool(buf)
		mem := unsafe.Slice((*byte)(buf), len(src))
		copy(mem, src)
		src = mem
	}
	h, err := efi.LoadImage(dp, src)
	if errors.Is(err, efi.SecurityViolation) || errors.Is(err, efi.AccessDenied) {
		// UEFI 2.10 §7.4.1: on EFI_SECURITY_VIOLATION the image was loaded
		// but policy forbids starting it: unload it; on EFI_ACCESS_DENIED
		// nothing was loaded. With Secure Boot on (§32.4) both mean its
		// signature (or hash) is not in db, or is in dbx.
		if h != 0 {
			efi.UnloadImage(h)
		}
		return &secureBootRefusal{name: name, err: err}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if cmdline != "" {
		if err := efi.SetLoadOptions(h, cmdline); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	p.stopWatch()
	efi.SetWatchdogTimer(5 * time.Minute)
	st, data, err := efi.StartImage(h)
	p.stopWatch = restartWatchdog()
	if err != nil {
		if data != "" {
			return fmt.Errorf("%s exited with %v: %s", name, st, data)
		}
		return fmt.Errorf("%s exited with %v", name, st)
	}
	return nil
}

// secureBootRefusal is the firmware refusing to load an image: with Secure
// Boot on, one whose signature its db does not trust. Scripts see EACCES.
type secureBootRefusal struct {
	name string
	err  error
}

func (e *secureBootRefusal) Error() string {
	sb := "Secure Boot is off or unknown"
	if on, known := efi.SecureBoot(); known && on {
		sb = "Secure Boot is on"
	}
	return fmt.Sprintf("%s: the firmware refused to load it (%v; %s): it is not signed by a key in the firmware's db (or it is in dbx); sign it with a trusted key", e.name, e.err, sb)
}

func (e *secureBootRefusal) Unwrap() []error { return []error{e.err, fs.ErrPermission} }

// efiSystem resets or powers off through Runtime Services (§8.5.1).
type efiSystem struct{}

func (efiSystem) Reboot(ctx context.Context, mode script.RebootMode) error {
	kind := uintptr(0) // EfiResetCold
	if mode != script.RebootCold {
		kind = 1 // EfiResetWarm
	}
	return efi.ResetSystem(kind)
}

func (efiSystem) PowerOff(ctx context.Context) error { return efi.ResetSystem(2) }

var _ = strconv.Itoa
