// Package script is snp-go's iPXE-compatible script engine: the command
// language of iPXE scripts (settings expansion, ||, &&, ;, goto, labels),
// iPXE's commands with their options and exit codes, the interactive
// shell, and the default boot flow.
//
// The engine has no firmware or network code. Everything outside it is
// reached through the small interfaces in Env, which the EFI application
// and `snpctl run` implement.
package script

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/snp-go/snp-go/script/lineedit"
	"github.com/snp-go/snp-go/script/settings"
)

// Stop levels (iPXE shell_stop): after `goto` the rest of the command line
// is skipped; after `exit` the rest of the script or shell is.
const (
	stopNone = iota
	stopCommand
	stopSequence
)

// maxDepth bounds scripts running scripts (chain loops).
const maxDepth = 16

// Engine runs scripts and shell commands. It is not safe for concurrent
// use: it runs one command at a time, as iPXE does.
type Engine struct {
	env      Env
	out      io.Writer
	Settings *settings.Store
	commands map[string]*Command

	images  []*Image
	menus   map[string]*menu
	params  []*paramList // request parameter lists (cmd_params.go)
	errno   Errno
	cwuri   string
	stop    int
	frame   *frame
	depth   int
	replace *Image
	trust   imageTrust
	imgx    imgxState // fdt, shim (cmd_imgx.go)
	history *lineedit.History
}

type frame struct {
	name  string
	lines []Line
	pc    int // index of the next line
	cur   *Line
}

// New returns an engine using env.
func New(env Env) *Engine {
	e := &Engine{
		env:      env,
		out:      io.Discard,
		Settings: settings.NewStore(),
		commands: map[string]*Command{},
		menus:    map[string]*menu{},
		history:  &lineedit.History{},
	}
	if env.Console != nil {
		e.out = env.Console
	}
	if e.env.BuildArch == "" {
		e.env.BuildArch = "arm64"
	}
	if e.env.Platform == "" {
		e.env.Platform = "efi"
	}
	if e.env.Now == nil {
		e.env.Now = time.Now
	}
	s := e.Settings
	s.SetBuiltin("errno", func() []byte { return settings.Uint32.Encode(uint64(e.errno)) })
	s.SetBuiltin("unixtime", func() []byte { return settings.Uint32.Encode(uint64(e.env.Now().Unix())) })
	s.SetBuiltin("buildarch", func() []byte { return []byte(e.env.BuildArch) })
	s.SetBuiltin("platform", func() []byte { return []byte(e.env.Platform) })
	s.SetBuiltin("version", func() []byte {
		if e.env.Version == "" {
			return nil
		}
		return []byte(e.env.Version)
	})
	s.SetBuiltin("cwuri", func() []byte {
		if e.cwuri == "" {
			return nil
		}
		return []byte(e.cwuri)
	})
	s.SetBuiltin("cwduri", func() []byte {
		if e.cwuri == "" {
			return nil
		}
		u, err := url.Parse(e.cwuri)
		if err != nil {
			return nil
		}
		return []byte(u.ResolveReference(&url.URL{Path: "./"}).String())
	})
	for _, c := range builtinCommands() {
		e.Register(c)
	}
	e.refreshInterfaces()
	return e
}

// Register adds or replaces a command.
func (e *Engine) Register(c *Command) { e.commands[c.Name] = c }

