package script

import (
	"context"
	"sort"
	"strings"

	"github.com/snp-go/snp-go/script/lineedit"
	"github.com/snp-go/snp-go/script/settings"
)

func configCommands() []*Command {
	return []*Command{
		{Name: "config", Summary: "Edit settings interactively", Usage: "[<scope>]", Max: 1, Run: configRun},
	}
}

// configRun is iPXE's config (hci/commands/config_cmd.c): a settings
// editor for a scope, "" the global one. It ends with Ctrl-X (or Esc)
// and always succeeds, as iPXE's does; a scope that does not exist is
// EINVAL.
func configRun(ctx context.Context, c *Call) error {
	con := c.E.env.Console
	if con == nil {
		return notAvailable(c.Name, "a console")
	}
	scope := ""
	if len(c.Args) > 0 {
		scope = c.Args[0]
	}
	info, err := c.E.Settings.Scope(scope)
	if err != nil {
		return saidf(EINVAL, "%q: no such scope", scope)
	}
	return c.E.settingsUI(ctx, info)
}

// configRow is a line of the settings editor: a scope to open (".." for
// the parent) or a setting of the scope shown.
type configRow struct {
	scope   string // scope path, for a scope row
	isScope bool
	up      bool // the parent scope
	ref     settings.Ref
	value   string
	has     bool   // the setting has a value (here or in a sub-scope)
	origin  string // where the value is stored
}

// text is the row as listed: "name/" for a scope, else the name padded
// with dots to 15 columns and the value (iPXE settings_ui.c's layout).
func (r *configRow) text() string {
	if r.isScope {
		if r.up {
			return "../"
		}
		return lastScope(r.scope) + "/"
	}
	v := r.value
	switch {
	case !r.has || v == "":
		v = "<not specified>"
	case r.ref.IsSecret():
		v = strings.Repeat("*", len([]rune(v)))
	}
	return r.label() + v
}

// label is a setting's name padded with dots to 15 columns, and a space.
func (r *configRow) label() string {
	n := r.ref.Key
	if len(n) < 15 {
		n += strings.Repeat(".", 15-len(n))
	}
	return n + " "
}

