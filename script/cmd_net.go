package script

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/snp-go/snp-go/script/settings"
)

// Defaults from iPXE.
const (
	linkWaitTimeout = 15 * time.Second // iPXE LINK_WAIT_TIMEOUT
	pingTimeout     = time.Second      // iPXE ping default --timeout
	pingInterval    = time.Second
	pingSize        = 64
)

func netCommands() []*Command {
	ifs := "[<interface>...]"
	return []*Command{
		{Name: "ifopen", Summary: "Open network interfaces", Usage: ifs, Max: -1, Run: ifopenRun},
		{Name: "ifclose", Summary: "Close network interfaces", Usage: ifs, Max: -1, Run: ifcloseRun},
		{Name: "ifstat", Summary: "Show network interfaces", Usage: ifs, Max: -1, Run: ifstatRun},
		{Name: "ifconf", Summary: "Configure network interfaces", Usage: ifs,
			Options: []Option{{"configurator", 'c', true}, {"timeout", 't', true}}, Max: -1, Run: ifconfRun},
		{Name: "dhcp", Summary: "Configure network interfaces with DHCP", Usage: ifs,
			Options: []Option{{"configurator", 'c', true}, {"timeout", 't', true}}, Max: -1, Run: ifconfRun},
		{Name: "iflinkwait", Summary: "Wait for links to come up", Usage: ifs,
			Options: []Option{{"timeout", 't', true}}, Max: -1, Run: iflinkwaitRun},
		{Name: "route", Summary: "Show IPv4 routes", Run: routeRun},
		{Name: "ping", Summary: "Ping a host", Usage: "<host>",
			Options: []Option{{"size", 's', true}, {"timeout", 't', true}, {"count", 'c', true}, {"quiet", 'q', false}},
			Min:     1, Max: 1, Run: pingRun},
		{Name: "nslookup", Summary: "Look up a host name", Usage: "<setting> <name>", Min: 2, Max: 2, Run: nslookupRun},
		{Name: "ntp", Summary: "Set the clock from an NTP server", Usage: "<server>", Min: 1, Max: 1, Run: ntpRun},
		{Name: "vcreate", Summary: "Create a VLAN interface", Usage: "<trunk interface>",
			Options: []Option{{"tag", 't', true}, {"priority", 'p', true}}, Min: 1, Max: 1, Run: vcreateRun},
		{Name: "vdestroy", Summary: "Destroy a VLAN interface", Usage: "<VLAN interface>", Min: 1, Max: 1, Run: vdestroyRun},
		{Name: "autoboot", Summary: "Boot from the network (DHCP, then filename or root-path)", Usage: ifs, Max: -1, Run: autobootRun},
	}
}

func (e *Engine) interfaces() []Interface {
	if e.env.Links == nil {
		return nil
	}
	return e.env.Links.Interfaces()
}

func (e *Engine) iface(name string) (Interface, bool) {
	for _, i := range e.interfaces() {
		if i.Name == name {
			return i, true
		}
	}
	return Interface{}, false
}

func hexMAC(mac []byte) string {
	s, _ := settings.Hex.Format(mac)
	return s
}

// refreshInterfaces stores each interface's MAC address and name in its
// settings scope, as iPXE's netdev settings provide them.
func (e *Engine) refreshInterfaces() {
	for _, i := range e.interfaces() {
		mac := settings.Ref{Scope: i.Name, Name: "mac", Key: "mac", Def: settings.LookupDef("mac", 0)}
		e.Settings.StoreRaw(mac, i.MAC, settings.Hex)
		ifn := settings.Ref{Scope: i.Name, Name: "ifname", Key: "ifname", Def: settings.LookupDef("ifname", 0)}
		e.Settings.StoreRaw(ifn, []byte(i.Name), settings.String)
		if i.Chip != "" {
			chip := settings.Ref{Scope: i.Name, Name: "chip", Key: "chip", Def: settings.LookupDef("chip", 0)}
			e.Settings.StoreRaw(chip, []byte(i.Chip), settings.String)
		}
	}
}

