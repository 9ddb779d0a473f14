package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/snp-go/snp-go/blockio/gptfat"
	"github.com/snp-go/snp-go/chap"
	"github.com/snp-go/snp-go/internal/certstore"
	"github.com/snp-go/snp-go/iscsi"
	"github.com/snp-go/snp-go/net/fetch"
	"github.com/snp-go/snp-go/san"
	"github.com/snp-go/snp-go/script"
	"github.com/snp-go/snp-go/script/settings"
)

func addr4(b []byte) netip.Addr { return netip.AddrFrom4([4]byte(b)) }

// hostLinks shows one host interface as net0. It never changes the host's
// network: open/close only mark the interface, and "DHCP" reports the
// host's own IPv4 address plus the --dhcp options.
type hostLinks struct {
	mu    sync.Mutex
	name  string // host interface name
	mac   []byte
	ip    netip.Prefix
	open  bool
	lease settings.Lease
}

func newHostLinks(want string, lease settings.Lease) (*hostLinks, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing host interfaces: %w", err)
	}
	for _, i := range ifs {
		if want != "" && i.Name != want {
			continue
		}
		if want == "" && (i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0) {
			continue
		}
		l := &hostLinks{name: i.Name, mac: i.HardwareAddr, lease: lease}
		if addrs, err := i.Addrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
					ones, _ := n.Mask.Size()
					l.ip = netip.PrefixFrom(addr4(n.IP.To4()), ones)
					break
				}
			}
		}
		return l, nil
	}
	if want != "" {
		return nil, fmt.Errorf("--iface %s: no such host interface", want)
	}
	// No usable interface (a container without network): a placeholder
	// that still lets scripts run with --dhcp options.
	return &hostLinks{name: "none", mac: make([]byte, 6), lease: lease}, nil
}

func (l *hostLinks) Interfaces() []script.Interface {
	l.mu.Lock()
	defer l.mu.Unlock()
	return []script.Interface{{Name: "net0", MAC: l.mac, Chip: "host interface " + l.name, Open: l.open, Link: true}}
}

func (l *hostLinks) check(name string) error {
	if name != "net0" {
		return fmt.Errorf("%s: %w", name, os.ErrNotExist)
	}
	return nil
}

func (l *hostLinks) Open(ctx context.Context, name string) error {
	if err := l.check(name); err != nil {
		return err
	}
	l.mu.Lock()
	l.open = true
	l.mu.Unlock()
	return nil
}

func (l *hostLinks) Close(ctx context.Context, name string) error {
	if err := l.check(name); err != nil {
		return err
	}
	l.mu.Lock()
	l.open = false
	l.mu.Unlock()
	return nil
}

func (l *hostLinks) WaitLink(ctx context.Context, name string) error { return l.check(name) }

func (l *hostLinks) DHCP(ctx context.Context, name string) (settings.Lease, error) {
	if err := l.check(name); err != nil {
		return settings.Lease{}, err
	}
	lease := settings.Lease{Options: map[uint8][]byte{}, YourIP: l.lease.YourIP, ServerIP: l.lease.ServerIP}
	if !lease.YourIP.IsValid() && l.ip.IsValid() {
		lease.YourIP = l.ip.Addr()
		if _, ok := l.lease.Options[1]; !ok {
			m := net.CIDRMask(l.ip.Bits(), 32)
			lease.Options[1] = []byte(m)
		}
	}
	for k, v := range l.lease.Options {
		lease.Options[k] = v
	}
	return lease, nil
}

// hostFetcher fetches http and https with snp-go's own fetch code (the
// EFI build's) over the host's sockets, and file: URIs from disk.
type hostFetcher struct {
	client *fetch.Client
	http   *fetch.HTTP
}

func newHostFetcher(caFiles []string, store *certstore.Store) (*hostFetcher, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	source := "system roots"
	for _, f := range caFiles {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in the file", f)
		}
		source += " + " + f
	}
	d := &net.Dialer{}
	h, err := fetch.NewHTTP(fetch.HTTPConfig{Dial: d.DialContext, Trust: &fetch.Trust{Pool: pool, Source: source}, UserAgent: "snpctl", Store: store})
	if err != nil {
		return nil, err
	}
	c := fetch.NewClient()
	c.Register("http", h)
	c.Register("https", h)
	return &hostFetcher{client: c, http: h}, nil
}

