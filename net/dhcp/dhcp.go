// Package dhcp is snp-go's DHCPv4 client (RFC 2131) with the PXE options of
// RFC 4578. Messages are built and parsed with insomniacslk/dhcp's dhcpv4
// package; the exchange runs over snp-go's own UDP stack (that module's client
// packages open Linux raw sockets and are not used).
//
// The lease keeps every option raw (map[uint8][]byte): turning options into
// iPXE settings (net0.dhcp/…) is the script engine's job.
package dhcp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	stdnet "net"
	"net/netip"
	"sort"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/snp-go/snp-go/net/ipstack"
)

// Defaults for Options.
const (
	// DefaultArch is option 93's value: 0x000b "ARM 64-bit UEFI"
	// (RFC 4578 section 2.1; IANA processor architecture types).
	DefaultArch = 0x000b
	// DefaultVendorClass is option 60 as PXE clients send it: arch 00011,
	// UNDI 3.016 (PXE spec 2.1, matching option 94).
	DefaultVendorClass = "PXEClient:Arch:00011:UNDI:003016"
	// DefaultUserClass is option 77. iPXE sends "iPXE", and DHCP servers
	// use it to hand iPXE a script instead of chain-loading it again.
	DefaultUserClass = "iPXE"
)

// DefaultRequest is the parameter request list (option 55): the options
// iPXE users rely on, including 175 (iPXE encapsulated) and 203 (initiator
// IQN).
var DefaultRequest = []uint8{1, 3, 6, 12, 15, 17, 26, 42, 43, 60, 66, 67, 119, 121, 175, 203}

// Options configure one DHCP run. The zero value is usable.
type Options struct {
	Arch        uint16 // option 93 (default DefaultArch)
	VendorClass string // option 60 (default DefaultVendorClass)
	UserClass   string // option 77, sent as plain bytes like iPXE (default DefaultUserClass; "-" sends none)
	Hostname    string // option 12 to send, if any
	// ClientID is option 61 (default: hardware type 1 + MAC, RFC 2132 9.14).
	ClientID []byte
	// Request adds codes to DefaultRequest in option 55.
	Request []uint8
	// Extra options to send in DISCOVER and REQUEST (code → value).
	Extra map[uint8][]byte

	// Attempts is how many times a message is sent before giving up
	// (default 5). Timeouts start at InitialTimeout (default 1 s) and double
	// up to MaxTimeout (default 8 s), each randomised by up to ±10%
	// (RFC 2131 section 4.1 retransmission with exponential backoff).
	Attempts       int
	InitialTimeout time.Duration
	MaxTimeout     time.Duration

	// ProxyTimeout bounds the wait for a ProxyDHCP server's answer on
	// port 4011 (default DefaultProxyTimeout). It is only waited for when
	// an offer announced a ProxyDHCP service without boot information.
	ProxyTimeout time.Duration

	// NoConfigure leaves the interface alone (only returns the lease). A
	// ProxyDHCP REQUEST to port 4011 needs the address, so it is skipped.
	NoConfigure bool
	// Logf receives progress lines ("DHCP net0: DISCOVER …"); nil: silent.
	Logf func(format string, args ...any)
}

// Lease is the result of a successful exchange.
type Lease struct {
	Interface  string
	ClientIP   netip.Addr // yiaddr
	NextServer netip.Addr // siaddr ("next-server")
	ServerID   netip.Addr // option 54
	RelayIP    netip.Addr // giaddr
	ServerName string     // sname field, unless it carried options
	BootFile   string     // file field ("filename"), unless it carried options
	// Options holds every option of the ACK, raw, after RFC 3396
	// concatenation and option 52 overload. Keys are option codes.
	Options map[uint8][]byte
	// Config is what was (or, with NoConfigure, would be) applied.
	Config    ipstack.Config
	LeaseTime time.Duration // option 51; 0 if absent
	Obtained  time.Time
	Elapsed   time.Duration // first DISCOVER to ACK ("DHCP time to address")
	Sent      int           // messages sent, retransmissions included

	// Proxy is the ProxyDHCP server's boot information, when a ProxyDHCP
	// offer came (PXE specification 2.1, chapter 2); nil otherwise. iPXE exposes it as
	// the settings scope "proxydhcp".
	Proxy *ProxyLease
	// ProxyError says why an announced ProxyDHCP service gave nothing
	// (no answer on port 4011); the lease itself is good.
	ProxyError error
}

