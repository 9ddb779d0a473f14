package script

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// requestFetcher is the fake fetcher that also makes requests with
// parameters, recording them.
type requestFetcher struct {
	*fakeFetcher
	reqs []Request
}

func (f *requestFetcher) FetchRequest(ctx context.Context, req Request, progress func(done, total int64)) ([]byte, error) {
	f.reqs = append(f.reqs, req)
	return f.Fetch(ctx, req.URI, progress)
}

func newParamsEnv() (*testEnv, *requestFetcher) {
	te := newTestEnv()
	rf := &requestFetcher{fakeFetcher: te.fetch}
	te.e.env.Fetcher = rf
	te.fetch.files["http://s/boot.php"] = "#!ipxe\necho booted\n"
	return te, rf
}

func TestParams(t *testing.T) {
	form := func(body string) []byte { return []byte(body) }
	tests := []struct {
		name   string
		script string
		want   []Request // requests made with parameters
		status Errno
		out    string // output must contain this
	}{
		{
			name: "form fields POST, header added",
			script: "params\nparam user alice\nparam pass a b&c=d\nparam --header X-Token t0k\nparam empty\n" +
				"chain http://s/boot.php##params\n",
			want: []Request{{URI: "http://s/boot.php", Method: "POST", ContentType: "application/x-www-form-urlencoded",
				Body: form("user=alice&pass=a%20b%26c%3Dd&empty="), Header: [][2]string{{"X-Token", "t0k"}}}},
			out: "http://s/boot.php... ok\n",
		},
		{
			name:   "named list, settings expanded",
			script: "params --name login\nset who bob\nparam --params login -- name ${who}/${net0/mac}\nchain http://s/boot.php##params=login\n",
			want: []Request{{URI: "http://s/boot.php", Method: "POST", ContentType: "application/x-www-form-urlencoded",
				Body: form("name=bob%2F52%3A54%3A00%3A12%3A34%3A56")}},
		},
		{
			name:   "headers only: GET",
			script: "params\nparam -H Authorization Bearer x\nchain http://s/boot.php##params\n",
			want:   []Request{{URI: "http://s/boot.php", Method: "GET", Header: [][2]string{{"Authorization", "Bearer x"}}}},
		},
		{
			name:   "--method wins",
			script: "params --method put\nparam a 1\nimgfetch http://s/boot.php##params\n",
			want: []Request{{URI: "http://s/boot.php", Method: "PUT", ContentType: "application/x-www-form-urlencoded",
				Body: form("a=1")}},
		},
		{
			name:   "unknown method",
			script: "params -m FETCH\nimgfetch http://s/boot.php##params\n",
			status: ENOTSUP,
			out:    "Could not start download: Operation not supported",
		},
		{
			name:   "a list that does not exist is ignored",
			script: "params --name a\nchain http://s/boot.php##params=b\n",
			out:    "booted\n",
		},
		{
			name:   "the URI claims the list",
			script: "params\nparam a 1\nimgfetch http://s/boot.php##params\nparam b 2\n",
			want: []Request{{URI: "http://s/boot.php", Method: "POST", ContentType: "application/x-www-form-urlencoded",
				Body: form("a=1")}},
			status: ENOENT,
			out:    "No default parameter list\n",
		},
		{
			name:   "params replaces a list of the same name",
			script: "params\nparam a 1\nparams\nparam b 2\nimgfetch http://s/boot.php##params\n",
			want: []Request{{URI: "http://s/boot.php", Method: "POST", ContentType: "application/x-www-form-urlencoded",
				Body: form("b=2")}},
		},
		{
			name:   "params --delete",
			script: "params --name x\nparams --name x --delete\nparams --delete\nparam --params x a 1\n",
			status: ENOENT,
			out:    "\"x\": no such parameter list\n",
		},
		{
			name:   "the default list is not a named one",
			script: "params --name x\nparam a 1\n",
			status: ENOENT,
			out:    "No default parameter list\n",
		},
		{
			name:   "param needs a key",
			script: "params\nparam\n",
			status: ERANGE,
			out:    "param [-p|--params <params>] [-H|--header] <key> [<value>]",
		},
		{
			name:   "params usage",
			script: "params --help\n",
			status: ECANCELED,
			out:    "params [-n|--name <name>] [-m|--method <method>] [-d|--delete]\n",
		},
	}
	for _, tc := range tests {
		te, rf := newParamsEnv()
		out, status, err := te.run(tc.script)
		if status != tc.status {
			t.Errorf("%s: status %v (%v); want %v\n%s", tc.name, status, err, tc.status, out)
		}
		if !reflect.DeepEqual(rf.reqs, tc.want) {
			t.Errorf("%s: requests\n%+v\nwant\n%+v", tc.name, rf.reqs, tc.want)
		}
		if !strings.Contains(out, tc.out) {
			t.Errorf("%s: output lacks %q:\n%s", tc.name, tc.out, out)
		}
		if strings.Contains(out, "##params...") {
			t.Errorf("%s: output shows the ##params suffix:\n%s", tc.name, out)
		}
	}
}

// A fetcher that cannot send parameters refuses a URI that has them
// rather than dropping them silently.
func TestParamsNeedRequestFetcher(t *testing.T) {
	te := newTestEnv()
	te.fetch.files["http://s/boot.php"] = "#!ipxe\necho booted\n"
	out, status, _ := te.run("params\nparam a 1\nchain http://s/boot.php##params\n")
	if status != ENOTSUP || strings.Contains(out, "booted") {
		t.Errorf("chain ##params without a RequestFetcher: status %v; want ENOTSUP\n%s", status, out)
	}
}

func TestFormEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain-text_1.2~*!$'(),;", "plain-text_1.2~*!$'(),;"},
		{"a b", "a%20b"},
		{"/#:@?=&+%", "%2F%23%3A%40%3F%3D%26%2B%25"},
		{"tab\there\nnl", "tab%09here%0Anl"},
		{"é", "%C3%A9"},
		{"\x7f", "%7F"},
	} {
		if got := formEscape(tc.in); got != tc.want {
			t.Errorf("formEscape(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}
