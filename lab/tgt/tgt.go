// Package tgt runs Debian's user-space iSCSI target, tgtd, for tests: one
// daemon per Daemon value, listening on 127.0.0.1 on a free TCP port with
// its own management port, serving targets whose LUNs are backed by files,
// with incoming (initiator) and outgoing (mutual) CHAP accounts and an
// initiator-address ACL. Start and Close run and stop it; StartT does both
// for a test and skips it when tgtd is not installed.
//
//	d := tgt.StartT(t, tgt.Options{})
//	tid, err := d.AddTarget(tgt.Target{
//		IQN:      "iqn.2025-01.dev.snp-go:disk",
//		LUNs:     []tgt.LUN{{Path: img}},
//		Incoming: &tgt.Account{User: "initiator", Password: "12-byte-secret"},
//		Outgoing: &tgt.Account{User: "target", Password: "another-secret"},
//	})
//	rootPath := d.RootPath("10.0.2.2", "iqn.2025-01.dev.snp-go:disk", 1) // for a QEMU guest
//
// Facts about tgt 1.0.85 this package relies on: tgtd needs no kernel
// module (it reads the backing files itself); it ignores SIGTERM and stops
// on "tgtadm --op delete --mode system", which it refuses while targets
// exist, so Close deletes them first (--force ends their sessions); each
// daemon is reached through /var/run/tgtd/socket.N for its control port N,
// guarded by a lockf(3) lock on socket.N.lock, and -C takes at most 32767;
// the iSCSI portal is set with --iscsi portal=ADDR:PORT, and when that port
// is taken tgtd logs it and runs on without a portal (Start notices and
// tries another port); a target whose address ACL leaves the initiator out
// is also missing from its SendTargets discovery. tgt accepts one-way CHAP
// even when an outgoing account is bound: mutual CHAP is the initiator's
// choice (RFC 7143 §12.1.3); discovery sessions need no CHAP.
//
// Host-only (Linux, root): it runs tgtd and tgtadm and is never linked
// into the EFI application.
package tgt

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNotInstalled is returned by Start when tgtd or tgtadm is missing.
var ErrNotInstalled = errors.New("tgt: tgtd/tgtadm not installed (Debian package tgt)")

// ErrNotRoot is returned by Start for a user other than root: tgtd
// creates its management socket in /var/run/tgtd.
var ErrNotRoot = errors.New("tgt: tgtd needs root (it creates /var/run/tgtd/socket.N)")

// SocketDir is where tgtd and tgtadm meet (tgt's TGT_IPC_DIR).
const SocketDir = "/var/run/tgtd"

// Options controls a daemon.
type Options struct {
	// Dir receives tgtd's output, tgtd.log; default a new directory under
	// the system temporary directory, removed by Close.
	Dir string
	// Debug runs tgtd with -d 1 (every PDU and CHAP step in the log).
	Debug bool
}

// Daemon is a running tgtd.
type Daemon struct {
	Control int    // management port: tgtadm -C Control
	Port    int    // iSCSI portal port on 127.0.0.1
	Log     string // tgtd's standard output and error

	tgtd, tgtadm string
	cmd          *exec.Cmd
	exited       chan struct{}
	waitErr      error
	dir          string
	ownDir       bool

	mu      sync.Mutex
	nextTID int
	closed  bool
}