// Codes returns the option codes present, sorted.
func (l *Lease) Codes() []uint8 {
	cs := make([]uint8, 0, len(l.Options))
	for c := range l.Options {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i] < cs[j] })
	return cs
}

// ErrNoOffer is wrapped by the error Run returns when no server answered.
var ErrNoOffer = errors.New("no DHCP offer")

func (o *Options) setDefaults() {
	if o.Arch == 0 {
		o.Arch = DefaultArch
	}
	if o.VendorClass == "" {
		o.VendorClass = DefaultVendorClass
	}
	if o.UserClass == "" {
		o.UserClass = DefaultUserClass
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.InitialTimeout <= 0 {
		o.InitialTimeout = time.Second
	}
	if o.MaxTimeout <= 0 {
		o.MaxTimeout = 8 * time.Second
	}
	if o.ProxyTimeout <= 0 {
		o.ProxyTimeout = DefaultProxyTimeout
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

const (
	clientPort = 68 // RFC 2131 section 4.1
	serverPort = 67
	maxMsgSize = 1472 // option 57: 1500 - IPv4 - UDP headers
)

// Run obtains a lease on ifc: DISCOVER, OFFER, REQUEST, ACK. On success it
// configures ifc (address, routes, DNS, domain) unless o.NoConfigure.
// ctx cancels the exchange (Ctrl-C).
func Run(ctx context.Context, ifc *ipstack.Interface, o Options) (*Lease, error) {
	o.setDefaults()
	name := ifc.Name()
	conn, err := ifc.BootstrapUDP(clientPort)
	if err != nil {
		return nil, fmt.Errorf("DHCP %s: %w", name, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	c := &client{o: o, ifc: ifc, conn: conn, start: time.Now()}
	if _, err := rand.Read(c.xid[:]); err != nil {
		return nil, fmt.Errorf("DHCP %s: transaction id: %w", name, err)
	}
	lease, offer, err := c.run(ctx)
	if err != nil {
		return nil, fmt.Errorf("DHCP %s (%s): %w", name, ifc.MAC(), err)
	}
	if !o.NoConfigure {
		// Close the bootstrap socket first: it holds 0.0.0.0 on the NIC.
		conn.Close()
		if err := ifc.Configure(lease.Config); err != nil {
			return lease, fmt.Errorf("DHCP %s: applying lease %v: %w", name, lease.Config.Address, err)
		}
	}
	switch planProxy(offer, c.proxy) {
	case proxyUse:
		via := "offer"
		if yi := ip4(c.proxy.r.msg.YourIPAddr); yi.IsValid() && !yi.IsUnspecified() {
			// A PXE-aware DHCP server: "PXEClient" and the boot file in
			// its own offer. iPXE registers that offer as proxydhcp too.
			via = "DHCP offer"
		}
		lease.Proxy = proxyLease(c.proxy.r, c.proxy.server, via)
		o.Logf("DHCP %s: ProxyDHCP offer from %v", name, c.proxy.server)
	case proxyAsk:
		if o.NoConfigure {
			lease.ProxyError = fmt.Errorf("ProxyDHCP %v: not asked on port %d (interface left unconfigured)", c.proxy.server, pxePort)
			break
		}
		r, err := c.askProxy(ctx, lease, c.proxy.server)
		switch {
		case err == nil:
			lease.Proxy = proxyLease(r, c.proxy.server, fmt.Sprintf("port %d", pxePort))
			o.Logf("DHCP %s: ProxyDHCP answer from %v:%d", name, c.proxy.server, pxePort)
		case ctx.Err() != nil:
			return lease, fmt.Errorf("DHCP %s: ProxyDHCP: %w", name, ctx.Err())
		case errors.Is(err, errTimeout):
			lease.ProxyError = fmt.Errorf("ProxyDHCP server %v announced itself (PXEClient) but gave no boot information on port %d within %v", c.proxy.server, pxePort, o.ProxyTimeout)
		default:
			lease.ProxyError = fmt.Errorf("ProxyDHCP server %v: %w", c.proxy.server, err)
		}
	}
	return lease, nil
}

type client struct {
	o     Options
	ifc   *ipstack.Interface
	conn  stdnet.PacketConn
	xid   dhcpv4.TransactionID
	start time.Time
	sent  int
	proxy *proxyOffer // the best ProxyDHCP offer seen so far
}

// run returns the acknowledged lease and the offer it came from.
func (c *client) run(ctx context.Context) (*Lease, *reply, error) {
	naks := 0
	for {
		offer, err := c.exchange(ctx, c.discover(), dhcpv4.MessageTypeOffer)
		if err != nil {
			if errors.Is(err, errTimeout) {
				return nil, nil, fmt.Errorf("%w after %d DISCOVERs in %v: is a DHCP server on this segment/VLAN?", ErrNoOffer, c.sent, time.Since(c.start).Round(time.Millisecond))
			}
			return nil, nil, err
		}
		yi, _ := netip.AddrFromSlice(offer.msg.YourIPAddr.To4())
		sid, _ := addr4(offer.opts[optServerID])
		c.o.Logf("DHCP %s: OFFER %v from %v", c.ifc.Name(), yi, sid)
		ack, err := c.exchange(ctx, c.request(offer), dhcpv4.MessageTypeAck)
		if errors.Is(err, errNak) {
			naks++
			if naks > c.o.Attempts {
				return nil, nil, fmt.Errorf("server %v keeps refusing (DHCPNAK) the address it offered", sid)
			}
			c.o.Logf("DHCP %s: NAK from %v, restarting", c.ifc.Name(), sid)
			continue
		}
		if err != nil {
			if errors.Is(err, errTimeout) {
				return nil, nil, fmt.Errorf("no DHCPACK from %v for %v after %d messages", sid, yi, c.sent)
			}
			return nil, nil, err
		}
		return c.lease(ack), offer, nil
	}
}

var (
	errTimeout = errors.New("timeout")
	errNak     = errors.New("DHCPNAK")
)

// exchange sends m and retransmits it with backoff until a reply of type
// want (or a NAK while requesting) arrives, at most Options.Attempts times.
func (c *client) exchange(ctx context.Context, build func(secs uint16) *dhcpv4.DHCPv4, want dhcpv4.MessageType) (*reply, error) {
	timeout := c.o.InitialTimeout
	bcast := &stdnet.UDPAddr{IP: stdnet.IPv4bcast, Port: serverPort}
	buf := make([]byte, 1<<16)
	for try := 0; try < c.o.Attempts; try++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		secs := uint16(min(time.Since(c.start)/time.Second, 0xffff))
		m := build(secs)
		c.o.Logf("DHCP %s: %s (try %d)", c.ifc.Name(), m.MessageType(), try+1)
		if _, err := c.conn.WriteTo(m.ToBytes(), bcast); err != nil {
			return nil, fmt.Errorf("sending %s: %w", m.MessageType(), err)
		}
		c.sent++
		wait := time.Duration(float64(timeout) * (0.9 + 0.2*mrand.Float64()))
		deadline := time.Now().Add(wait)
		for {
			c.conn.SetReadDeadline(deadline)
			n, from, err := c.conn.ReadFrom(buf)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				var ne stdnet.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				return nil, fmt.Errorf("receiving: %w", err)
			}
			r, err := parseReply(buf[:n])
			if err != nil || r.msg.TransactionID != c.xid || !macEqual(r.msg.ClientHWAddr, c.ifc.MAC()) {
				continue // not ours
			}
			// Any offer may be a ProxyDHCP offer: while requesting too,
			// for one that answers the DISCOVER late.
			c.proxy = considerProxy(c.proxy, r, addrPort(from).Addr())
			switch r.msg.MessageType() {
			case want:
				// ProxyDHCP offers carry yiaddr 0.0.0.0 and no lease.
				if yi := r.msg.YourIPAddr.To4(); yi == nil || yi.IsUnspecified() {
					continue
				}
				return r, nil
			case dhcpv4.MessageTypeNak:
				if want == dhcpv4.MessageTypeAck {
					return nil, errNak
				}
			}
		}
		timeout = min(timeout*2, c.o.MaxTimeout)
	}
	return nil, errTimeout
}

func macEqual(a, b stdnet.HardwareAddr) bool { return string(a) == string(b) }

// common are the modifiers of DISCOVER and REQUEST.
func (c *client) common(secs uint16, t dhcpv4.MessageType) []dhcpv4.Modifier {
	mac := c.ifc.MAC()
	cid := c.o.ClientID
	if cid == nil {
		cid = append([]byte{1}, mac...)
	}
	req := append(append([]uint8(nil), DefaultRequest...), c.o.Request...)
	codes := make([]dhcpv4.OptionCode, 0, len(req))
	for _, r := range req {
		codes = append(codes, dhcpv4.GenericOptionCode(r))
	}
	mods := []dhcpv4.Modifier{
		dhcpv4.WithTransactionID(c.xid),
		dhcpv4.WithHwAddr(mac),
		dhcpv4.WithMessageType(t),
		// Ask for broadcast replies: we have no address yet (RFC 2131 4.1).
		dhcpv4.WithBroadcast(true),
		func(d *dhcpv4.DHCPv4) { d.NumSeconds = secs },
		dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(maxMsgSize)),
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier(cid)),
		// RFC 4578 section 2.1 (93) and 2.2 (94: type 1 UNDI, version 3.16).
		dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(93), []byte{byte(c.o.Arch >> 8), byte(c.o.Arch)}),
		dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(94), []byte{1, 3, 16}),
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier(c.o.VendorClass)),
		dhcpv4.WithRequestedOptions(codes...),
	}
	if c.o.UserClass != "-" {
		mods = append(mods, dhcpv4.WithGeneric(dhcpv4.OptionUserClassInformation, []byte(c.o.UserClass)))
	}
	if c.o.Hostname != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptHostName(c.o.Hostname)))
	}
	for code, v := range c.o.Extra {
		mods = append(mods, dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(code), v))
	}
	return mods
}

