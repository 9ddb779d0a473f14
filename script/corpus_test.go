package script

import (
	"strings"
	"testing"
)

// TestDocCorpus runs scripts written the way iPXE's documentation
// (ipxe.org/scripting and the ipxe.org/cmd pages) shows them.
func TestDocCorpus(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		files   map[string]string
		keys    string
		want    []string // in the output
		fetched []string // URIs fetched, in order
		san     []string
	}{
		{
			name:    "dhcp and chain",
			script:  "#!ipxe\n\ndhcp\nchain http://boot.example.test/demo/boot.php\n",
			files:   map[string]string{"http://boot.example.test/demo/boot.php": "#!ipxe\necho demo booted\n"},
			want:    []string{"Configuring (net0 52:54:00:12:34:56)... ok", "demo booted"},
			fetched: []string{"http://boot.example.test/demo/boot.php"},
		},
		{
			name: "retry dhcp and pass the MAC",
			script: `#!ipxe
:retry_dhcp
dhcp || goto retry_dhcp
chain http://${next-server}/boot.php?mac=${net0/mac}&arch=${buildarch}
`,
			files:   map[string]string{"http://10.0.0.1/boot.php?mac=52:54:00:12:34:56&arch=arm64": "#!ipxe\necho per-machine script\n"},
			want:    []string{"per-machine script"},
			fetched: []string{"http://10.0.0.1/boot.php?mac=52:54:00:12:34:56&arch=arm64"},
		},
		{
			name: "choose an operating system",
			script: `#!ipxe
menu Please choose an operating system to boot
item linux    Linux
item windows  Windows
choose --default linux --timeout 3000 os && goto ${os}
:linux
echo Booting Linux
exit
:windows
echo Booting Windows
`,
			keys: "\x1b[B\r",
			want: []string{"Please choose an operating system to boot", "Booting Windows"},
		},
		{
			name: "iSCSI sanboot",
			script: `#!ipxe
dhcp
set initiator-iqn iqn.2010-04.org.ipxe:${hostname}
set username joe
set password secret
sanboot iscsi:10.0.4.1:::1:iqn.2010-04.org.ipxe.dolphin:storage
`,
			want: []string{"Registered SAN device 0x80", "Booting from SAN device 0x80"},
			san:  []string{"hook 0x80 iscsi:10.0.4.1:::1:iqn.2010-04.org.ipxe.dolphin:storage", "boot 0x80", "unhook 0x80"},
		},
		{
			name: "filename or fallback",
			script: `#!ipxe
dhcp
isset ${filename} && chain ${filename} || echo no filename, trying root-path
isset ${root-path} && sanboot ${root-path} || echo no root-path
echo fell through
`,
			files: map[string]string{"http://10.0.0.1/boot.ipxe": "#!ipxe\nexit 1\n"},
			want:  []string{"no filename, trying root-path", "no root-path", "fell through"},
		},
		{
			name: "per-machine goto",
			script: `#!ipxe
dhcp
iseq ${net0/mac} 52:54:00:12:34:56 && goto mymachine ||
echo not mine
exit 1
:mymachine
echo this is my machine ${net0/mac:hexhyp}
`,
			want: []string{"this is my machine 52-54-00-12-34-56"},
		},
		{
			name: "counting loop",
			script: `#!ipxe
set i:int32 0
:loop
echo -n ${i}
inc i
iseq ${i} 10 || goto loop
echo
`,
			want: []string{"0123456789\n"},
		},
		{
			name:   "prompt for the shell",
			script: "#!ipxe\nprompt --key 0x02 --timeout 2000 Press Ctrl-B for the iPXE command line... && shell ||\necho booting on\n",
			keys:   "q",
			want:   []string{"booting on"},
		},
		{
			name: "login with credentials in the URI",
			script: `#!ipxe
login
chain http://${username:uristring}:${password:uristring}@boot.example.test/secure.ipxe
`,
			keys:    "j@e\rp/ss w\r",
			files:   map[string]string{"http://j%40e:p%2Fss%20w@boot.example.test/secure.ipxe": "#!ipxe\necho secure script\n"},
			want:    []string{"http://j%40e:<hidden>@boot.example.test/secure.ipxe... ok", "secure script"},
			fetched: []string{"http://j%40e:p%2Fss%20w@boot.example.test/secure.ipxe"},
		},
		{
			name: "kernel, initrd and boot with DHCP settings",
			script: `#!ipxe
dhcp
set base-url http://${next-server}/linux
kernel ${base-url}/vmlinuz ip=${ip}::${gateway}:${netmask}:${hostname}:eth0:none
initrd ${base-url}/initrd.img
boot
`,
			files: map[string]string{"http://10.0.0.1/linux/vmlinuz": efiBinary, "http://10.0.0.1/linux/initrd.img": "rd"},
			want:  []string{"http://10.0.0.1/linux/vmlinuz... ok", "http://10.0.0.1/linux/initrd.img... ok"},
		},
	}
	for _, tc := range tests {
		te := newTestEnv()
		for k, v := range tc.files {
			te.fetch.files[k] = v
		}
		te.con.typeKeys(tc.keys)
		out, status, err := te.run(tc.script)
		if status != 0 {
			t.Errorf("%s: status %v (%v)\n%s", tc.name, status, err, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, out)
			}
		}
		if tc.fetched != nil && strings.Join(te.fetch.fetched, " ") != strings.Join(tc.fetched, " ") {
			t.Errorf("%s: fetched %q; want %q", tc.name, te.fetch.fetched, tc.fetched)
		}
		if tc.san != nil && strings.Join(te.san.log, ",") != strings.Join(tc.san, ",") {
			t.Errorf("%s: SAN calls %q; want %q", tc.name, te.san.log, tc.san)
		}
		if strings.Contains(out, "secret") || strings.Contains(out, "p%2Fss") {
			t.Errorf("%s: output shows a password:\n%s", tc.name, out)
		}
	}
}
