package script

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/snp-go/snp-go/script/lineedit"
	"github.com/snp-go/snp-go/script/settings"
)

func builtinCommands() []*Command {
	cmds := []*Command{
		{Name: "echo", Summary: "Print text", Usage: "[...]", Options: []Option{{"n", 'n', false}}, Max: -1, Run: echoRun},
		{Name: "set", Summary: "Set a setting", Usage: "<setting> <value>", Min: 1, Max: -1, Run: setRun},
		{Name: "clear", Summary: "Clear a setting", Usage: "<setting>", Min: 1, Max: 1, Run: clearRun},
		{Name: "read", Summary: "Read a setting from the console", Usage: "<setting>",
			Options: []Option{{"timeout", 't', true}}, Min: 1, Max: 1, Run: readRun},
		{Name: "show", Summary: "Show a setting", Usage: "<setting>",
			Options: []Option{{"quiet", 'q', false}}, Extensions: []Option{{"reveal", 'r', false}}, Min: 1, Max: 1, Run: showRun},
		{Name: "inc", Summary: "Increment a numeric setting", Usage: "<setting> [<increment>]", Min: 1, Max: 2, Run: incRun},
		{Name: "isset", Summary: "Succeed if the value is not empty", Usage: "<value>", Min: 1, Max: 1, Run: issetRun},
		{Name: "iseq", Summary: "Succeed if the values are equal", Usage: "<value1> <value2>", Min: 2, Max: 2, Run: iseqRun},
		{Name: "goto", Summary: "Jump to a label in the script", Usage: "<label>", Min: 1, Max: 1, Run: gotoRun},
		{Name: "prompt", Summary: "Wait for a key", Usage: "[<text>]",
			Options: []Option{{"key", 'k', true}, {"timeout", 't', true}}, Max: -1, Run: promptRun},
		{Name: "sleep", Summary: "Wait a number of seconds", Usage: "<seconds>", Min: 1, Max: 1, Run: sleepRun},
		{Name: "exit", Summary: "Leave the script or shell", Usage: "[<status>]", Max: 1, Run: exitRun},
		{Name: "shell", Summary: "Start the interactive shell", Run: shellRun},
		{Name: "help", Summary: "List the commands", Run: helpRun},
		{Name: "time", Summary: "Time a command", Usage: "<command>", Min: 1, Max: -1, Run: timeRun},
		{Name: "reboot", Summary: "Reboot the machine", Options: []Option{{"warm", 'w', false}, {"setup", 's', false}}, Run: rebootRun},
		{Name: "poweroff", Summary: "Power the machine off", Run: poweroffRun},
	}
	cmds = append(cmds, imageCommands()...)
	cmds = append(cmds, trustCommands()...)
	cmds = append(cmds, certCommands()...)
	cmds = append(cmds, netCommands()...)
	cmds = append(cmds, netStatCommands()...)
	cmds = append(cmds, sanCommands()...)
	cmds = append(cmds, uiCommands()...)
	cmds = append(cmds, imgxCommands()...)
	cmds = append(cmds, paramsCommands()...)
	cmds = append(cmds, formCommands()...)
	cmds = append(cmds, configCommands()...)
	return cmds
}

func echoRun(ctx context.Context, c *Call) error {
	nl := "\n"
	if c.Flag("n") {
		nl = ""
	}
	c.E.printf("%s%s", strings.Join(c.Args, " "), nl)
	return nil
}

// parseSetting parses a setting name for a command, turning a bad name
// into the command's error.
func parseSetting(name string) (settings.Ref, error) {
	r, err := settings.ParseName(name)
	if err != nil {
		return r, &Error{Errno: ENOTSUP, Err: fmt.Errorf("%q: invalid setting", name), Said: true}
	}
	if r.Key == "" {
		return r, saidf(EINVAL, "%q: invalid setting", name)
	}
	return r, nil
}

// store stores text as the setting r, with iPXE's message on failure.
func (e *Engine) store(r settings.Ref, text string) error {
	if err := e.Settings.Store(r, text); err != nil {
		return storeError(r, err)
	}
	return nil
}

