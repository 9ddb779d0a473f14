package script

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseScript(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Line
	}{
		{"simple", "#!ipxe\necho hi\n", []Line{{Num: 1, Command: "#!ipxe"}, {Num: 2, Command: "echo hi"}}},
		{"no final newline", "a\nb", []Line{{Num: 1, Command: "a"}, {Num: 2, Command: "b"}}},
		{"CRLF", "a\r\nb\r\n", []Line{{Num: 1, Command: "a"}, {Num: 2, Command: "b"}}},
		{"continuation", "echo a \\\n  b\\\nc\nd", []Line{{Num: 1, Command: "echo a   bc"}, {Num: 4, Command: "d"}}},
		{"continuation CRLF", "echo a\\\r\nb\r\n", []Line{{Num: 1, Command: "echo ab"}}},
		{"label", ":start\n  :indented echo x\n", []Line{{Num: 1, Label: "start", HasLabel: true}, {Num: 2, Label: "indented", HasLabel: true, Command: "echo x"}}},
		{"bare colon", "echo a\n:\n: echo b\n", []Line{{Num: 1, Command: "echo a"}, {Num: 2, HasLabel: true}, {Num: 3, HasLabel: true, Command: "echo b"}}},
		{"label with tab", ":l\techo y", []Line{{Num: 1, Label: "l", HasLabel: true, Command: "echo y"}}},
		{"empty lines", "\n\n", []Line{{Num: 1}, {Num: 2}}},
		{"unterminated", "echo a\nb \\", []Line{{Num: 1, Command: "echo a"}, {Num: 2, Command: "b ", Unterminated: true}}},
	}
	for _, tc := range tests {
		got := ParseScript([]byte(tc.in))
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: ParseScript(%q) = %+v; want %+v", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestSplitAndTerminators(t *testing.T) {
	toks := SplitCommand("  echo\t${a}  b || x && y ; z # c || d")
	want := []string{"echo", "${a}", "b", "||", "x", "&&", "y", ";", "z", "#", "c", "||", "d"}
	if !reflect.DeepEqual(toks, want) {
		t.Fatalf("SplitCommand = %q; want %q", toks, want)
	}
	var seps []separator
	var cmds [][]string
	for {
		n, sep := nextCommand(toks)
		cmds = append(cmds, toks[:n])
		seps = append(seps, sep)
		if sep == sepEnd {
			break
		}
		toks = toks[n+1:]
	}
	if want := []separator{sepOr, sepAnd, sepSeq, sepEnd}; !reflect.DeepEqual(seps, want) {
		t.Errorf("separators = %v; want %v", seps, want)
	}
	if want := [][]string{{"echo", "${a}", "b"}, {"x"}, {"y"}, {"z"}}; !reflect.DeepEqual(cmds, want) {
		t.Errorf("commands = %q; want %q", cmds, want)
	}
}

func TestIsScriptAndEFI(t *testing.T) {
	for in, want := range map[string]bool{
		"#!ipxe\n": true, "#!gpxe\n": true, "#!ipxe echo": true, "#!ipxe": false, "#!ipxex\n": false, "echo\n": false,
	} {
		if got := IsScript([]byte(in)); got != want {
			t.Errorf("IsScript(%q) = %v; want %v", in, got, want)
		}
	}
	if !IsEFIImage([]byte("MZ\x90\x00")) || IsEFIImage([]byte("M")) {
		t.Errorf("IsEFIImage misjudges MZ headers")
	}
}