// Programs returns the paths of tgtd and tgtadm, or ErrNotInstalled. Debian
// installs them in /usr/sbin, which a non-login PATH may lack.
func Programs() (tgtd, tgtadm string, err error) {
	find := func(name string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		if p := "/usr/sbin/" + name; isFile(p) {
			return p
		}
		return ""
	}
	tgtd, tgtadm = find("tgtd"), find("tgtadm")
	if tgtd == "" || tgtadm == "" {
		return "", "", ErrNotInstalled
	}
	return tgtd, tgtadm, nil
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// Start starts tgtd on 127.0.0.1 with a free management port and a free
// TCP port, and waits until it answers tgtadm and accepts connections.
func Start(opt Options) (*Daemon, error) {
	tgtd, tgtadm, err := Programs()
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	if err := os.MkdirAll(SocketDir, 0o755); err != nil {
		return nil, fmt.Errorf("tgt: %w", err)
	}
	d := &Daemon{tgtd: tgtd, tgtadm: tgtadm, dir: opt.Dir, nextTID: 1}
	if d.dir == "" {
		if d.dir, err = os.MkdirTemp("", "snp-go-tgtd-"); err != nil {
			return nil, fmt.Errorf("tgt: %w", err)
		}
		d.ownDir = true
	}
	d.Log = filepath.Join(d.dir, "tgtd.log")
	var lastErr error
	for attempt := 0; attempt < 10; attempt++ {
		err := d.start(opt)
		if err == nil {
			return d, nil
		}
		lastErr = err
		if !errors.Is(err, errRetry) {
			break
		}
	}
	if d.ownDir {
		os.RemoveAll(d.dir)
	}
	return nil, lastErr
}

// errRetry marks a start that lost a race for its ports.
var errRetry = errors.New("tgt: port taken")

func (d *Daemon) start(opt Options) error {
	ctl, err := freeControlPort()
	if err != nil {
		return err
	}
	port, err := pickTCPPort()
	if err != nil {
		return err
	}
	d.Control, d.Port = ctl, port
	args := []string{"-f", "-C", strconv.Itoa(ctl), "--iscsi", "portal=" + d.Portal()}
	if opt.Debug {
		args = append(args, "-d", "1")
	}
	logf, err := os.Create(d.Log)
	if err != nil {
		return fmt.Errorf("tgt: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(d.tgtd, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	killWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("tgt: starting %s: %w", d.tgtd, err)
	}
	d.cmd = cmd
	d.exited = make(chan struct{})
	go func() {
		d.waitErr = cmd.Wait()
		close(d.exited)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-d.exited:
			log := d.logTail(2000)
			d.removeSocket()
			if strings.Contains(log, "another tgtd") || strings.Contains(log, "in use") {
				return fmt.Errorf("%w: %s", errRetry, log)
			}
			return fmt.Errorf("tgt: tgtd %s exited at start: %v\n%s", strings.Join(args, " "), d.waitErr, log)
		default:
		}
		_, admErr := d.Adm("--mode", "target", "--op", "show")
		if admErr == nil && strings.Contains(d.logTail(4000), "failed to create/bind to portal") {
			// tgtd runs on without a portal when its port was taken
			// between freeTCPPort and its bind.
			d.Adm("--mode", "system", "--op", "delete")
			select {
			case <-d.exited:
			case <-time.After(5 * time.Second):
				d.kill()
			}
			d.removeSocket()
			return fmt.Errorf("%w: %s", errRetry, d.logTail(2000))
		}
		if admErr == nil {
			c, dialErr := net.DialTimeout("tcp", d.Portal(), time.Second)
			if dialErr == nil {
				c.Close()
				return nil
			}
			admErr = dialErr
		}
		if time.Now().After(deadline) {
			d.kill()
			return fmt.Errorf("tgt: tgtd (management port %d, portal %s) not ready after 10 s: %v\n%s", ctl, d.Portal(), admErr, d.logTail(2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// maxControlPort is the largest management port tgtd -C accepts (a short).
const maxControlPort = 32767

// freeControlPort picks a management port no running tgtd holds. tgtd takes
// a lockf(3) lock on socket.N.lock; a socket without a held lock is stale
// (its tgtd died) and is removed, as tgtd itself would.
func freeControlPort() (int, error) {
	for range 100 {
		n := 10000 + rand.IntN(maxControlPort-10000+1)
		sock := filepath.Join(SocketDir, "socket."+strconv.Itoa(n))
		held, err := lockHeld(sock + ".lock")
		if err != nil {
			return 0, err
		}
		if held {
			continue
		}
		if isFile(sock+".lock") || exists(sock) {
			// Stale: its tgtd is gone. Tidy up, but take another port,
			// in case a concurrent Start is about to use this one.
			os.Remove(sock)
			os.Remove(sock + ".lock")
			continue
		}
		return n, nil
	}
	return 0, errors.New("tgt: no free tgtd management port after 100 tries")
}

func openIfExists(p string) (*os.File, error) {
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return f, err
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// pickTCPPort is freeTCPPort; a test replaces it to lose the race.
var pickTCPPort = freeTCPPort

// freeTCPPort asks the kernel for a free port on 127.0.0.1.
func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("tgt: finding a free TCP port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Portal returns the iSCSI portal, "127.0.0.1:PORT".
func (d *Daemon) Portal() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.Port)) }

// Adm runs tgtadm for this daemon's management port with the iSCSI driver
// (tgtadm -C N --lld iscsi ARGS...) and returns its output. Errors carry
// the output but never a password given in args.
func (d *Daemon) Adm(args ...string) ([]byte, error) {
	full := append([]string{"-C", strconv.Itoa(d.Control), "--lld", "iscsi"}, args...)
	cmd := exec.Command(d.tgtadm, full...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("tgt: tgtadm %s: %v: %s", redactArgs(args), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out.Bytes(), nil
}

// redactArgs joins tgtadm arguments with the value after --password hidden.
func redactArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if i > 0 && args[i-1] == "--password" {
			out[i] = "<redacted>"
		}
	}
	return strings.Join(out, " ")
}

// Close deletes every target (ending their sessions), stops tgtd with
// "tgtadm --op delete --mode system" (killing it if it has not exited 5 s
// later), and removes its socket files. It is safe to call more than once.
func (d *Daemon) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	var errs []error
	if tids, err := d.TIDs(); err == nil {
		for _, tid := range tids {
			if _, err := d.Adm("--mode", "target", "--op", "delete", "--force", "--tid", strconv.Itoa(tid)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if _, err := d.Adm("--mode", "system", "--op", "delete"); err != nil {
		errs = append(errs, err)
	}
	select {
	case <-d.exited:
	case <-time.After(5 * time.Second):
		errs = append(errs, fmt.Errorf("tgt: tgtd (pid %d) still ran 5 s after tgtadm --op delete --mode system; killed it", d.cmd.Process.Pid))
		d.kill()
	}
	d.removeSocket()
	if d.ownDir && len(errs) == 0 {
		os.RemoveAll(d.dir)
	}
	return errors.Join(errs...)
}

// Exited is closed when tgtd has exited.
func (d *Daemon) Exited() <-chan struct{} { return d.exited }

func (d *Daemon) kill() {
	d.cmd.Process.Kill()
	<-d.exited
}

// removeSocket removes the management socket and lock file of this
// daemon's port once its tgtd has exited.
func (d *Daemon) removeSocket() {
	sock := filepath.Join(SocketDir, "socket."+strconv.Itoa(d.Control))
	os.Remove(sock)
	os.Remove(sock + ".lock")
}

// logTail returns up to the last n bytes tgtd printed.
func (d *Daemon) logTail(n int) string {
	b, _ := os.ReadFile(d.Log)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// LogTail returns up to the last n bytes of tgtd's log, for a failed test.
func (d *Daemon) LogTail(n int) string { return d.logTail(n) }

// URL returns the libiscsi URL of a LUN (iscsi-inq, iscsi-ls, iscsi-perf):
// iscsi://[user%password@]127.0.0.1:PORT/IQN/LUN, with
// ?target_user=&target_password= for mutual CHAP when out is not nil. It
// holds the passwords: do not log it.
func (d *Daemon) URL(iqn string, lun int, in, out *Account) string {
	var b strings.Builder
	b.WriteString("iscsi://")
	if in != nil {
		b.WriteString(url.PathEscape(in.User) + "%" + url.PathEscape(in.Password) + "@")
	}
	fmt.Fprintf(&b, "%s/%s/%d", d.Portal(), iqn, lun)
	if out != nil {
		q := url.Values{"target_user": {out.User}, "target_password": {out.Password}}
		b.WriteString("?" + q.Encode())
	}
	return b.String()
}

// RootPath returns the iPXE root path of a LUN as an initiator reaching
// the portal at host sees it (QEMU's slirp guest reaches 127.0.0.1 as
// 10.0.2.2): "iscsi:<host>::<port>:<lun>:<iqn>" (protocol empty: TCP).
func (d *Daemon) RootPath(host, iqn string, lun int) string {
	return fmt.Sprintf("iscsi:%s::%d:%d:%s", host, d.Port, lun, iqn)
}

var targetLineRE = regexp.MustCompile(`(?m)^Target (\d+): (\S+)$`)

// TIDs returns the target IDs tgtd knows, in its order.
func (d *Daemon) TIDs() ([]int, error) {
	out, err := d.Adm("--mode", "target", "--op", "show")
	if err != nil {
		return nil, err
	}
	var tids []int
	for _, m := range targetLineRE.FindAllSubmatch(out, -1) {
		n, _ := strconv.Atoi(string(m[1]))
		tids = append(tids, n)
	}
	return tids, nil
}
