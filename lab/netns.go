package lab

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// NetNS is a network namespace a test made (`ip netns add`): a private
// network for servers and QEMU that no traffic leaves. It needs root.
type NetNS struct {
	Name string
	t    testing.TB
}

// NeedNetNS skips the test, loudly, when network namespaces cannot be
// made here: not root, or `ip` (iproute2) missing.
func NeedNetNS(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIP: needs root for network namespaces (ip netns add); CI runs as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("SKIP: ip (Debian package iproute2) missing: needed for network namespaces")
	}
}

// NewNetNS makes a network namespace named prefix-PID (unique per test
// process; at most 15 bytes of prefix are useful) with its loopback up.
// At cleanup every process still in it is killed and it is deleted.
func NewNetNS(t testing.TB, prefix string) *NetNS {
	t.Helper()
	n := &NetNS{Name: fmt.Sprintf("%s-%d", prefix, os.Getpid()), t: t}
	// A namespace left by a killed earlier run of this PID would clash.
	exec.Command("ip", "netns", "del", n.Name).Run()
	if out, err := exec.Command("ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		t.Fatalf("lab: ip netns add %s: %v\n%s", n.Name, err, out)
	}
	t.Cleanup(func() {
		if pids, err := exec.Command("ip", "netns", "pids", n.Name).Output(); err == nil {
			for _, p := range strings.Fields(string(pids)) {
				exec.Command("kill", "-9", p).Run()
			}
		}
		if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
			t.Errorf("lab: ip netns del %s: %v\n%s", n.Name, err, out)
		}
	})
	n.IP("link", "set", "lo", "up")
	return n
}

// IP runs `ip -n NAME args...` and fails the test if it fails.
func (n *NetNS) IP(args ...string) {
	n.t.Helper()
	full := append([]string{"-n", n.Name}, args...)
	if out, err := exec.Command("ip", full...).CombinedOutput(); err != nil {
		n.t.Fatalf("lab: ip %s: %v\n%s", strings.Join(full, " "), err, out)
	}
}

// Command returns a command that runs inside the namespace.
func (n *NetNS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Daemon is a server a test started inside a namespace; its output is kept.
type Daemon struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (d *Daemon) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out.Write(p)
}

// Output returns what the daemon printed so far (stdout and stderr).
func (d *Daemon) Output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out.String()
}

// WaitOutput waits up to timeout for s in the daemon's output.
func (d *Daemon) WaitOutput(s string, timeout time.Duration) error {
	end := time.Now().Add(timeout)
	for !strings.Contains(d.Output(), s) {
		select {
		case <-d.done:
			return fmt.Errorf("lab: %s exited (%v) before printing %q; output:\n%s", d.cmd.Args[4], d.cmd.ProcessState, s, d.Output())
		default:
		}
		if time.Now().After(end) {
			return fmt.Errorf("lab: %s did not print %q in %v; output:\n%s", d.cmd.Args[4], s, timeout, d.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// Start runs a server inside the namespace (in the foreground: it must
// not daemonize) until the test ends; it is killed with the test process.
func (n *NetNS) Start(name string, args ...string) *Daemon {
	n.t.Helper()
	d := &Daemon{cmd: n.Command(name, args...), done: make(chan struct{})}
	d.cmd.Stdout, d.cmd.Stderr = d, d
	killWithParent(d.cmd)
	if err := d.cmd.Start(); err != nil {
		n.t.Fatalf("lab: starting %s in %s: %v", name, n.Name, err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	n.t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.done
		if n.t.Failed() {
			n.t.Logf("%s in %s printed:\n%s", name, n.Name, d.Output())
		}
	})
	return d
}
