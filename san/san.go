// Package san opens SAN disks from iPXE root paths (iscsi:..., RFC 4173;
// http:// and https:// disk images read with range requests), puts the
// read cache in front of them and hands the cached disk to an Installer:
// EFI Block IO in snp-go, a dry-run reader in snpctl. It is iPXE's
// sanhook up to the point where the firmware takes over.
package san

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	stdnet "net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/snp-go/snp-go/blockio"
	"github.com/snp-go/snp-go/blockio/cache"
	"github.com/snp-go/snp-go/chap"
	"github.com/snp-go/snp-go/iscsi"
)

// requestTimeout bounds one disk request: long enough for the iSCSI
// initiator's own reconnects or the HTTP backend's retries.
const requestTimeout = 3 * time.Minute

// Config says how to reach the SAN.
type Config struct {
	// Dial opens TCP connections for iSCSI (nil: the host's dialer).
	Dial func(ctx context.Context, network, address string) (stdnet.Conn, error)
	// HTTP fetches http:// and https:// images (nil: they are refused).
	HTTP *http.Client
	// InitiatorName is the iSCSI initiator IQN (required for iscsi:).
	InitiatorName string
	Credentials   chap.Credentials
	// Retries is how often opening is retried after a failure that may
	// pass (iPXE's san-retries); a refused login is not retried.
	Retries int
	// Cache configures the read cache (zero fields: ISCSIChunkSize and
	// ISCSIReadAhead, or HTTPChunkSize and HTTPMaxReadAhead).
	Cache cache.Config
	// Logf reports progress (nil: silent).
	Logf func(format string, args ...any)
}

// Backend is an opened SAN disk.
type Backend interface {
	blockio.Disk
	// Close ends the session; afterwards the disk reports no media.
	Close() error
}

// Drive is an opened SAN disk with its read cache.
type Drive struct {
	RootPath string
	Backend  Backend
	Cache    *cache.Cache
}

// Describe is one line about the disk for the console.
func (d *Drive) Describe() string {
	ro := ""
	if d.Backend.ReadOnly() {
		ro = " (read-only)"
	}
	switch b := d.Backend.(type) {
	case *iscsiDisk:
		inq := b.d.Inquiry()
		return fmt.Sprintf("%s LUN %s: %s %s, %d x %d bytes%s", b.d.Target(), b.d.LUN(),
			strings.TrimSpace(inq.Vendor), strings.TrimSpace(inq.Product), b.NumBlocks(), b.BlockSize(), ro)
	case *HTTPDisk:
		return fmt.Sprintf("%s: %d x %d bytes%s", b.URL(), b.NumBlocks(), b.BlockSize(), ro)
	}
	return d.RootPath
}

// Close stops the cache and closes the backend.
func (d *Drive) Close() error {
	d.Cache.Close()
	return d.Backend.Close()
}

// Installer makes an opened drive usable by whatever boots from it. If
// Install fails, Open closes the drive.
type Installer interface {
	Install(ctx context.Context, d *Drive) error
}

// Open opens the first of rootPaths that answers (several = multipath),
// retrying cfg.Retries times, and hands the cached drive to inst.
func Open(ctx context.Context, rootPaths []string, cfg Config, inst Installer) (*Drive, error) {
	if len(rootPaths) == 0 {
		return nil, errors.New("san: no root path")
	}
	var err error
	for attempt := 0; attempt <= cfg.Retries; attempt++ {
		if attempt > 0 {
			cfg.logf("Retrying SAN open (%d of %d)...", attempt, cfg.Retries)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Second):
			}
		}
		var d *Drive
		if d, err = openAny(ctx, rootPaths, cfg); err == nil {
			if err = inst.Install(ctx, d); err != nil {
				d.Close()
				return nil, err
			}
			return d, nil
		}
		if !retryable(err) || ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

// retryable: a refused login (wrong secret, unknown target), a target
// that failed to authenticate itself, a bad root path or a server without
// range support will not get better by retrying.
func retryable(err error) bool {
	var le *iscsi.LoginError
	return !errors.As(err, &le) && !errors.Is(err, chap.ErrTargetAuth) && !errors.Is(err, errNoRetry) && !errors.Is(err, ErrNoRanges)
}

var errNoRetry = errors.New("not retried")

// The cache's chunk size and read-ahead (chunks) for a drive whose
// Config.Cache leaves them zero.
//
// Firmware reads Block IO synchronously and snp-go has the CPU only while
// it serves a call, so the network moves only then: read-ahead cannot
// overlap a transfer with the caller's work, it only hides the round trip
// of the next chunk, and whatever it fetches past the end of a file (Grub
// reads a kernel, then an initrd elsewhere on the disk) costs as much as
// the file's own bytes. Each chunk also costs a SCSI command, a frame that
// U-Boot's Transmit waits ~115 us for in the lab. An iSCSI drive therefore
// reads 256 KiB ahead in two 128 KiB chunks (~90 frames each, far more
// than a LAN round trip's worth). In the QEMU lab (BenchmarkQEMUSAN's boot
// split, beside iPXE, which reads no more than asked), 256 KiB chunks with
// 16 ahead (4 MiB) took 0.21 s for Grub to hash a 1 MiB file and 0.16 s to
// load the initrd against iPXE's 0.07 and 0.05 s, and 0.09 and 0.08 s
// with 64 KiB x 4; Grub's 64 MiB read went 0.76x iPXE's MB/s with 64 KiB x
// 4, 0.83x with 128 KiB x 2 and 0.84x with 256 KiB x 1 (medians of three,
// ACKs held, see ipstack). An HTTP drive keeps larger chunks: each is a
// range request with its own headers.
const (
	ISCSIChunkSize = 128 << 10
	ISCSIReadAhead = 2
	HTTPChunkSize  = 256 << 10
)