func lastScope(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// configRows lists a scope as iPXE's settings UI does: the parent, the
// sub-scopes, then the settings: the well-known DHCP settings, which
// apply to every scope, followed by the other settings stored in this
// scope, by name.
func (e *Engine) configRows(info settings.ScopeInfo) []*configRow {
	var rows []*configRow
	if info.HasParent {
		rows = append(rows, &configRow{scope: info.Parent, isScope: true, up: true})
	}
	for _, c := range info.Children {
		rows = append(rows, &configRow{scope: c, isScope: true})
	}
	seen := map[string]bool{}
	for _, d := range settings.Defs {
		if d.Tag == 0 {
			continue // interface and builtin settings: listed where stored
		}
		seen[d.Name] = true
		rows = append(rows, e.settingRow(info.Path, d.Name))
	}
	stored, _ := e.Settings.List(info.Path)
	var names []string
	for _, v := range stored {
		if v.Origin == info.Path && !seen[v.Key] {
			seen[v.Key] = true
			names = append(names, v.Key)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		rows = append(rows, e.settingRow(info.Path, n))
	}
	return rows
}

// settingRow reads setting name as seen from scope.
func (e *Engine) settingRow(scope, name string) *configRow {
	ref, _ := settings.ParseName(name)
	ref.Scope = scope
	r := &configRow{ref: ref}
	if v, err := e.Settings.Fetch(ref); err == nil {
		r.has, r.origin = true, v.Origin
		r.value, _ = v.Format()
		if ref.Def == nil {
			r.ref.Type = v.Type // an edited value keeps its type ("set x:ipv4 ...")
		}
	}
	return r
}

// settingsUI browses and edits the settings of a scope on a serial
// console: the rows are listed once as text lines, then the current row is
// shown (and edited) on the last line. Up/Down, PageUp/PageDown and
// Home/End move; Enter opens a scope or edits a setting; any other key
// starts editing a setting with that key. While editing, Enter stores the
// value (an empty one deletes the setting) and Ctrl-C or Esc abandon the
// change. Ctrl-D deletes the setting from this scope; Ctrl-X (or Esc)
// leaves.
func (e *Engine) settingsUI(ctx context.Context, info settings.ScopeInfo) error {
	con := e.env.Console
	var rows []*configRow
	cur := 0
	status := ""
	show := func() {
		title := "snp-go configuration settings"
		if info.Path != "" {
			title += " - " + info.Path
		}
		e.printf("%s\n\n", title)
		rows = e.configRows(info)
		for _, r := range rows {
			e.printf("  %s\n", r.text())
		}
		e.printf("\nUp/Down - move     Enter - edit or open     Ctrl-D - delete setting     Ctrl-X - exit configuration utility\n")
		cur, status = 0, ""
	}
	draw := func() {
		s := "> " + rows[cur].text()
		pad := len([]rune(status)) - len([]rune(s))
		e.printf("\r%s", s)
		if pad > 0 {
			e.printf("%s%s", strings.Repeat(" ", pad), strings.Repeat("\b", pad))
		}
		status = s
	}
	clear := func() {
		e.printf("\r%s\r", strings.Repeat(" ", len([]rune(status))))
		status = ""
	}
	reload := func() {
		r := rows[cur]
		*r = *e.settingRow(info.Path, r.ref.Key)
	}
	show()
	for {
		draw()
		k, err := con.ReadKey(ctx)
		if err != nil {
			e.printf("\n")
			return err
		}
		switch k {
		case lineedit.KeyUp:
			cur = max(cur-1, 0)
			continue
		case lineedit.KeyDown:
			cur = min(cur+1, len(rows)-1)
			continue
		case lineedit.KeyPageUp, lineedit.KeyHome:
			cur = 0
			continue
		case lineedit.KeyPageDown, lineedit.KeyEnd:
			cur = len(rows) - 1
			continue
		case lineedit.Ctrl('x'), lineedit.KeyEsc:
			clear()
			return nil
		}
		r := rows[cur]
		if r.isScope {
			if k == lineedit.KeyEnter {
				if info, err = e.Settings.Scope(r.scope); err != nil {
					return err
				}
				clear()
				e.printf("\n")
				show()
			}
			continue
		}
		switch k {
		case lineedit.KeyCtrlD:
			if err := e.Settings.Delete(r.ref); err != nil {
				clear()
				e.printf("%s: %s\n", r.ref.Key, StatusOf(storeError(r.ref, err)))
			}
			reload()
			continue
		case lineedit.KeyCtrlC:
			continue // nothing to discard
		}
		// Edit, starting with the key pressed (Enter: as it is).
		var first []lineedit.Key
		if k != lineedit.KeyEnter {
			first = []lineedit.Key{k}
		}
		clear()
		value := ""
		if r.has && r.origin != settings.BuiltinScope {
			value = r.value
		}
		ed := lineedit.Editor{Mask: r.ref.IsSecret()}
		prompt := "  " + r.label()
		line, k, err := ed.ReadField(ctx, &pushback{con, first}, prompt, value, func(k lineedit.Key) bool {
			return k == lineedit.KeyEnter || k == lineedit.KeyCtrlC || k == lineedit.KeyEsc
		})
		if err != nil {
			e.printf("\n")
			return err
		}
		e.printf("\r%s\r", strings.Repeat(" ", len([]rune(prompt))+len([]rune(line))))
		if k == lineedit.KeyEnter {
			if err := e.Settings.Store(r.ref, line); err != nil {
				e.printf("%s%s: %s\n", r.label(), line, StatusOf(storeError(r.ref, err)))
			}
		}
		reload()
	}
}

// pushback is a terminal that hands out some keys before the console's.
type pushback struct {
	Console
	keys []lineedit.Key
}

func (p *pushback) ReadKey(ctx context.Context) (lineedit.Key, error) {
	if len(p.keys) > 0 {
		k := p.keys[0]
		p.keys = p.keys[1:]
		return k, nil
	}
	return p.Console.ReadKey(ctx)
}