// forInterfaces is iPXE's ifcommon_exec: run f on the named interfaces,
// or on all if none are named; with firstOK, stop at the first success.
// The status is that of the last attempt (ENODEV if there was none).
func forInterfaces(c *Call, firstOK bool, f func(Interface) error) error {
	if c.E.env.Links == nil {
		return notAvailable(c.Name, "the network: no network interfaces in this build")
	}
	var list []Interface
	var err error = Errorf(ENODEV, "no network interfaces")
	if len(c.Args) == 0 {
		list = c.E.interfaces()
	} else {
		for _, n := range c.Args {
			i, ok := c.E.iface(n)
			if !ok {
				err = Errorf(ENODEV, "%q: no such network device", n)
				c.E.printf("%v\n", err)
				continue
			}
			list = append(list, i)
		}
	}
	for _, i := range list {
		err = f(i)
		if err == nil && firstOK {
			return nil
		}
		if err != nil && len(list) > 1 {
			c.E.printf("%s: %v\n", i.Name, err)
		}
	}
	return err
}

func (e *Engine) ifopen(ctx context.Context, i Interface) error {
	if err := e.env.Links.Open(ctx, i.Name); err != nil {
		return &Error{Errno: StatusOf(err), Err: fmt.Errorf("Could not open %s: %w", i.Name, err)}
	}
	e.Settings.SetAlias("netX", i.Name)
	e.refreshInterfaces()
	return nil
}

func ifopenRun(ctx context.Context, c *Call) error {
	return forInterfaces(c, false, func(i Interface) error { return c.E.ifopen(ctx, i) })
}

func ifcloseRun(ctx context.Context, c *Call) error {
	return forInterfaces(c, false, func(i Interface) error { return c.E.env.Links.Close(ctx, i.Name) })
}

func (e *Engine) ifstat(i Interface) {
	state, link := "closed", "down"
	if i.Open {
		state = "open"
	}
	if i.Link {
		link = "up"
	}
	chip := ""
	if i.Chip != "" {
		chip = " using " + i.Chip
	}
	e.printf("%s: %s%s (%s)\n  [Link:%s, TX:%d TXE:%d RX:%d RXE:%d]\n",
		i.Name, hexMAC(i.MAC), chip, state, link, i.TXPackets, i.TXErrors, i.RXPackets, i.RXErrors)
}

func ifstatRun(ctx context.Context, c *Call) error {
	return forInterfaces(c, false, func(i Interface) error { c.E.ifstat(i); return nil })
}

