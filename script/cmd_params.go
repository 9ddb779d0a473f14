package script

import (
	"context"
	"fmt"
	"strings"
)

// Request is a download with iPXE request parameters: a URI ending in
// "##params" (or "##params=<name>") names a parameter list made with
// `params` and `param`, whose form parameters become an HTTP POST body
// (application/x-www-form-urlencoded) and whose header parameters become
// request headers (iPXE net/tcp/httpcore.c http_open_uri).
type Request struct {
	URI         string
	Method      string // "GET", "POST", "HEAD" or "PUT"
	ContentType string // of Body; "" for none
	Body        []byte
	Header      [][2]string // extra request headers, in order, names as written
}

// RequestFetcher is a Fetcher that can make a Request: the backends
// implement it next to Fetch. Without it a URI with parameters fails.
type RequestFetcher interface {
	FetchRequest(ctx context.Context, req Request, progress func(done, total int64)) ([]byte, error)
}

// paramList is a request parameter list (iPXE core/params.c): the
// unnamed default list or a named one, an optional method, and its
// parameters in the order added.
type paramList struct {
	name   string
	named  bool // a name given with --name (it may be empty)
	method string
	params []param
}

type param struct {
	key, value string
	header     bool // param --header: a request header, else a form field
}

func paramsCommands() []*Command {
	return []*Command{
		{Name: "params", Summary: "Create a request parameter list",
			Options: []Option{{"name", 'n', true}, {"method", 'm', true}, {"delete", 'd', false}}, Run: paramsRun},
		{Name: "param", Summary: "Add a request parameter", Usage: "<key> [<value>]",
			Options: []Option{{"params", 'p', true}, {"header", 'H', false}}, Min: 1, Max: -1, Run: paramRun},
	}
}

// findParams returns the index of the list called name (named false: the
// default list), or -1.
func (e *Engine) findParams(name string, named bool) int {
	for i, p := range e.params {
		if p.named == named && p.name == name {
			return i
		}
	}
	return -1
}

// paramsRun creates a list, replacing one of the same name; with
// --delete it then destroys it again, so "params --delete" never fails
// (as in iPXE).
func paramsRun(ctx context.Context, c *Call) error {
	name, named := c.Value("name")
	if i := c.E.findParams(name, named); i >= 0 {
		c.E.params = append(c.E.params[:i], c.E.params[i+1:]...)
	}
	if c.Flag("delete") {
		return nil
	}
	method, _ := c.Value("method")
	c.E.params = append(c.E.params, &paramList{name: name, named: named, method: method})
	return nil
}

func paramRun(ctx context.Context, c *Call) error {
	name, named := c.Value("params")
	i := c.E.findParams(name, named)
	if i < 0 {
		if named {
			return saidf(ENOENT, "%q: no such parameter list", name)
		}
		return saidf(ENOENT, "No default parameter list")
	}
	p := c.E.params[i]
	p.params = append(p.params, param{key: c.Args[0], value: strings.Join(c.Args[1:], " "), header: c.Flag("header")})
	return nil
}

// takeParams splits "##params[=<name>]" off a URI as iPXE's parse_uri
// does: everything from the first "##params" on names the list ("=name",
// else the default list). A list found is claimed: it leaves the set of
// lists (a later `param` no longer finds it) and belongs to this fetch. A
// list that does not exist is ignored.
func (e *Engine) takeParams(ref string) (string, *paramList) {
	i := strings.Index(ref, "##params")
	if i < 0 {
		return ref, nil
	}
	rest := ref[i+len("##params"):]
	ref = ref[:i]
	name, named := strings.CutPrefix(rest, "=")
	j := e.findParams(name, named)
	if j < 0 {
		return ref, nil
	}
	p := e.params[j]
	e.params = append(e.params[:j], e.params[j+1:]...)
	return ref, p
}

// request builds the HTTP request for uri with the list's parameters:
// POST with the form fields if there are any, else GET; the list's
// method, if set, wins (HEAD, GET, POST or PUT in any case; any other
// is ENOTSUP, as iPXE's http_open_uri).
func (p *paramList) request(uri string) (Request, error) {
	req := Request{URI: uri, Method: "GET"}
	var form []string
	for _, pa := range p.params {
		if pa.header {
			req.Header = append(req.Header, [2]string{pa.key, pa.value})
			continue
		}
		form = append(form, formEscape(pa.key)+"="+formEscape(pa.value))
	}
	if body := strings.Join(form, "&"); body != "" {
		req.Method, req.ContentType, req.Body = "POST", "application/x-www-form-urlencoded", []byte(body)
	}
	if p.method != "" {
		switch m := strings.ToUpper(p.method); m {
		case "HEAD", "GET", "POST", "PUT":
			req.Method = m
		default:
			return req, saidf(ENOTSUP, "Could not start download: %s", ENOTSUP)
		}
	}
	return req, nil
}

// formEscape encodes a form key or value as iPXE does (uri_encode for its
// most escaping field): bytes outside printable ASCII, space, '%' and
// "/#:@?=&+" become %XX with upper-case hex digits; everything else is
// sent as it is (so unlike Go's url.QueryEscape a space is %20, not '+').
func formEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("%/#:@?=&+", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// fetchRequest makes req through the fetcher.
func (e *Engine) fetchRequest(ctx context.Context, cmd string, req Request, progress func(done, total int64)) ([]byte, error) {
	rf, ok := e.env.Fetcher.(RequestFetcher)
	if !ok {
		return nil, notAvailable(cmd, "a fetcher that sends request parameters (##params)")
	}
	return rf.FetchRequest(ctx, req, progress)
}
