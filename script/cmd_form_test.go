package script

import (
	"strings"
	"testing"
)

func TestForm(t *testing.T) {
	const login = `form Log in
item --gap -- Your account
item username User name
item --secret password Password
present %s && echo user=${username} pw=${password} || echo cancelled ${errno}
`
	tests := []struct {
		name   string
		pre    string // script before the form
		opts   string // present options
		keys   string
		want   string
		status Errno
	}{
		{name: "fill in both, Enter saves on the last", keys: "alice\rs3cret\r", want: "user=alice pw=s3cret\n"},
		{name: "current values are edited", pre: "set username bob\nset password old\n", keys: "\x7f\x7f\x7fcarol\r\r", want: "user=carol pw=old\n"},
		{name: "Tab and Up move, Ctrl-X saves", keys: "ali\tpw\x1b[Ace\x18", want: "user=alice pw=pw\n"},
		{name: "Down stops at the last field", keys: "\x1b[B\x1b[B\x1b[Bx\x1b[Ay\x18", want: "user=y pw=x\n"},
		{name: "PageDown, PageUp", keys: "\x1b[6~b\x1b[5~a\x18", want: "user=a pw=b\n"},
		{name: "Esc cancels", pre: "set username bob\n", keys: "zed\x1b", want: "cancelled 0xb000095\n"},
		{name: "Ctrl-C cancels", keys: "zed\x03", want: "cancelled 0xb000095\n"},
		{name: "an emptied field deletes its setting", pre: "set username bob\n", keys: "\x15\r\r", want: "user= pw=\n"},
	}
	for _, tc := range tests {
		te := newTestEnv()
		te.con.typeKeys(tc.keys)
		out, status, err := te.run(tc.pre + strings.Replace(login, "%s", tc.opts, 1))
		if status != tc.status || !strings.HasSuffix(out, tc.want) {
			t.Errorf("%s: status %v (%v); output does not end with %q:\n%s", tc.name, status, err, tc.want, out)
		}
		if !strings.Contains(out, "Log in\n\nYour account\n  User name: ") || !strings.Contains(out, "Ctrl-X - save changes     Ctrl-C - discard changes\n") {
			t.Errorf("%s: form not drawn as expected:\n%q", tc.name, out)
		}
		if strings.Contains(out, "s3cret\n") && !strings.Contains(out, "pw=s3cret") || strings.Contains(out, "Password: s3") {
			t.Errorf("%s: the secret field was shown: %q", tc.name, out)
		}
		if _, ok := te.e.menus[""]; ok {
			t.Errorf("%s: form kept after present without --keep", tc.name)
		}
	}
	if te := newTestEnv(); true {
		if got, _, _ := te.run("set username bob\nset password pw\n"); got != "" {
			t.Fatal(got)
		}
		te.con.typeKeys("\r\r")
		out, _, _ := te.run(strings.Replace(login, "%s", "", 1))
		if !strings.Contains(out, "  User name: bob\n  Password: **\n") {
			t.Errorf("current values not listed (secret masked):\n%s", out)
		}
	}
}

// TestFormStoreError: a value its setting's type refuses is reported and
// the field is edited again; the form ends when everything is stored.
func TestFormStoreError(t *testing.T) {
	te := newTestEnv()
	te.con.typeKeys("10.0.0.300\x18\x15" + "10.0.0.9\r") // Ctrl-X saves; Enter on the failed field saves again
	out, status, err := te.run("form\nitem --default ip IP address\nitem hostname\npresent\nshow ip\n")
	if status != 0 || !strings.Contains(out, "IP address: 10.0.0.300: ") || !strings.HasSuffix(out, "ip:ipv4 = 10.0.0.9\n") {
		t.Errorf("form with a bad IPv4 address, then a good one: status %v (%v)\n%s", status, err, out)
	}
}

func TestFormCommands(t *testing.T) {
	tests := []struct {
		name   string
		script string
		keys   string
		status Errno
		out    string
	}{
		{"present without a form", "present\n", "", ENOENT, "No default user interface\n"},
		{"present a missing named form", "form -n a\npresent --form b\n", "", ENOENT, "\"b\": no such user interface\n"},
		{"a form without input fields", "form\nitem --gap heading\nitem\npresent\n", "", EINVAL, ""},
		{"named form, shortcut key to a field", "form --name f Title\nitem --form f a A\nitem --form f --key 0x07 --gap Second\nitem --form f b B\n" +
			"present -f f --keep\necho ${a}/${b}\nitem --form f c C\n", "1\x07x\x18", 0, "1/x\n"},
		{"--default picks the first field", "form\nitem a\nitem --default b\npresent\necho ${a}/${b}\n", "x\x1b[Ay\x18", 0, "y/x\n"},
		{"a bad setting name", "form\nitem a:nosuchtype A\npresent\n", "", ENOTSUP, "invalid setting"},
		{"form --delete never fails", "form --delete\nform -n x\nform -n x -d\npresent -f x\n", "", ENOENT, "\"x\": no such user interface\n"},
		{"menu --delete never fails", "menu --delete --name nope\n", "", 0, ""},
		{"form usage", "form --help\n", "", ECANCELED, "  form [-n|--name <name>] [-d|--delete] [<title>]\n"},
		{"present usage", "present x\n", "", ERANGE, "  present [-f|--form <form>] [-k|--keep]\n"},
		{"item usage", "item -h\n", "", ECANCELED,
			"  item [-m|--menu <menu>] [-f|--form <form>] [-k|--key <key>] [-d|--default] [-s|--secret] [-g|--gap] [<name> [<text>]]\n"},
	}
	for _, tc := range tests {
		te := newTestEnv()
		te.con.typeKeys(tc.keys)
		out, status, err := te.run(tc.script)
		if status != tc.status || !strings.Contains(out, tc.out) {
			t.Errorf("%s: status %v (%v); want %v; output lacks %q:\n%s", tc.name, status, err, tc.status, tc.out, out)
		}
	}
}
