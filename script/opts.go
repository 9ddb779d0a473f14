package script

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/snp-go/snp-go/script/lineedit"
	"github.com/snp-go/snp-go/script/settings"
)

// Option is a command option: "--long" or "-s", with or without a value.
type Option struct {
	Long  string
	Short byte
	Arg   bool // takes a value
}

// Command is one script command.
type Command struct {
	Name    string
	Summary string
	Usage   string // arguments after the options, as iPXE prints them
	Options []Option
	// Extensions are options snp-go adds to an iPXE command (show
	// --reveal). They parse like Options but stay out of the usage text,
	// which therefore reads as iPXE's.
	Extensions []Option
	Min        int // minimum number of arguments after the options
	Max        int // maximum, -1 for no limit
	Run        func(ctx context.Context, c *Call) error
}

// Call is one invocation of a command: its parsed options and arguments.
type Call struct {
	E    *Engine
	Name string
	Args []string // arguments after the options
	opts map[string]string
}

// Flag reports whether the option was given.
func (c *Call) Flag(long string) bool { _, ok := c.opts[long]; return ok }

// Value returns the option's value and whether it was given.
func (c *Call) Value(long string) (string, bool) { v, ok := c.opts[long]; return v, ok }

// Int returns the option's value as an integer (C strtoul syntax), or def.
func (c *Call) Int(long string, def int) (int, error) {
	v, ok := c.opts[long]
	if !ok {
		return def, nil
	}
	return parseInt(v)
}

// Timeout returns a millisecond option as a duration (0 if not given).
func (c *Call) Timeout(long string) (time.Duration, error) {
	n, err := c.Int(long, 0)
	return time.Duration(n) * time.Millisecond, err
}

// parseInt parses an integer argument as iPXE's parse_integer does:
// strtoul base 0 (so "0x" is 0) into an unsigned int, the value
// truncated to 32 bits without a range check.
func parseInt(s string) (int, error) {
	v, err := settings.ParseInteger(s)
	if err != nil {
		return 0, saidf(EINVAL, "%q: invalid integer value", s)
	}
	return int(uint32(v)), nil
}

// parseKey reads a --key value as iPXE's parse_key does: a single
// character is that key, anything else an integer key code.
func parseKey(s string) (lineedit.Key, error) {
	if r := []rune(s); len(r) == 1 {
		return lineedit.Key(r[0]), nil
	}
	n, err := parseInt(s)
	return lineedit.Key(n), err
}

func (cmd *Command) usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage:\n\n  %s", cmd.Name)
	for _, o := range cmd.Options {
		fmt.Fprintf(&b, " [-%c|--%s", o.Short, o.Long)
		if o.Arg {
			fmt.Fprintf(&b, " <%s>", o.Long)
		}
		b.WriteString("]")
	}
	if cmd.Usage != "" {
		b.WriteString(" " + cmd.Usage)
	}
	fmt.Fprintf(&b, "\n\nSee https://ipxe.org/cmd/%s for further information\n", cmd.Name)
	return b.String()
}

// parse reads options the way iPXE's getopt_long does: options stop at
// the first argument not starting with '-' or at "--"; "--name=value",
// "--name value", "-nvalue", "-n value" and clustered flags "-qa" work;
// -h/--help prints usage. Errors print usage and return EINVAL (unknown
// option, missing value) or ERANGE (wrong number of arguments).
func (cmd *Command) parse(e *Engine, argv []string) (*Call, error) {
	c := &Call{E: e, Name: argv[0], opts: map[string]string{}}
	fail := func(n Errno, format string, a ...any) (*Call, error) {
		msg := fmt.Sprintf(format, a...)
		if msg != "" {
			e.printf("%s\n", msg)
		}
		e.printf("%s", cmd.usage())
		if msg == "" {
			return nil, quietError(n, "%s: %s", argv[0], "usage printed")
		}
		return nil, &Error{Errno: n, Err: fmt.Errorf("%s", msg), Quiet: true}
	}
	i := 1
	for i < len(argv) {
		a := argv[i]
		if len(a) < 2 || a[0] != '-' {
			break
		}
		if a == "--" {
			i++
			break
		}
		if strings.HasPrefix(a, "--") {
			name, val, hasVal := strings.Cut(a[2:], "=")
			if name == "help" {
				return fail(ECANCELED, "")
			}
			o := cmd.long(name)
			if o == nil {
				return fail(EINVAL, "Unrecognised option \"--%s\"", a[2:])
			}
			i++
			switch {
			case o.Arg && !hasVal:
				if i >= len(argv) {
					return fail(EINVAL, "Option \"%s\" requires an argument", name)
				}
				val = argv[i]
				i++
			case !o.Arg && hasVal:
				return fail(EINVAL, "Option \"%s\" takes no argument", name)
			}
			c.opts[o.Long] = val
			continue
		}
		i++
		for j := 1; j < len(a); j++ {
			if a[j] == 'h' {
				return fail(ECANCELED, "")
			}
			o := cmd.short(a[j])
			if o == nil {
				return fail(EINVAL, "Unrecognised option \"-%c\"", a[j])
			}
			if !o.Arg {
				c.opts[o.Long] = ""
				continue
			}
			if j+1 < len(a) {
				c.opts[o.Long] = a[j+1:]
			} else if i < len(argv) {
				c.opts[o.Long] = argv[i]
				i++
			} else {
				return fail(EINVAL, "Option \"%c\" requires an argument", a[j])
			}
			break
		}
	}
	c.Args = argv[i:]
	if len(c.Args) < cmd.Min || (cmd.Max >= 0 && len(c.Args) > cmd.Max) {
		return fail(ERANGE, "")
	}
	return c, nil
}

func (cmd *Command) long(name string) *Option {
	for _, opts := range [][]Option{cmd.Options, cmd.Extensions} {
		for i := range opts {
			if opts[i].Long == name {
				return &opts[i]
			}
		}
	}
	return nil
}

func (cmd *Command) short(s byte) *Option {
	for _, opts := range [][]Option{cmd.Options, cmd.Extensions} {
		for i := range opts {
			if opts[i].Short == s {
				return &opts[i]
			}
		}
	}
	return nil
}
