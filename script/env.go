package script

import (
	"context"
	"io"
	"net/netip"
	"time"

	"github.com/snp-go/snp-go/internal/certstore"
	"github.com/snp-go/snp-go/script/lineedit"
	"github.com/snp-go/snp-go/script/settings"
)

// Console is the terminal: text output, key input, and the Ctrl-C
// presses made while a command runs. *lineedit.Console implements it.
type Console interface {
	io.Writer
	// ReadKey waits for one key press until ctx is done.
	ReadKey(ctx context.Context) (lineedit.Key, error)
	// Interrupts delivers the Ctrl-C presses made while no ReadKey was
	// waiting; the engine cancels the running command's context on one.
	Interrupts() <-chan struct{}
	// Interrupt raises an interrupt again (one taken from Interrupts
	// that no command acted on), leaving the typeahead alone.
	Interrupt()
}

// Interface describes one network interface.
type Interface struct {
	Name string // "net0", "net0-42" for a VLAN
	MAC  []byte
	Chip string // driver or device description, may be empty
	Open bool   // opened with ifopen
	Link bool   // link is up
	// Counters for ifstat.
	TXPackets, TXErrors, RXPackets, RXErrors uint64
}

// Links manages network interfaces: ifopen, ifclose, ifstat, iflinkwait,
// ifconf/dhcp.
type Links interface {
	Interfaces() []Interface
	Open(ctx context.Context, name string) error
	Close(ctx context.Context, name string) error
	// WaitLink returns when the link is up, or ctx's error.
	WaitLink(ctx context.Context, name string) error
	// DHCP configures the interface and returns the lease; the engine
	// stores it in settings scope "<name>.dhcp".
	DHCP(ctx context.Context, name string) (settings.Lease, error)
}

// BootServers is PXE boot server discovery, an optional extension of
// Links: ask the boot servers that option 43 (opt43, the PXE sub-options
// of the DHCP or ProxyDHCP answer that held the boot menu) names for
// boot item type typ. The engine stores the answer in settings scope
// "pxebs" (iPXE's PXEBS_SETTINGS_NAME).
type BootServers interface {
	PXEBootServer(ctx context.Context, name string, typ uint16, opt43 []byte) (settings.Lease, error)
}

// NetStats is the network stack's counters and neighbour table (ipstat,
// nstat), an optional extension of Links.
type NetStats interface {
	IPStats() (IPStats, TCPStats, error)
	Neighbours() ([]Neighbour, error)
}

// PingReply is one answered echo request.
type PingReply struct {
	From netip.Addr
	Size int
	RTT  time.Duration
}

// Pinger sends one ICMP echo request (RFC 792) and waits for the reply
// until ctx ends.
type Pinger interface {
	Ping(ctx context.Context, host string, size int, seq int) (PingReply, error)
}

// Resolver looks host names up in the DNS.
type Resolver interface {
	Lookup(ctx context.Context, name string) (netip.Addr, error)
}

// TimeSync sets the clock from an NTP server (RFC 5905).
type TimeSync interface {
	NTP(ctx context.Context, server string) (time.Time, error)
}

// VLANs creates and destroys 802.1Q VLAN interfaces.
type VLANs interface {
	Create(ctx context.Context, trunk string, tag, priority int) (name string, err error)
	Destroy(ctx context.Context, name string) error
}

// Fetcher downloads a URI (http, https, ...). progress, if not nil, is
// called as data arrives with the bytes so far and the total (-1 if
// unknown). The fetch must stop when ctx is cancelled (Ctrl-C).
type Fetcher interface {
	Fetch(ctx context.Context, uri string, progress func(done, total int64)) ([]byte, error)
}

// BootRequest is an EFI image to start, with the other registered images
// (initrds a Linux EFI stub may ask for).
type BootRequest struct {
	Image  *Image
	Images []*Image
}

// Booter loads an EFI image from memory (LoadImage), gives it its command
// line (LoadOptions: Image.CommandLine()) and starts it (StartImage). It
// returns when the image exits; a nil error means it exited successfully.
type Booter interface {
	Boot(ctx context.Context, req BootRequest) error
}

// DeviceTree installs the device tree chosen with `fdt` as the EFI
// configuration table EFI_DTB_TABLE_GUID while the booted image runs
// (iPXE efi_fdt_install), and puts the firmware's own table back after.
type DeviceTree interface {
	InstallFDT(blob []byte) error
	RestoreFDT() error
}

// Syncer waits until no background operation is in progress (`sync`).
type Syncer interface {
	Sync(ctx context.Context) error
}

// SANCredentials are the settings a SAN login uses (iPXE's username,
// password, reverse-username, reverse-password, initiator-iqn).
type SANCredentials struct {
	InitiatorIQN    string
	Username        string
	Password        string
	ReverseUsername string
	ReversePassword string
}

// SANConfig carries sanboot/sanhook/sanunhook options.
type SANConfig struct {
	Drive       int    // --drive, default ${san-drive} or 0x80
	NoDescribe  bool   // --no-describe: do not describe the disk to the OS (iBFT/ACPI)
	Keep        bool   // --keep: keep the device after boot returns or fails
	Filename    string // --filename: EFI boot file, default ${san-filename}
	Extra       string // --extra: extra ACPI/iBFT table data
	Label       string // --label: filesystem label to boot from
	UUID        string // --uuid: filesystem UUID to boot from
	Credentials SANCredentials
	// Retries is how often opening the SAN device is retried (the
	// san-retries setting; iPXE's default is 10).
	Retries int
	// Hostname is the hostname setting (for a default initiator IQN).
	Hostname string
}

// SAN attaches SAN disks (iscsi: root paths, RFC 4173) and boots them.
type SAN interface {
	// Hook attaches the disk reachable through any of rootPaths as drive
	// cfg.Drive and returns the drive number used.
	Hook(ctx context.Context, rootPaths []string, cfg SANConfig) (drive int, err error)
	// Boot boots from a hooked drive; it returns if the boot image exits.
	Boot(ctx context.Context, drive int, cfg SANConfig) error
	Unhook(ctx context.Context, drive int) error
}

// RebootMode selects how reboot restarts the machine.
type RebootMode int

const (
	RebootCold  RebootMode = iota
	RebootWarm             // reboot --warm
	RebootSetup            // reboot --setup: into the firmware setup
)

// System restarts or powers off the machine.
type System interface {
	Reboot(ctx context.Context, mode RebootMode) error
	PowerOff(ctx context.Context) error
}

// Env is everything outside the engine. Any backend may be nil: the
// commands that need it then fail with "not available yet" and a
// non-zero status.
type Env struct {
	Console  Console
	Links    Links
	Pinger   Pinger
	Resolver Resolver
	TimeSync TimeSync
	VLANs    VLANs
	Fetcher  Fetcher
	Booter   Booter
	SAN      SAN
	System   System
	Trust    TrustAnchors // for imgverify
	// Certs is the certificate store (certstat, certstore, certfree),
	// shared with HTTPS and imgverify; nil: the engine keeps its own.
	Certs *certstore.Store
	// DeviceTree and Syncer are for fdt and sync (cmd_imgx.go).
	DeviceTree DeviceTree
	Syncer     Syncer
	// Now returns the time (for ${unixtime} and `time`); nil: time.Now.
	Now func() time.Time

	Version   string // ${version}
	BuildArch string // ${buildarch}, default "arm64"
	Platform  string // ${platform}, default "efi"
}