func openAny(ctx context.Context, rootPaths []string, cfg Config) (*Drive, error) {
	var errs []error
	for _, rp := range rootPaths {
		b, err := openBackend(ctx, rp, cfg)
		if err != nil {
			if len(rootPaths) > 1 { // say which path of several failed
				err = fmt.Errorf("%s: %w", rp, err)
			}
			errs = append(errs, err)
			continue
		}
		cc := cfg.Cache
		chunk, ahead := ISCSIChunkSize, ISCSIReadAhead
		if _, ok := b.(*HTTPDisk); ok {
			chunk, ahead = HTTPChunkSize, HTTPMaxReadAhead
			cc.MaxReadAhead = min(cc.MaxReadAhead, HTTPMaxReadAhead)
		}
		if cc.ChunkSize == 0 {
			cc.ChunkSize = chunk
		}
		if cc.MaxReadAhead == 0 {
			cc.MaxReadAhead = ahead
		}
		c, err := cache.New(b, cc)
		if err != nil {
			b.Close()
			return nil, err
		}
		return &Drive{RootPath: rp, Backend: b, Cache: c}, nil
	}
	return nil, errors.Join(errs...)
}

func openBackend(ctx context.Context, rp string, cfg Config) (Backend, error) {
	switch scheme, _, _ := strings.Cut(rp, ":"); strings.ToLower(scheme) {
	case "iscsi":
		if cfg.InitiatorName == "" {
			return nil, fmt.Errorf("%s: no initiator name: %w", rp, errNoRetry)
		}
		if _, err := iscsi.ParseRootPath(rp); err != nil {
			return nil, fmt.Errorf("%w: %w", err, errNoRetry)
		}
		d, err := iscsi.Open(ctx, iscsi.Config{RootPath: rp, InitiatorName: cfg.InitiatorName,
			Credentials: cfg.Credentials, Dial: cfg.Dial, Logf: cfg.Logf})
		if err != nil {
			return nil, err
		}
		return &iscsiDisk{d: d, gone: make(chan struct{})}, nil
	case "http", "https":
		if cfg.HTTP == nil {
			return nil, fmt.Errorf("%s: no HTTP client: %w", rp, errNoRetry)
		}
		d, err := OpenHTTP(ctx, rp, cfg.HTTP)
		if err != nil {
			return nil, err
		}
		return d, nil
	}
	return nil, fmt.Errorf("%s: SAN root paths are iscsi:, http:// or https://: %w", rp, errNoRetry)
}

func (c Config) logf(f string, a ...any) {
	if c.Logf != nil {
		c.Logf(f, a...)
	}
}

// MACUUID is a name-based (RFC 9562 §5.5 version 5 layout) UUID from a
// MAC address: the stable machine UUID for iPXE's default initiator name
// (iqn.2010-04.org.ipxe:<uuid>) where the firmware has no SMBIOS UUID.
func MACUUID(mac []byte) [16]byte {
	var u [16]byte
	h := sha1.Sum(append([]byte("snp-go machine "), mac...))
	copy(u[:], h[:16])
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return u
}

// iscsiDisk adapts an iSCSI LUN to Backend; after Close it reports no
// media (U-Boot keeps using a connected Block IO after sanunhook).
type iscsiDisk struct {
	d    *iscsi.Disk
	gone chan struct{}
	once sync.Once
}

func (i *iscsiDisk) closed() bool {
	select {
	case <-i.gone:
		return true
	default:
		return false
	}
}

func (i *iscsiDisk) BlockSize() int { return int(i.d.BlockSize()) }
func (i *iscsiDisk) NumBlocks() uint64 {
	if i.closed() {
		return 0
	}
	return i.d.Blocks()
}
func (i *iscsiDisk) ReadOnly() bool { return i.d.ReadOnly() }
func (i *iscsiDisk) ReadBlocks(lba uint64, buf []byte) error {
	return i.do(func(ctx context.Context) error { return i.d.ReadBlocks(ctx, lba, buf) })
}
func (i *iscsiDisk) WriteBlocks(lba uint64, buf []byte) error {
	return i.do(func(ctx context.Context) error { return i.d.WriteBlocks(ctx, lba, buf) })
}
func (i *iscsiDisk) Flush() error { return i.do(i.d.Sync) }

func (i *iscsiDisk) do(f func(context.Context) error) error {
	if i.closed() {
		return blockio.ErrNoMedia
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	return f(ctx)
}

func (i *iscsiDisk) Close() error {
	err := error(nil)
	i.once.Do(func() { close(i.gone); err = i.d.Close() })
	return err
}

// ISCSI returns the iSCSI disk under d, or nil for other backends.
func (d *Drive) ISCSI() *iscsi.Disk {
	if b, ok := d.Backend.(*iscsiDisk); ok {
		return b.d
	}
	return nil
}