func (f *hostFetcher) Fetch(ctx context.Context, uri string, progress func(done, total int64)) ([]byte, error) {
	return f.FetchRequest(ctx, script.Request{URI: uri}, progress)
}

// FetchRequest implements script.RequestFetcher: a URI with ##params.
func (f *hostFetcher) FetchRequest(ctx context.Context, req script.Request, progress func(done, total int64)) ([]byte, error) {
	uri := req.URI
	u, err := url.Parse(uri)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "file" {
		return os.ReadFile(u.Path)
	}
	var buf bytes.Buffer
	opts := fetch.Options{Request: fetchRequest(req)}
	if progress != nil {
		opts.Progress = func(p fetch.Progress) { progress(p.Bytes, p.Total) }
	}
	if _, err := f.client.Fetch(ctx, uri, &buf, opts); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// hostResolver uses the host's resolver.
type hostResolver struct{}

func (hostResolver) Lookup(ctx context.Context, name string) (netip.Addr, error) {
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", name)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("%s: no IPv4 address", name)
	}
	return addrs[0], nil
}

// hostPinger: ICMP needs raw sockets on the host; snpctl does not use them.
type hostPinger struct{}

func (hostPinger) Ping(ctx context.Context, host string, size, seq int) (script.PingReply, error) {
	return script.PingReply{}, fmt.Errorf("ping is %w on the host (it needs raw ICMP sockets); the EFI build pings through its own stack", script.ErrNotAvailable)
}

// hostBooter prints what it would boot and ends the run.
type hostBooter struct {
	out    io.Writer
	finish func()
}

func (b *hostBooter) Boot(ctx context.Context, r script.BootRequest) error {
	img := r.Image
	fmt.Fprintf(b.out, "would boot %s (%d bytes, %s)\n", img.Name, len(img.Data), describePE(img.Data))
	fmt.Fprintf(b.out, "  from %s\n  command line: %q\n", img.URI, img.CommandLine())
	for _, o := range r.Images {
		if o != img {
			fmt.Fprintf(b.out, "  with image %s (%d bytes, %s)\n", o.Name, len(o.Data), o.Kind())
		}
	}
	b.finish()
	return nil
}

func describePE(data []byte) string {
	m, err := gptfat.PEMachine(data)
	switch {
	case err != nil:
		return err.Error()
	case m == gptfat.MachineARM64:
		return "PE/COFF arm64"
	case m == gptfat.MachineAMD64:
		return "PE/COFF x86-64: will not run on arm64"
	}
	return fmt.Sprintf("PE/COFF machine %#04x: will not run on arm64", m)
}

// hostSAN opens SAN disks with package san (snp-go's own code: iSCSI
// with snp-go's initiator, HTTP range reads) and, on boot, reads the GPT
// and the EFI System Partition through the read cache to find the boot
// file.
type hostSAN struct {
	out         io.Writer
	defaultFile string
	finish      func()
	http        *http.Client // for http(s):// root paths
	mu          sync.Mutex
	drives      map[int]*san.Drive
}

// dryRun is snpctl's san.Installer: it says what was opened and keeps it
// as drive.
type dryRun struct {
	s     *hostSAN
	iqn   string
	drive int
}