func (c *client) discover() func(uint16) *dhcpv4.DHCPv4 {
	return func(secs uint16) *dhcpv4.DHCPv4 {
		m, _ := dhcpv4.New(c.common(secs, dhcpv4.MessageTypeDiscover)...)
		return m
	}
}

// request builds the SELECTING-state REQUEST (RFC 2131 4.3.2): ciaddr 0,
// requested address (50) and server identifier (54) from the offer.
func (c *client) request(offer *reply) func(uint16) *dhcpv4.DHCPv4 {
	return func(secs uint16) *dhcpv4.DHCPv4 {
		mods := append(c.common(secs, dhcpv4.MessageTypeRequest),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.msg.YourIPAddr)))
		if sid, ok := offer.opts[optServerID]; ok {
			mods = append(mods, dhcpv4.WithGeneric(dhcpv4.OptionServerIdentifier, sid))
		}
		m, _ := dhcpv4.New(mods...)
		return m
	}
}

func (c *client) lease(ack *reply) *Lease {
	return leaseFrom(c.ifc.Name(), ack, c.start, c.sent)
}

func ip4(b stdnet.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(b.To4())
	return a
}

func leaseFrom(name string, ack *reply, start time.Time, sent int) *Lease {
	ip := ip4
	l := &Lease{
		Interface:  name,
		ClientIP:   ip(ack.msg.YourIPAddr),
		NextServer: ip(ack.msg.ServerIPAddr),
		RelayIP:    ip(ack.msg.GatewayIPAddr),
		ServerName: ack.sname,
		BootFile:   ack.file,
		Options:    ack.opts,
		Obtained:   time.Now(),
		Elapsed:    time.Since(start),
		Sent:       sent,
	}
	l.ServerID, _ = addr4(ack.opts[optServerID])
	if lt := ack.opts[optLeaseTime]; len(lt) == 4 {
		l.LeaseTime = time.Duration(uint32(lt[0])<<24|uint32(lt[1])<<16|uint32(lt[2])<<8|uint32(lt[3])) * time.Second
	}
	l.Config = configFrom(l.ClientIP, ack.opts)
	return l
}