// storeError is iPXE's message for a setting that could not be stored:
// EINVAL for text its type rejects, ENOTSUP for a type that cannot be
// stored (busdevfn, or a non-numeric type for inc), ENODEV for a scope
// that cannot hold it.
func storeError(r settings.Ref, err error) error {
	n := EINVAL
	switch {
	case errors.Is(err, settings.ErrNoScope):
		n = ENODEV
	case errors.Is(err, settings.ErrNoParse), errors.Is(err, errors.ErrUnsupported):
		n = ENOTSUP
	}
	return saidf(n, "Could not store %q: %s", r.Name, n)
}

func setRun(ctx context.Context, c *Call) error {
	r, err := parseSetting(c.Args[0])
	if err != nil {
		return err
	}
	return c.E.store(r, strings.Join(c.Args[1:], " "))
}

func clearRun(ctx context.Context, c *Call) error {
	r, err := parseSetting(c.Args[0])
	if err != nil {
		return err
	}
	return c.E.store(r, "")
}

func readRun(ctx context.Context, c *Call) error {
	r, err := parseSetting(c.Args[0])
	if err != nil {
		return err
	}
	timeout, err := c.Timeout("timeout")
	if err != nil {
		return err
	}
	con := c.E.env.Console
	if con == nil {
		return notAvailable(c.Name, "a console")
	}
	existing := ""
	if v, err := c.E.Settings.Fetch(r); err == nil {
		existing, _ = v.Format()
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	ed := lineedit.Editor{Mask: r.IsSecret()}
	line, err := ed.ReadLine(ctx, con, "", existing)
	if err != nil {
		return readError(err)
	}
	return c.E.store(r, line)
}

func readError(err error) error {
	switch {
	case errors.Is(err, lineedit.ErrInterrupted):
		return &Error{Errno: ECANCELED, Err: err, Quiet: true}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Errno: ETIMEDOUT, Err: errors.New("timed out waiting for input"), Quiet: true}
	}
	return err
}

func showRun(ctx context.Context, c *Call) error {
	show := func(v settings.Value) {
		text, err := v.Format()
		switch {
		case v.Secret && !c.Flag("reveal"):
			text = "<hidden>"
		case err != nil:
			text = fmt.Sprintf("<invalid: %v>", err)
		}
		if c.Flag("quiet") {
			c.E.printf("%s\n", text)
		} else {
			c.E.printf("%s = %s\n", v.Name(), text)
		}
	}
	r, err := parseSetting(c.Args[0])
	if err != nil {
		return err
	}
	v, err := c.E.Settings.Fetch(r)
	if err != nil {
		return saidf(ENOENT, "Could not find %q: %s", r.Name, ENOENT)
	}
	show(v)
	return nil
}

// incRun adds to a numeric setting as iPXE's inc_exec does. The value's
// type is the one named ("inc i:int32"), else the well-known setting's,
// else the one it was stored with; a missing setting counts from 0 as
// :int32. A value whose type is not an integer type (a string made by
// "set i 0", an ipv4 address, hex bytes) cannot be counted: iPXE then
// fails to store it ("Operation not supported") and leaves it alone.
func incRun(ctx context.Context, c *Call) error {
	r, err := parseSetting(c.Args[0])
	if err != nil {
		return err
	}
	inc := uint64(1)
	if len(c.Args) > 1 {
		n, err := parseInt(c.Args[1])
		if err != nil {
			return err
		}
		inc = uint64(uint32(n))
	}
	typ := r.Type
	if typ == nil && r.Def != nil {
		typ = r.Def.Type
	}
	var val uint64
	if v, err := c.E.Settings.Fetch(r); err == nil {
		typ = v.Type
		if typ.IsNumeric() {
			if val, err = settings.Numeric(v.Raw, typ.IsSigned()); err != nil {
				val = 0 // too long for an integer: iPXE counts from 0
			}
		}
	} else if typ == nil {
		typ = settings.Int32
	}
	if !typ.IsNumeric() {
		return storeError(r, errors.ErrUnsupported)
	}
	if err := c.E.Settings.StoreRaw(r, typ.Encode(val+inc), typ); err != nil {
		return storeError(r, err)
	}
	return nil
}