// CommandNames lists the commands, sorted.
func (e *Engine) CommandNames() []string {
	names := make([]string, 0, len(e.commands))
	for n := range e.commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Errno returns the status of the last failed command (${errno}).
func (e *Engine) Errno() Errno { return e.errno }

func (e *Engine) printf(format string, a ...any) { fmt.Fprintf(e.out, format, a...) }

func (e *Engine) shellStop(level int) { e.stop = level }

// shellStopped tests and consumes the stop state (iPXE shell_stopped).
func (e *Engine) shellStopped(level int) bool {
	stopped := e.stop >= level
	if e.stop <= level {
		e.stop = stopNone
	}
	return stopped
}

// Exec runs one command line (iPXE's system()): it splits the line into
// tokens, then for each command separated by ||, && or ; expands the
// settings in its tokens and runs it. It returns the status of the last
// command run, as an error (nil for success).
func (e *Engine) Exec(ctx context.Context, line string) error {
	tokens := SplitCommand(line)
	var err error
	process := true
	for {
		argc, sep := nextCommand(tokens)
		if process {
			argv := make([]string, argc)
			var xerr error
			for i, t := range tokens[:argc] {
				if argv[i], xerr = e.Settings.Expand(t); xerr != nil {
					break
				}
			}
			if xerr != nil {
				err = Errorf(EINVAL, "expanding %q: %v", strings.Join(tokens[:argc], " "), xerr)
				e.errno = StatusOf(err)
				e.report(argv, err)
				break
			}
			err = e.execv(ctx, argv)
		}
		if e.shellStopped(stopCommand) || sep == sepEnd {
			break
		}
		switch sep {
		case sepOr:
			process = err != nil
		case sepAnd:
			process = err == nil
		default:
			process = true
		}
		tokens = tokens[argc+1:]
	}
	return err
}

// execv runs one expanded command (iPXE execv).
func (e *Engine) execv(ctx context.Context, argv []string) error {
	if len(argv) == 0 {
		return nil
	}
	cmd, ok := e.commands[argv[0]]
	var err error
	if !ok {
		err = saidf(ENOEXEC, "%s: command not found", argv[0])
	} else {
		err = e.runCommand(ctx, cmd, argv)
	}
	if err != nil {
		e.errno = StatusOf(err)
		if e.errno == 0 {
			e.errno = EIO
		}
		e.report(argv, err)
	}
	return err
}

// runCommand parses options and runs cmd with a context that Ctrl-C
// (a console interrupt) cancels.
func (e *Engine) runCommand(ctx context.Context, cmd *Command, argv []string) error {
	call, err := cmd.parse(e, argv)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if con := e.env.Console; con != nil {
		// The watcher may take an interrupt just as the command returns
		// (select picks at random when both are ready). A command that
		// did not see it must not swallow it: it is raised again for the
		// next command, as iPXE's console keeps an unread Ctrl-C.
		done, exited := make(chan struct{}), make(chan bool)
		go func() {
			select {
			case <-con.Interrupts():
				cancel()
				exited <- true
			case <-done:
				exited <- false
			}
		}()
		err = cmd.Run(cctx, call)
		close(done)
		if <-exited && !errors.Is(err, context.Canceled) {
			con.Interrupt()
		}
	} else {
		err = cmd.Run(cctx, call)
	}
	if err != nil && cctx.Err() != nil && ctx.Err() == nil && errors.Is(err, context.Canceled) {
		err = &Error{Errno: ECANCELED, Err: fmt.Errorf("%s: interrupted by Ctrl-C", cmd.Name)}
	}
	return err
}

// report prints a failed command's error, naming the script and line when
// one is running. Expected failures (isset, iseq, exit N) are not printed.
func (e *Engine) report(argv []string, err error) {
	if isQuiet(err) {
		return
	}
	msg := err.Error()
	if isSaid(err) {
		e.printf("%s\n", msg)
		return
	}
	name := ""
	if len(argv) > 0 {
		name = argv[0]
		if !strings.HasPrefix(msg, name+":") {
			msg = name + ": " + msg
		}
	}
	if f := e.frame; f != nil && f.cur != nil {
		e.printf("%s:%d: %s [%s]\n", f.name, f.cur.Num, msg, StatusOf(err))
		return
	}
	e.printf("%s [%s]\n", msg, StatusOf(err))
}

// ScriptError is how a script ended when it did not succeed: the status,
// and the script, line and command that stopped it.
type ScriptError struct {
	Script  string
	Line    int
	Command string
	Err     error
}

func (e *ScriptError) Error() string {
	return fmt.Sprintf("%s:%d: %q: %v", e.Script, e.Line, e.Command, e.Err)
}

func (e *ScriptError) Unwrap() error { return e.Err }

// Errno returns the status that ended the script.
func (e *ScriptError) Errno() Errno { return StatusOf(e.Err) }

// RunScript runs a script (iPXE script_exec): line by line until the end,
// an `exit`, or a command that fails without its failure being consumed
// by "||". name labels error messages. The status is returned as a
// *ScriptError, or nil for success.
func (e *Engine) RunScript(ctx context.Context, name string, data []byte) error {
	if e.depth >= maxDepth {
		return Errorf(ELOOP, "%s: scripts nested more than %d deep (a chain loop?)", name, maxDepth)
	}
	e.depth++
	f := &frame{name: name, lines: ParseScript(data)}
	saved := e.frame
	e.frame = f
	defer func() {
		e.frame = saved
		e.depth--
	}()
	var err error
	for f.pc < len(f.lines) {
		l := &f.lines[f.pc]
		f.pc++
		f.cur = l
		if l.Unterminated {
			err = Errorf(EINVAL, "line ends with a '\\' continuation but the script ends")
			e.errno = StatusOf(err)
			e.report(nil, err)
		} else {
			err = e.Exec(ctx, l.Command)
		}
		if e.shellStopped(stopSequence) || err != nil {
			if err != nil {
				if (isQuiet(err) || isSaid(err)) && StatusOf(err) != 0 && !isExit(err) {
					e.printf("%s:%d: script stopped: %q failed [%s]\n", name, l.Num, strings.TrimSpace(l.Command), StatusOf(err))
				}
				err = &ScriptError{Script: name, Line: l.Num, Command: strings.TrimSpace(l.Command), Err: err}
			}
			break
		}
	}
	if r := e.replace; r != nil && e.frame == f {
		// imgexec --replace: this script stopped; run the replacement.
		e.replace = nil
		e.frame = saved
		return e.execImage(ctx, r)
	}
	return err
}

func isExit(err error) bool {
	var x *Error
	return errors.As(err, &x) && x.exit
}

// gotoLabel moves the running script to the line labelled label.
func (e *Engine) gotoLabel(label string) error {
	f := e.frame
	if f == nil {
		return Errorf(ENOTTY, "Not in a script")
	}
	for i := range f.lines {
		if f.lines[i].HasLabel && f.lines[i].Label == label && !f.lines[i].Unterminated {
			f.pc = i
			e.shellStop(stopCommand)
			return nil
		}
	}
	return Errorf(ENOENT, "no label :%s in %s", label, f.name)
}

// resolveURI resolves a possibly relative URI against the current working
// URI (the URI of the script or image being run).
func (e *Engine) resolveURI(ref string) (string, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return "", Errorf(EINVAL, "%q is not a valid URI: %v", ref, err)
	}
	if u.IsAbs() {
		return ref, nil
	}
	if e.cwuri == "" {
		return "", Errorf(ENOTSUP, "%q is a relative URI and there is no current URI to resolve it against", ref)
	}
	base, err := url.Parse(e.cwuri)
	if err != nil {
		return "", Errorf(EINVAL, "current URI %q: %v", e.cwuri, err)
	}
	return base.ResolveReference(u).String(), nil
}

// notAvailable is the error of a command whose backend is missing.
func notAvailable(cmd, what string) error {
	return &Error{Errno: ENOTSUP, Err: fmt.Errorf("%s: %w (needs %s)", cmd, ErrNotAvailable, what)}
}
