package lab

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options controls a QEMU started with a console.
type Options struct {
	// Log is the transcript file: every byte the serial port printed, then
	// QEMU's stderr and exit status. Empty: no transcript.
	Log string
	// MaxRuntime kills QEMU when it still runs after this long; 0: no limit.
	MaxRuntime time.Duration
	// NoCursorReply stops the console from answering the cursor position
	// query U-Boot's EFI console sends at each bootefi; unanswered, U-Boot
	// waits for a reply (about 100 ms) and assumes 80×25.
	NoCursorReply bool
	// TypeDelay paces Send one character at a time; 0 types in one burst,
	// which U-Boot receives intact (see Send).
	TypeDelay time.Duration
}

// Machine is a running QEMU whose serial port is its Console.
type Machine struct {
	*Console
	LogPath string // transcript file, if any

	cmd     *exec.Cmd
	stdin   *os.File
	stderr  lockedBuffer
	exited  chan struct{} // closed once QEMU is reaped and the log closed
	mu      sync.Mutex
	waited  bool
	waitErr error
	killed  string // why the lab killed QEMU, if it did
}

// lockedBuffer keeps the first 64 KiB QEMU writes to stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := 64<<10 - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Boot starts QEMU for cfg with its serial port on pipes driven by the
// returned Machine's Console. Close it when done (Start does so for tests).
func Boot(cfg Config, opt Options) (*Machine, error) {
	cmd, err := cfg.Command(true)
	if err != nil {
		return nil, err
	}
	m := &Machine{cmd: cmd, LogPath: opt.Log, exited: make(chan struct{})}
	var logf *os.File
	if opt.Log != "" {
		if logf, err = os.Create(opt.Log); err != nil {
			return nil, fmt.Errorf("lab: console transcript: %w", err)
		}
		fmt.Fprintf(logf, "# %s\n", strings.Join(cmd.Args, " "))
	}
	// Own pipes rather than StdoutPipe: the reader sees EOF exactly when
	// QEMU exits, and Wait never closes the pipe under it.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, &m.stderr
	killWithParent(cmd)
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		outR.Close()
		inW.Close()
		if logf != nil {
			logf.Close()
		}
		return nil, fmt.Errorf("lab: starting %s: %w", cmd.Path, err)
	}
	m.stdin = inW
	var log io.Writer // not a typed nil when there is no transcript
	if logf != nil {
		log = logf
	}
	m.Console = newConsole(outR, inW, log, !opt.NoCursorReply)
	m.Console.pace = opt.TypeDelay
	m.Console.exitMsg = m.exitMsg
	go func() {
		err := cmd.Wait()
		m.mu.Lock()
		m.waited, m.waitErr = true, err
		m.mu.Unlock()
		m.Console.waitEOF(2 * time.Second) // the last output, then the log closes
		outR.Close()
		if logf != nil {
			if s := m.stderr.String(); s != "" {
				fmt.Fprintf(logf, "\n# qemu stderr:\n%s", s)
			}
			fmt.Fprintf(logf, "\n# %s\n", m.exitMsg())
			logf.Close()
		}
		close(m.exited)
	}()
	if opt.MaxRuntime > 0 {
		t := time.AfterFunc(opt.MaxRuntime, func() { m.kill(fmt.Sprintf("killed by the lab after MaxRuntime %v", opt.MaxRuntime)) })
		go func() { <-m.exited; t.Stop() }()
	}
	return m, nil
}

func (m *Machine) kill(why string) {
	m.mu.Lock()
	if m.killed == "" && !m.waited {
		m.killed = why
	}
	m.mu.Unlock()
	m.cmd.Process.Kill() // harmless when QEMU already exited
}

// exitMsg describes how QEMU ended, or that it still runs.
func (m *Machine) exitMsg() string {
	// Output ends (or a write fails) a moment before Wait returns.
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		m.mu.Lock()
		w := m.waited
		m.mu.Unlock()
		if w {
			break
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.waited {
		return "QEMU still running"
	}
	msg := "QEMU exited"
	if m.waitErr != nil {
		msg += " (" + m.waitErr.Error() + ")"
	}
	if m.killed != "" {
		msg += ", " + m.killed
	}
	if s := strings.TrimSpace(m.stderr.String()); s != "" {
		msg += "; its stderr: " + s
	}
	return msg
}

// Exited is closed when QEMU has exited and the transcript is complete.
func (m *Machine) Exited() <-chan struct{} { return m.exited }

// Close kills QEMU (if it still runs), waits for it and completes the
// transcript. It is safe to call more than once.
func (m *Machine) Close() error {
	m.kill("killed by Close")
	m.stdin.Close()
	select {
	case <-m.exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("lab: QEMU (pid %d) did not exit 10 s after SIGKILL", m.cmd.Process.Pid)
	}
}

// Start boots QEMU for a test: it skips t when the lab is not installed,
// writes the transcript to dir/<test name>.serial.log (dir: $SNP_LAB_LOGDIR
// if set, else t.TempDir()), kills QEMU at cleanup or 5 s before the test
// binary's deadline, and on failure logs the transcript's tail.
func Start(t testing.TB, cfg Config) *Machine {
	t.Helper()
	return StartWith(t, cfg, Options{})
}

// StartWith is Start with Options; opt.Log and opt.MaxRuntime are filled in
// when empty.
func StartWith(t testing.TB, cfg Config, opt Options) *Machine {
	t.Helper()
	SkipIfMissing(t)
	if opt.Log == "" {
		dir := os.Getenv("SNP_LAB_LOGDIR")
		if dir == "" {
			dir = t.TempDir() // before our Cleanup: removed after it runs
		} else if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("lab: SNP_LAB_LOGDIR: %v", err)
		}
		name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")
		opt.Log = filepath.Join(dir, name+".serial.log")
	}
	if opt.MaxRuntime == 0 {
		opt.MaxRuntime = 10 * time.Minute
		if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
			if dl, ok := d.Deadline(); ok {
				opt.MaxRuntime = max(time.Until(dl)-5*time.Second, time.Second)
			}
		}
	}
	m, err := Boot(cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("serial console (last %d bytes; full transcript %s):\n%s",
				len(m.Tail()), m.LogPath, printable(m.Tail()))
		}
	})
	return m
}