func issetRun(ctx context.Context, c *Call) error {
	if c.Args[0] == "" {
		return quietError(ENOENT, "value is empty")
	}
	return nil
}

func iseqRun(ctx context.Context, c *Call) error {
	if c.Args[0] != c.Args[1] {
		return quietError(ERANGE, "%q != %q", c.Args[0], c.Args[1])
	}
	return nil
}

func gotoRun(ctx context.Context, c *Call) error { return c.E.gotoLabel(c.Args[0]) }

func promptRun(ctx context.Context, c *Call) error {
	con := c.E.env.Console
	if con == nil {
		return notAvailable(c.Name, "a console")
	}
	timeout, err := c.Timeout("timeout")
	if err != nil {
		return err
	}
	var want lineedit.Key
	if k, ok := c.Value("key"); ok {
		if want, err = parseKey(k); err != nil {
			return err
		}
	}
	// Without text iPXE prints nothing and only waits.
	return c.E.prompt(ctx, strings.Join(c.Args, " "), timeout, want)
}

// prompt shows text, waits for a key (for timeout, 0: forever) and erases
// the text (iPXE usr/prompt.c): ETIMEDOUT if no key came, ECANCELED if
// want is set and another key was pressed.
func (e *Engine) prompt(ctx context.Context, text string, timeout time.Duration, want lineedit.Key) error {
	e.printf("%s", text)
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	k, err := e.env.Console.ReadKey(ctx)
	e.printf("%s", strings.Repeat("\b \b", len([]rune(text))))
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return quietError(ETIMEDOUT, "no key pressed")
	case err != nil:
		return err
	case want != 0 && k != want:
		return quietError(ECANCELED, "%s pressed, not %s", k, want)
	}
	return nil
}

func sleepRun(ctx context.Context, c *Call) error {
	n, err := parseInt(c.Args[0])
	if err != nil {
		return err
	}
	t := time.NewTimer(time.Duration(n) * time.Second)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return &Error{Errno: ECANCELED, Err: errors.New("sleep interrupted")}
	}
}

func exitRun(ctx context.Context, c *Call) error {
	status := 0
	if len(c.Args) > 0 {
		n, err := parseInt(c.Args[0])
		if err != nil {
			return err
		}
		status = n
	}
	c.E.shellStop(stopSequence)
	if status != 0 {
		return &Error{Errno: Errno(status), Err: fmt.Errorf("exit %d", status), Quiet: true, exit: true}
	}
	return nil
}

func shellRun(ctx context.Context, c *Call) error { return c.E.Shell(ctx) }

func helpRun(ctx context.Context, c *Call) error {
	c.E.printf("\nAvailable commands:\n\n")
	names := c.E.CommandNames()
	const cols = 6
	for i, n := range names {
		c.E.printf(" %-12s", n)
		if i%cols == cols-1 || i == len(names)-1 {
			c.E.printf("\n")
		}
	}
	c.E.printf("\nType \"<command> --help\" for further information\n\n")
	return nil
}

func timeRun(ctx context.Context, c *Call) error {
	start := c.E.env.Now()
	err := c.E.execv(ctx, c.Args)
	d := c.E.env.Now().Sub(start)
	c.E.printf("%s: %d.%03ds\n", c.Name, int64(d/time.Second), int64(d%time.Second/time.Millisecond))
	if err != nil {
		// execv has reported it already.
		return &Error{Errno: StatusOf(err), Err: err, Quiet: true}
	}
	return nil
}

func rebootRun(ctx context.Context, c *Call) error {
	if c.E.env.System == nil {
		return notAvailable(c.Name, "the firmware")
	}
	mode := RebootCold
	switch {
	case c.Flag("setup"):
		mode = RebootSetup
	case c.Flag("warm"):
		mode = RebootWarm
	}
	return c.E.env.System.Reboot(ctx, mode)
}

func poweroffRun(ctx context.Context, c *Call) error {
	if c.E.env.System == nil {
		return notAvailable(c.Name, "the firmware")
	}
	return c.E.env.System.PowerOff(ctx)
}
