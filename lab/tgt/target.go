package tgt

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Account is a CHAP user name and secret (RFC 7143 §12.1.3).
type Account struct {
	User     string
	Password string
}

// String names the user and hides the secret.
func (a Account) String() string { return a.User + ":<redacted>" }

// GoString hides the secret from %#v too.
func (a Account) GoString() string {
	return fmt.Sprintf("tgt.Account{User: %q, Password: <redacted>}", a.User)
}

// LUN is a logical unit backed by a file.
type LUN struct {
	Path      string // backing file (its size is the LUN's)
	BlockSize int    // logical block size in bytes; 0: tgt's default, 512
	ReadOnly  bool
}

// Target describes an iSCSI target.
type Target struct {
	IQN  string // target name, e.g. "iqn.2025-01.dev.snp-go:disk"
	LUNs []LUN  // LUN 1, 2, ... (tgt's LUN 0 is its controller)
	// Initiators are the initiator addresses allowed in (tgtadm
	// --initiator-address); nil: "ALL". QEMU's slirp connects from
	// 127.0.0.1.
	Initiators []string
	// Incoming is the account an initiator must log in with (one-way
	// CHAP); nil: no authentication.
	Incoming *Account
	// Outgoing is the account the target answers with when the initiator
	// asks it to authenticate too (mutual CHAP).
	Outgoing *Account
}

// AddTarget creates t with the next free target ID and returns that ID.
func (d *Daemon) AddTarget(t Target) (int, error) {
	if t.IQN == "" || strings.ContainsAny(t.IQN, " \t\n/") {
		return 0, fmt.Errorf("tgt: target name %q: want an iqn. or eui. name without spaces or slashes", t.IQN)
	}
	if t.Outgoing != nil && t.Incoming == nil {
		return 0, errors.New("tgt: target " + t.IQN + ": an outgoing (mutual CHAP) account needs an incoming one")
	}
	d.mu.Lock()
	tid := d.nextTID
	d.nextTID++
	d.mu.Unlock()
	id := strconv.Itoa(tid)
	if _, err := d.Adm("--mode", "target", "--op", "new", "--tid", id, "--targetname", t.IQN); err != nil {
		return 0, err
	}
	for i, l := range t.LUNs {
		args := []string{"--mode", "logicalunit", "--op", "new", "--tid", id, "--lun", strconv.Itoa(i + 1), "--backing-store", l.Path}
		if l.BlockSize != 0 {
			args = append(args, "--blocksize", strconv.Itoa(l.BlockSize))
		}
		if _, err := d.Adm(args...); err != nil {
			return tid, err
		}
		if l.ReadOnly {
			// tgtadm takes --params only when updating a LUN.
			if _, err := d.Adm("--mode", "logicalunit", "--op", "update", "--tid", id, "--lun", strconv.Itoa(i+1), "--params", "readonly=1"); err != nil {
				return tid, err
			}
		}
	}
	addrs := t.Initiators
	if len(addrs) == 0 {
		addrs = []string{"ALL"}
	}
	for _, a := range addrs {
		if _, err := d.Adm("--mode", "target", "--op", "bind", "--tid", id, "--initiator-address", a); err != nil {
			return tid, err
		}
	}
	for _, acct := range []struct {
		a        *Account
		outgoing bool
	}{{t.Incoming, false}, {t.Outgoing, true}} {
		if acct.a == nil {
			continue
		}
		if err := d.bindAccount(tid, *acct.a, acct.outgoing); err != nil {
			return tid, err
		}
	}
	return tid, nil
}

// bindAccount creates the account (tgt's accounts are global; an existing
// one with this user name is reused as it is) and binds it to target tid.
func (d *Daemon) bindAccount(tid int, a Account, outgoing bool) error {
	if a.User == "" || a.Password == "" {
		return errors.New("tgt: CHAP account with an empty user name or secret")
	}
	known, err := d.accounts()
	if err != nil {
		return err
	}
	if !known[a.User] {
		if _, err := d.Adm("--mode", "account", "--op", "new", "--user", a.User, "--password", a.Password); err != nil {
			return err
		}
	}
	args := []string{"--mode", "account", "--op", "bind", "--tid", strconv.Itoa(tid), "--user", a.User}
	if outgoing {
		args = append(args, "--outgoing")
	}
	_, err = d.Adm(args...)
	return err
}

// accounts returns the user names of tgtd's CHAP accounts.
func (d *Daemon) accounts() (map[string]bool, error) {
	out, err := d.Adm("--mode", "account", "--op", "show")
	if err != nil {
		return nil, err
	}
	users := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, " ") {
			users[strings.TrimSpace(l)] = true
		}
	}
	return users, nil
}

// Conn is one iSCSI connection of a session, as tgtadm shows it.
type Conn struct {
	Session   int
	Conn      int
	Initiator string // initiator name
	Address   string // initiator IP address
}

var (
	sessionRE = regexp.MustCompile(`^Session: (\d+)$`)
	connRE    = regexp.MustCompile(`^Connection: (\d+)$`)
)

// Conns lists the connections logged in to target tid.
func (d *Daemon) Conns(tid int) ([]Conn, error) {
	out, err := d.Adm("--mode", "conn", "--op", "show", "--tid", strconv.Itoa(tid))
	if err != nil {
		return nil, err
	}
	return parseConns(string(out)), nil
}

// parseConns reads "tgtadm --mode conn --op show" output:
//
//	Session: 2
//	    Connection: 0
//	        Initiator: iqn.2010-11.libiscsi:iscsi-perf
//	        IP Address: 127.0.0.1
func parseConns(out string) []Conn {
	var conns []Conn
	session := -1
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if m := sessionRE.FindStringSubmatch(l); m != nil {
			session, _ = strconv.Atoi(m[1])
			continue
		}
		if m := connRE.FindStringSubmatch(l); m != nil && session >= 0 {
			c, _ := strconv.Atoi(m[1])
			conns = append(conns, Conn{Session: session, Conn: c})
			continue
		}
		if len(conns) == 0 {
			continue
		}
		last := &conns[len(conns)-1]
		if v, ok := strings.CutPrefix(l, "Initiator: "); ok {
			last.Initiator = v
		} else if v, ok := strings.CutPrefix(l, "IP Address: "); ok {
			last.Address = v
		}
	}
	return conns
}

// DropConns closes every connection of target tid from the target's side,
// as a target that times out an idle session would, and returns how many
// it closed.
func (d *Daemon) DropConns(tid int) (int, error) {
	conns, err := d.Conns(tid)
	if err != nil {
		return 0, err
	}
	for i, c := range conns {
		if _, err := d.Adm("--mode", "conn", "--op", "delete", "--tid", strconv.Itoa(tid),
			"--sid", strconv.Itoa(c.Session), "--cid", strconv.Itoa(c.Conn)); err != nil {
			return i, err
		}
	}
	return len(conns), nil
}