func timeoutCtx(ctx context.Context, c *Call, def time.Duration) (context.Context, context.CancelFunc, error) {
	t, err := c.Timeout("timeout")
	if err != nil {
		return nil, nil, err
	}
	if t == 0 {
		t = def
	}
	if t == 0 {
		ctx, cancel := context.WithCancel(ctx)
		return ctx, cancel, nil
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	return ctx, cancel, nil
}

func iflinkwaitRun(ctx context.Context, c *Call) error {
	return forInterfaces(c, false, func(i Interface) error {
		wctx, cancel, err := timeoutCtx(ctx, c, linkWaitTimeout)
		if err != nil {
			return err
		}
		defer cancel()
		c.E.printf("Waiting for link-up on %s...", i.Name)
		if err := c.E.env.Links.WaitLink(wctx, i.Name); err != nil {
			c.E.printf(" failed\n")
			return &Error{Errno: StatusOf(err), Err: fmt.Errorf("link on %s: %w", i.Name, err)}
		}
		c.E.printf(" ok\n")
		return nil
	})
}

// ifconf opens the interface and runs DHCP on it, storing the lease in
// settings scope "<name>.dhcp" (iPXE ifconf with the dhcp configurator).
func (e *Engine) ifconf(ctx context.Context, i Interface) error { return e.ifconfVia(ctx, i, "") }

// ifconfVia is ifconf with --configurator conf ("" when not given),
// which iPXE names in its message: "Configuring [dhcp] (net0 ...)".
func (e *Engine) ifconfVia(ctx context.Context, i Interface, conf string) error {
	if err := e.ifopen(ctx, i); err != nil {
		return err
	}
	via := ""
	if conf != "" {
		via = "[" + conf + "] "
	}
	e.printf("Configuring %s(%s %s)...", via, i.Name, hexMAC(i.MAC))
	lease, err := e.env.Links.DHCP(ctx, i.Name)
	if err != nil {
		e.printf(" failed\n")
		return &Error{Errno: StatusOf(err), Err: fmt.Errorf("DHCP on %s: %w", i.Name, err)}
	}
	e.printf(" ok\n")
	if err := settings.ApplyDHCP(e.Settings, i.Name+".dhcp", lease); err != nil {
		// The lease is applied; only a malformed encapsulated option was kept raw.
		e.printf("%s: warning: %v\n", i.Name, err)
	}
	// As iPXE at each DHCPACK: the previous ProxyDHCP and boot server
	// answers go, the new ProxyDHCP one (if any) becomes "proxydhcp".
	for _, sc := range []string{settings.ProxyDHCPScope, settings.PXEBSScope} {
		if e.Settings.HasScope(sc) {
			e.Settings.ClearScope(sc)
		}
	}
	if lease.Proxy != nil {
		if err := settings.ApplyDHCP(e.Settings, settings.ProxyDHCPScope, *lease.Proxy); err != nil {
			e.printf("%s: ProxyDHCP warning: %v\n", i.Name, err)
		}
		if f, ok := e.Settings.Get(settings.ProxyDHCPScope + "/filename"); ok {
			ns, _ := e.Settings.Get(settings.ProxyDHCPScope + "/next-server")
			e.printf("%s: ProxyDHCP %s: filename %q next-server %s\n", i.Name, lease.ProxyFrom, f, ns)
		} else {
			e.printf("%s: ProxyDHCP %s: no filename\n", i.Name, lease.ProxyFrom)
		}
	}
	if lease.ProxyNote != "" {
		e.printf("%s: %s\n", i.Name, lease.ProxyNote)
	}
	e.Settings.SetAlias("netX", i.Name)
	return nil
}

func ifconfRun(ctx context.Context, c *Call) error {
	conf, given := c.Value("configurator")
	if given && conf != "dhcp" {
		return configuratorError(conf)
	}
	return forInterfaces(c, true, func(i Interface) error {
		dctx, cancel, err := timeoutCtx(ctx, c, 0)
		if err != nil {
			return err
		}
		defer cancel()
		return c.E.ifconfVia(dctx, i, conf)
	})
}

// routeRun lists the IPv4 routes the interfaces' settings define (the
// settings iPXE builds its routing table from).
func routeRun(ctx context.Context, c *Call) error {
	if c.E.env.Links == nil {
		return notAvailable(c.Name, "the network: no network interfaces in this build")
	}
	for _, i := range c.E.interfaces() {
		ip, ok := c.E.Settings.Get(i.Name + "/ip")
		if !i.Open || !ok {
			continue
		}
		mask, _ := c.E.Settings.Get(i.Name + "/netmask")
		if mask == "" {
			mask = "255.255.255.255"
		}
		c.E.printf("%s: %s/%s", i.Name, ip, mask)
		if gw, ok := c.E.Settings.Get(i.Name + "/gateway"); ok {
			c.E.printf(" gw %s", gw)
		}
		c.E.printf("\n")
	}
	return nil
}

func pingRun(ctx context.Context, c *Call) error {
	if c.E.env.Pinger == nil {
		return notAvailable(c.Name, "the network: no ICMP in this build")
	}
	size, err := c.Int("size", pingSize)
	if err != nil {
		return err
	}
	count, err := c.Int("count", 0)
	if err != nil {
		return err
	}
	timeout, err := c.Timeout("timeout")
	if err != nil {
		return err
	}
	if timeout == 0 {
		timeout = pingTimeout
	}
	host := c.Args[0]
	quiet := c.Flag("quiet")
	sent, received := 0, 0
	for seq := 1; count == 0 || seq <= count; seq++ {
		start := time.Now()
		pctx, cancel := context.WithTimeout(ctx, timeout)
		r, err := c.E.env.Pinger.Ping(pctx, host, size, seq)
		cancel()
		sent++
		switch {
		case ctx.Err() != nil:
			sent--
			c.E.printf("Finished: %d packets sent, %d received\n", sent, received)
			return &Error{Errno: ECANCELED, Err: errors.New("ping interrupted")}
		case errors.Is(err, ErrNotAvailable):
			return &Error{Errno: ENOTSUP, Err: err}
		case err != nil:
			if !quiet {
				c.E.printf("%s: seq=%d: %v\n", host, seq, err)
			}
		default:
			received++
			if !quiet {
				c.E.printf("%d bytes from %s: seq=%d time=%s\n", r.Size, r.From, seq, r.RTT.Round(time.Microsecond))
			}
		}
		if count != 0 && seq == count {
			break
		}
		if wait := pingInterval - time.Since(start); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
	}
	if !quiet {
		c.E.printf("Finished: %d packets sent, %d received\n", sent, received)
	}
	if received < sent {
		return Errorf(ETIMEDOUT, "%d of %d echo requests to %s got no reply", sent-received, sent, host)
	}
	return nil
}

func nslookupRun(ctx context.Context, c *Call) error {
	if c.E.env.Resolver == nil {
		return notAvailable(c.Name, "the network: no DNS resolver in this build")
	}
	r, err := parseSetting(c.Args[0])
	if err != nil {
		return err
	}
	addr, err := c.E.env.Resolver.Lookup(ctx, c.Args[1])
	if err != nil {
		return &Error{Errno: StatusOf(err), Err: fmt.Errorf("Could not resolve %s: %w", c.Args[1], err)}
	}
	if r.Type == nil {
		r.Type = settings.IPv4
		if addr.Is6() && !addr.Is4In6() {
			r.Type = settings.String
		}
	}
	return c.E.store(r, addrString(addr))
}

func addrString(a netip.Addr) string { return a.Unmap().String() }

func ntpRun(ctx context.Context, c *Call) error {
	if c.E.env.TimeSync == nil {
		return notAvailable(c.Name, "the network: no NTP client in this build")
	}
	t, err := c.E.env.TimeSync.NTP(ctx, c.Args[0])
	if err != nil {
		return &Error{Errno: StatusOf(err), Err: fmt.Errorf("NTP from %s: %w", c.Args[0], err)}
	}
	c.E.printf("Time is %s\n", t.UTC().Format(time.RFC1123))
	return nil
}

func vcreateRun(ctx context.Context, c *Call) error {
	if c.E.env.VLANs == nil {
		return notAvailable(c.Name, "the network: no VLAN support in this build")
	}
	tagText, ok := c.Value("tag")
	if !ok {
		return Errorf(EINVAL, "vcreate needs --tag")
	}
	tag, err := parseInt(tagText)
	if err != nil {
		return err
	}
	if tag < 1 || tag > 4094 {
		return Errorf(EINVAL, "VLAN tag %d is outside 1-4094 (IEEE 802.1Q)", tag)
	}
	prio, err := c.Int("priority", 0)
	if err != nil {
		return err
	}
	if prio < 0 || prio > 7 {
		return Errorf(EINVAL, "VLAN priority %d is outside 0-7", prio)
	}
	name, err := c.E.env.VLANs.Create(ctx, c.Args[0], tag, prio)
	if err != nil {
		return &Error{Errno: StatusOf(err), Err: fmt.Errorf("Could not create VLAN on %s: %w", c.Args[0], err)}
	}
	c.E.refreshInterfaces()
	c.E.printf("Created %s\n", name)
	return nil
}

func vdestroyRun(ctx context.Context, c *Call) error {
	if c.E.env.VLANs == nil {
		return notAvailable(c.Name, "the network: no VLAN support in this build")
	}
	if err := c.E.env.VLANs.Destroy(ctx, c.Args[0]); err != nil {
		return &Error{Errno: StatusOf(err), Err: fmt.Errorf("Could not destroy %s: %w", c.Args[0], err)}
	}
	return nil
}

// isURI reports whether s has a URI scheme.
func isURI(s string) bool {
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return false
	}
	for j, r := range s[:i] {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || j > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return false
		}
	}
	return true
}
