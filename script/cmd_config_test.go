package script

import (
	"strings"
	"testing"
)

func TestConfig(t *testing.T) {
	const (
		up, down, home, end = "\x1b[A", "\x1b[B", "\x1b[H", "\x1b[F"
		ctrlD, ctrlU, ctrlX = "\x04", "\x15", "\x18"
	)
	tests := []struct {
		name   string
		script string
		keys   string
		status Errno
		out    []string // the output contains these, in order
	}{
		{name: "edit a stored setting",
			script: "set custom hello\nconfig\necho custom=${custom}\n",
			keys:   end + "\r" + ctrlU + "bye\r" + ctrlX,
			out:    []string{"snp-go configuration settings\n\n  net0/\n  ip............. <not specified>\n", "  custom......... hello\n\nUp/Down - move", "custom=bye\n"}},
		{name: "a key starts editing with that key",
			script: "set custom hello\nconfig\necho custom=${custom}\n",
			keys:   end + "!\r" + ctrlX,
			out:    []string{"custom=hello!\n"}},
		{name: "Esc abandons an edit, Esc leaves",
			script: "set custom hello\nconfig\necho custom=${custom}\n",
			keys:   end + "\r" + ctrlU + "bye\x1b" + "\x1b",
			out:    []string{"custom=hello\n"}},
		{name: "Ctrl-D deletes",
			script: "set custom hello\nconfig\nisset ${custom} || echo deleted\n",
			keys:   end + up + down + ctrlD + ctrlX,
			out:    []string{"> custom......... <not specified>", "deleted\n"}},
		{name: "a well-known setting, stored in the scope shown",
			script: "config\nshow hostname\n",
			keys:   home + down + down + down + down + down + down + down + "\r" + "pxe1\r" + ctrlX,
			out:    []string{"hostname:string = pxe1\n"}},
		{name: "a value its type refuses",
			script: "set x:ipv4 10.0.0.1\nconfig\nshow x\n",
			keys:   end + "\r" + ctrlU + "10.0.0.999\r" + ctrlX,
			out:    []string{"x.............. 10.0.0.999: Invalid argument", "x:ipv4 = 10.0.0.1\n"}},
		{name: "Enter opens a scope, .. goes back",
			script: "config\n",
			keys:   home + "\r" + home + down + end + home + "\r" + ctrlX,
			out:    []string{"snp-go configuration settings - net0\n\n  ../\n", "  mac............ 52:54:00:12:34:56\n", "\nsnp-go configuration settings\n\n  net0/\n"}},
		{name: "a scope argument", script: "config net0\n", keys: ctrlX,
			out: []string{"snp-go configuration settings - net0\n"}},
		{name: "no such scope", script: "config nope\n", status: EINVAL, out: []string{"\"nope\": no such scope\n"}},
		{name: "usage", script: "config a b\n", status: ERANGE, out: []string{"Usage:\n\n  config [<scope>]\n"}},
	}
	for _, tc := range tests {
		te := newTestEnv()
		te.con.typeKeys(tc.keys)
		out, status, err := te.run(tc.script)
		if status != tc.status {
			t.Errorf("%s: status %v (%v); want %v\n%s", tc.name, status, err, tc.status, out)
		}
		rest := out
		for _, w := range tc.out {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("%s: output lacks %q (in order):\n%s", tc.name, w, out)
				break
			}
			rest = rest[i+len(w):]
		}
	}
}