// TestLanguage runs scripts and checks their output and status.
func TestLanguage(t *testing.T) {
	tests := []struct {
		name   string
		script string
		out    string
		status Errno
	}{
		{"echo", "#!ipxe\necho hello   world\n", "hello world\n", 0},
		{"echo -n", "echo -n a\necho b\n", "ab\n", 0},
		{"echo -- ends options", "echo -- -n x\n", "-n x\n", 0},
		{"options stop at first argument", "echo x -n\n", "x -n\n", 0},
		{"comment token", "echo a # b c\necho a#b\n# whole line\n", "a\na#b\n", 0},
		{"expansion", "set a world\necho hello ${a}!\n", "hello world!\n", 0},
		{"unknown expands to empty", "echo [${nosuch}]\n", "[]\n", 0},
		{"nested expansion", "set name target\nset target found\necho ${${name}}\n", "found\n", 0},
		{"split before expansion", "set a x y\niseq ${a} x || echo one-argument\n", "one-argument\n", 0},
		{"empty expansion is still an argument", "isset ${nosuch} || echo ${errno}\n", "0x2d00008e\n", 0},
		{"set joins with spaces", "set a   b   c\necho [${a}]\n", "[b c]\n", 0},
		{"set without value clears", "set a 1\nset a\nisset ${a} || echo cleared\n", "cleared\n", 0},
		{"clear", "set a 1\nclear a\necho [${a}]\n", "[]\n", 0},
		{"typed set", "set n:int32 0x10\necho ${n} ${n:hex} ${n:uint8}\n", "16 00:00:00:10 0x10\n", 0},
		{"set invalid ipv4 fails", "set ip nonsense\necho not reached\n", "Could not store \"ip\": Invalid argument (0x1c000082)\n", EINVAL},
		{"or on failure", "isset ${x} || echo fallback\necho next\n", "fallback\nnext\n", 0},
		{"or on success", "isset yes || echo fallback\necho next\n", "next\n", 0},
		{"and on success", "isset yes && echo then\n", "then\n", 0},
		{"and on failure stops script", "isset ${x} && echo then\necho not reached\n", "", ENOENT},
		{"and-or", "isset ${x} && echo yes || echo no\nisset y && echo yes || echo no\n", "no\nyes\n", 0},
		{"trailing or consumes", "isset ${x} ||\necho after\n", "after\n", 0},
		{"semicolon", "echo a ; echo b;echo c\n", "a\nb;echo c\n", 0},
		{"semicolon after failure", "isset ${x} ; echo after\necho next\n", "after\nnext\n", 0},
		{"failure at end of sequence", "echo a ; isset ${x}\necho not reached\n", "a\n", ENOENT},
		{"or after and chain", "iseq a b && echo x || iseq c d || echo second\n", "second\n", 0},
		{"failure stops script", "echo a\niseq 1 2\necho b\n", "a\n", ERANGE},
		{"iseq", "iseq ${x} ${y} && echo empty-equal\n", "empty-equal\n", 0},
		{"goto forward", "goto skip\necho skipped\n:skip\necho landed\n", "landed\n", 0},
		{"goto skips rest of line", "goto end ; echo skipped\n:end\n", "", 0},
		{"goto backward loop",
			"set i:int32 0\n:loop\ninc i\necho i=${i}\niseq ${i} 3 || goto loop\necho done\n", "i=1\ni=2\ni=3\ndone\n", 0},
		{"goto missing label", "goto nowhere\necho not reached\n", "", ENOENT},
		{"goto missing label consumed", "goto nowhere || echo no label\n", "no label\n", 0},
		{"label line runs its command", "goto l\n:l echo on label line\n", "on label line\n", 0},
		{"continuation", "echo a \\\n  b\n", "a b\n", 0},
		{"exit", "echo a\nexit\necho b\n", "a\n", 0},
		{"exit status", "exit 3\n", "", Errno(3)},
		{"exit status in errno", "exit 0x2a || echo never\n", "", Errno(0x2a)},
		{"inc default", "inc c\ninc c 5\necho ${c}\n", "6\n", 0},
		{"inc string number", "set c 41\ninc c || echo ${c}\n", "Could not store \"c\": Operation not supported (0x3c000083)\n41\n", 0},
		{"inc non-number", "set c abc\ninc c\n", "Could not store \"c\": Operation not supported (0x3c000083)\n", ENOTSUP},
		{"inc named type", "set c 5\ninc c:int32\necho ${c}\n", "54\n", 0},
		{"command not found", "nosuchcommand\n", "nosuchcommand: command not found\n", ENOEXEC},
		{"unknown option", "echo --bogus\n", "", EINVAL},
		{"too few arguments", "iseq a\n", "", ERANGE},
		{"too many arguments", "isset a b\n", "", ERANGE},
		{"help option", "isset --help\n", "", ECANCELED},
		{"errno after failure", "iseq a b || echo ${errno}\n", "0x46000085\n", 0},
		{"errno after exit in or", "iseq a b || set e ${errno}\necho ${e}\n", "0x46000085\n", 0},
		{"unterminated continuation", "echo a\necho b\\", "a\n", EINVAL},
		{"show", "set greeting hi\nshow greeting\nshow -q greeting\n", "greeting:string = hi\nhi\n", 0},
		{"show password hidden", "set password s3cret\nshow password\nshow --reveal password\n",
			"password:string = <hidden>\npassword:string = s3cret\n", 0},
		{"show missing", "show nosuch\n", "Could not find \"nosuch\": No such file or directory (0x2d00008e)\n", ENOENT},
		{"show needs a setting", "show\n", "", ERANGE},
		{"goto empty label", "goto ${nothing}\necho skipped\n:\necho bare\n", "bare\n", 0},
		{"goto empty label missing", "goto ${nothing}\necho not reached\n", "", ENOENT},
		{"scoped", "set net0/ip 10.1.1.1\necho ${net0/ip} ${ip}\n", "10.1.1.1 10.1.1.1\n", 0},
		{"builtins", "echo ${platform} ${buildarch} ${version}\n", "efi arm64 test\n", 0},
		{"time", "time echo x\n", "x\ntime: 0.", 0},
	}
	for _, tc := range tests {
		te := newTestEnv()
		out, status, err := te.run(tc.script)
		// Error reports are printed too; compare only the lines the
		// script printed itself, which come before any report.
		got := stripReports(out)
		if !strings.HasPrefix(got, tc.out) || (tc.name != "time" && got != tc.out) {
			t.Errorf("%s: output %q; want %q (full output %q)", tc.name, got, tc.out, out)
		}
		if status != tc.status {
			t.Errorf("%s: status %v (err %v); want %v", tc.name, status, err, tc.status)
		}
	}
}