func (r dryRun) Install(ctx context.Context, d *san.Drive) error {
	if id := d.ISCSI(); id != nil {
		inq := id.Inquiry()
		fmt.Fprintf(r.s.out, "iSCSI: logged in to %s as %s: %d blocks of %d bytes (%s)\n",
			d.RootPath, r.iqn, id.Blocks(), id.BlockSize(), strings.TrimSpace(fmt.Sprintf("%s %s", inq.Vendor, inq.Product)))
	} else {
		fmt.Fprintf(r.s.out, "SAN: %s\n", d.Describe())
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.s.drives == nil {
		r.s.drives = map[int]*san.Drive{}
	}
	if old := r.s.drives[r.drive]; old != nil {
		old.Close()
	}
	r.s.drives[r.drive] = d
	return nil
}

func (s *hostSAN) Hook(ctx context.Context, rootPaths []string, cfg script.SANConfig) (int, error) {
	c := cfg.Credentials
	iqn := c.InitiatorIQN
	if iqn == "" {
		host, _ := os.Hostname()
		var err error
		if iqn, err = iscsi.DefaultInitiatorName(host, [16]byte{}); err != nil {
			return 0, fmt.Errorf("no initiator-iqn setting and none can be derived: %w", err)
		}
	}
	_, err := san.Open(ctx, rootPaths, san.Config{
		HTTP:          s.http,
		InitiatorName: iqn,
		Credentials: chap.Credentials{
			Username: c.Username, Password: secret(c.Password),
			ReverseUsername: c.ReverseUsername, ReversePassword: secret(c.ReversePassword),
		},
		Retries: cfg.Retries,
		Logf:    func(f string, a ...any) { fmt.Fprintf(s.out, f+"\n", a...) },
	}, dryRun{s: s, iqn: iqn, drive: cfg.Drive})
	if err != nil {
		return 0, err
	}
	return cfg.Drive, nil
}

func secret(s string) chap.Secret {
	if s == "" {
		return chap.Secret{}
	}
	return chap.NewSecret(s)
}

func (s *hostSAN) disk(drive int) (*san.Drive, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.drives[drive]
	if d == nil {
		return nil, fmt.Errorf("no SAN device %#02x is hooked: %w", drive, os.ErrNotExist)
	}
	return d, nil
}

func (s *hostSAN) Boot(ctx context.Context, drive int, cfg script.SANConfig) error {
	sd, err := s.disk(drive)
	if err != nil {
		return err
	}
	d := sd.Cache
	br := &gptfat.BlockReader{BlockSize: d.BlockSize(), Blocks: d.NumBlocks(), Read: d.ReadBlocks}
	parts, err := gptfat.ReadGPT(br, br.BlockSize, br.Blocks)
	if err != nil {
		return fmt.Errorf("SAN device %#02x: %w", drive, err)
	}
	file := cfg.Filename
	if file == "" {
		file = s.defaultFile
	}
	var tried []string
	for _, p := range parts {
		if !p.IsESP() {
			continue
		}
		off := int64(p.FirstLBA) * int64(br.BlockSize)
		size := int64(p.LastLBA-p.FirstLBA+1) * int64(br.BlockSize)
		fsys, err := gptfat.OpenFAT(io.NewSectionReader(br, off, size), size)
		if err != nil {
			tried = append(tried, fmt.Sprintf("partition %d: %v", p.Index, err))
			continue
		}
		if cfg.Label != "" && !strings.EqualFold(fsys.Label(), cfg.Label) {
			tried = append(tried, fmt.Sprintf("partition %d: label %q is not %q", p.Index, fsys.Label(), cfg.Label))
			continue
		}
		data, err := fsys.ReadFile(file, 1<<30)
		if err != nil {
			tried = append(tried, fmt.Sprintf("partition %d (%s %q): %v; %s", p.Index, fsys.Type(), fsys.Label(), err, listBootDir(fsys)))
			continue
		}
		fmt.Fprintf(s.out, "would boot %s from SAN device %#02x, partition %d %q (EFI System Partition, %s %q)\n",
			file, drive, p.Index, p.Name, fsys.Type(), fsys.Label())
		fmt.Fprintf(s.out, "  %d bytes, %s\n", len(data), describePE(data))
		if cfg.UUID != "" || cfg.Extra != "" {
			fmt.Fprintf(s.out, "  note: --uuid and --extra are not checked by the dry run\n")
		}
		s.finish()
		return nil
	}
	if len(tried) == 0 {
		return fmt.Errorf("SAN device %#02x: no EFI System Partition among %d partitions: %w", drive, len(parts), os.ErrNotExist)
	}
	return fmt.Errorf("SAN device %#02x: no bootable %s: %s: %w", drive, file, strings.Join(tried, "; "), os.ErrNotExist)
}

func listBootDir(fsys *gptfat.FS) string {
	ents, err := fsys.ReadDir(`\EFI\BOOT`)
	if err != nil {
		return `no \EFI\BOOT directory`
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name)
	}
	sort.Strings(names)
	return `\EFI\BOOT holds ` + strings.Join(names, ", ")
}

func (s *hostSAN) Unhook(ctx context.Context, drive int) error {
	d, err := s.disk(drive)
	if err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.drives, drive)
	s.mu.Unlock()
	return d.Close()
}

func (s *hostSAN) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, d := range s.drives {
		d.Close()
		delete(s.drives, k)
	}
}

// fetchRequest is req's method, body and headers for net/fetch (nil for
// a plain GET).
func fetchRequest(req script.Request) *fetch.Request {
	if req.Method == "" && req.Body == nil && req.Header == nil {
		return nil
	}
	return &fetch.Request{Method: req.Method, ContentType: req.ContentType, Body: req.Body, Header: req.Header}
}