// stripReports removes the error report lines ("test.ipxe:N: ...") and
// usage texts from output.
func stripReports(out string) string {
	var keep []string
	lines := strings.SplitAfter(out, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "test.ipxe:") {
			continue
		}
		if strings.HasPrefix(l, "Usage:") || strings.HasPrefix(l, "Unrecognised option") {
			for i < len(lines) && !strings.HasPrefix(lines[i], "See https://ipxe.org/cmd/") {
				i++
			}
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "")
}

func TestErrorsNameScriptLineAndCommand(t *testing.T) {
	te := newTestEnv()
	out, _, err := te.run("#!ipxe\necho ok\n\nchain http://10.0.0.1/missing.efi\necho not reached\n")
	var se *ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("RunScript error = %v; want *ScriptError", err)
	}
	if se.Script != "test.ipxe" || se.Line != 4 || se.Command != "chain http://10.0.0.1/missing.efi" {
		t.Errorf("ScriptError = %+v; want test.ipxe line 4 chain", se)
	}
	if se.Errno() != ENOENT {
		t.Errorf("ScriptError.Errno() = %v; want ENOENT", se.Errno())
	}
	if want := "test.ipxe:4: chain: "; !strings.Contains(out, want) || !strings.Contains(out, "404") {
		t.Errorf("output %q does not report %q with the cause", out, want)
	}
	// A quiet failure that stops the script is reported once, by line.
	te = newTestEnv()
	out, _, _ = te.run("echo a\nisset ${nothing}\n")
	if want := "test.ipxe:2: script stopped: \"isset ${nothing}\" failed [No such file or directory (0x2d00008e)]"; !strings.Contains(out, want) {
		t.Errorf("output %q; want %q", out, want)
	}
	// Command not found names the command.
	te = newTestEnv()
	out, _, _ = te.run("frobnicate now\n")
	if want := "frobnicate: command not found\ntest.ipxe:1: script stopped: \"frobnicate now\" failed"; !strings.Contains(out, want) {
		t.Errorf("output %q; want %q", out, want)
	}
}

func TestOptionParsing(t *testing.T) {
	cmd := &Command{Name: "t", Options: []Option{{"name", 'n', true}, {"quiet", 'q', false}, {"autofree", 'a', false}}, Max: -1}
	tests := []struct {
		argv  []string
		opts  map[string]string
		args  []string
		errno Errno
	}{
		{[]string{"t", "--name", "x", "a"}, map[string]string{"name": "x"}, []string{"a"}, 0},
		{[]string{"t", "--name=x", "a"}, map[string]string{"name": "x"}, []string{"a"}, 0},
		{[]string{"t", "-nx", "a"}, map[string]string{"name": "x"}, []string{"a"}, 0},
		{[]string{"t", "-n", "x", "a"}, map[string]string{"name": "x"}, []string{"a"}, 0},
		{[]string{"t", "-qa", "a"}, map[string]string{"quiet": "", "autofree": ""}, []string{"a"}, 0},
		{[]string{"t", "-qnx"}, map[string]string{"quiet": "", "name": "x"}, nil, 0},
		{[]string{"t", "a", "-q"}, map[string]string{}, []string{"a", "-q"}, 0},
		{[]string{"t", "--", "-q"}, map[string]string{}, []string{"-q"}, 0},
		{[]string{"t", "-"}, map[string]string{}, []string{"-"}, 0},
		{[]string{"t", "--name"}, nil, nil, EINVAL},
		{[]string{"t", "-n"}, nil, nil, EINVAL},
		{[]string{"t", "--quiet=1"}, nil, nil, EINVAL},
		{[]string{"t", "--nam", "x"}, nil, nil, EINVAL},
		{[]string{"t", "-x"}, nil, nil, EINVAL},
		{[]string{"t", "-h"}, nil, nil, ECANCELED},
		{[]string{"t", "--help"}, nil, nil, ECANCELED},
	}
	e := New(Env{})
	for _, tc := range tests {
		c, err := cmd.parse(e, tc.argv)
		if tc.errno != 0 {
			if StatusOf(err) != tc.errno {
				t.Errorf("parse(%q) error %v; want %v", tc.argv, err, tc.errno)
			}
			continue
		}
		if err != nil {
			t.Errorf("parse(%q) error %v", tc.argv, err)
			continue
		}
		if !reflect.DeepEqual(c.opts, tc.opts) || !reflect.DeepEqual(append([]string(nil), c.Args...), tc.args) {
			t.Errorf("parse(%q) = opts %q args %q; want %q %q", tc.argv, c.opts, c.Args, tc.opts, tc.args)
		}
	}
}

func TestExecStatusAndErrno(t *testing.T) {
	e := New(Env{})
	ctx := context.Background()
	if err := e.Exec(ctx, "iseq a b || iseq c c"); err != nil {
		t.Errorf("Exec(iseq a b || iseq c c) = %v; want nil", err)
	}
	if e.Errno() != ERANGE {
		t.Errorf("Errno() after a consumed failure = %v; want ERANGE (errno keeps the last failure)", e.Errno())
	}
	if err := e.Exec(ctx, ""); err != nil {
		t.Errorf("Exec(\"\") = %v; want nil", err)
	}
	if err := e.Exec(ctx, "goto x"); StatusOf(err) != ENOTTY {
		t.Errorf("Exec(goto x) outside a script = %v; want ENOTTY", err)
	}
	e.Settings.Set("loop", "${loop}x")
	if err := e.Exec(ctx, "echo ${loop}"); StatusOf(err) != EINVAL {
		t.Errorf("Exec(echo ${loop}) with a self-referring setting = %v; want EINVAL", err)
	}
}

func FuzzExec(f *testing.F) {
	f.Add("#!ipxe\nset a b\n:l\necho ${${a}} || goto l && exit 1 ; inc i\n")
	f.Add("iseq ${x} ${y} && goto end ||\n:end\\\n echo")
	f.Fuzz(func(t *testing.T, script string) {
		// Only commands without side effects outside the engine or delays.
		e := New(Env{})
		allowed := map[string]bool{"echo": true, "set": true, "clear": true, "isset": true, "iseq": true,
			"goto": true, "exit": true, "inc": true, "show": true, "help": true}
		for n := range e.commands {
			if !allowed[n] {
				delete(e.commands, n)
			}
		}
		// goto loops are legitimate; bound the run by lines executed.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		steps := 0
		wrapped := map[string]*Command{}
		for n, c := range e.commands {
			c := *c
			run := c.Run
			c.Run = func(ctx context.Context, call *Call) error {
				steps++
				if steps > 2000 {
					e.shellStop(stopSequence)
					return nil
				}
				return run(ctx, call)
			}
			wrapped[n] = &c
		}
		e.commands = wrapped
		_ = e.RunScript(ctx, "fuzz.ipxe", []byte(script))
		if e.depth != 0 || e.frame != nil {
			t.Fatalf("engine state not restored: depth %d frame %v", e.depth, e.frame)
		}
	})
}

func FuzzParseScript(f *testing.F) {
	f.Add([]byte("#!ipxe\r\n:l cmd \\\nmore\n\n:x\n\\"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := ParseScript(data)
		phys := strings.Count(string(data), "\n") + 1
		last := 0
		for i, l := range lines {
			if l.Num <= last || l.Num > phys {
				t.Fatalf("line %d has number %d after %d (of %d physical lines)", i, l.Num, last, phys)
			}
			last = l.Num
			if strings.ContainsAny(l.Label, " \t\n\v\f\r") || strings.Contains(l.Command, "\n") {
				t.Fatalf("line %d = %+v: label with blanks or command with newline", i, l)
			}
			if l.Unterminated && i != len(lines)-1 {
				t.Fatalf("unterminated line %d is not the last", i)
			}
		}
	})
}
