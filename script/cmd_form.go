package script

import (
	"context"
	"errors"
	"strings"

	"github.com/snp-go/snp-go/script/lineedit"
	"github.com/snp-go/snp-go/script/settings"
)

func formCommands() []*Command {
	return []*Command{
		{Name: "form", Summary: "Create a form", Usage: "[<title>]",
			Options: []Option{{"name", 'n', true}, {"delete", 'd', false}}, Max: -1, Run: menuRun},
		{Name: "present", Summary: "Show a form and store the entered values",
			Options: []Option{{"form", 'f', true}, {"keep", 'k', false}}, Run: presentRun},
	}
}

// presentRun shows a form (iPXE's present: hci/tui/form_ui.c) and, unless
// --keep, destroys it afterwards whatever the outcome.
func presentRun(ctx context.Context, c *Call) error {
	con := c.E.env.Console
	if con == nil {
		return notAvailable(c.Name, "a console")
	}
	name, _ := c.Value("form")
	m, err := c.E.findMenu(name)
	if err != nil {
		return err
	}
	if !c.Flag("keep") {
		defer delete(c.E.menus, name)
	}
	return c.E.showForm(ctx, m)
}

// formField is an item of a form: a label (no setting) or an input for
// the setting its name names.
type formField struct {
	it    menuItem
	ref   settings.Ref
	input bool
	value string
	err   error // the last failure to store value
}

// prompt is what the edit line shows before the value.
func (f *formField) prompt() string {
	if f.it.text != "" {
		return f.it.text + ": "
	}
	return f.it.label + ": "
}

// shown is the value as listed (masked for a secret field).
func (f *formField) shown() string {
	if f.it.secret {
		return strings.Repeat("*", len([]rune(f.value)))
	}
	return f.value
}

// showForm lets the user fill in a form on a serial console: the form is
// listed once as text lines (title, labels, fields with their current
// values), then one field at a time is edited on the last line with the
// line editor's keys. Up/Down (and Tab, PageUp, PageDown) move between the
// fields; Enter moves to the next field and, on the last one (or on a
// field that failed), saves; Ctrl-X saves; Ctrl-C or Esc abandon the form
// (ECANCELED). Saving stores every field (an empty one deletes its
// setting); a value its setting's type refuses is reported under the form
// and that field is edited again. As iPXE, a form without an input field
// is EINVAL and the settings are read when it is shown.
func (e *Engine) showForm(ctx context.Context, m *menu) error {
	var fields []*formField
	var inputs []int // indices into fields
	cur := -1
	for _, it := range m.items {
		f := &formField{it: it}
		if it.label != "" {
			r, err := parseSetting(it.label)
			if err != nil {
				return err
			}
			f.ref, f.input = r, true
			if v, err := e.Settings.Fetch(r); err == nil {
				f.value, _ = v.Format()
			}
			if cur < 0 || it.isDefault {
				cur = len(inputs)
			}
			inputs = append(inputs, len(fields))
		}
		fields = append(fields, f)
	}
	if len(inputs) == 0 {
		return quietError(EINVAL, "form %q has no input fields", m.name)
	}
	if m.title != "" {
		e.printf("%s\n\n", m.title)
	}
	for _, f := range fields {
		switch {
		case !f.input:
			e.printf("%s\n", f.it.text)
		default:
			e.printf("  %s%s\n", f.prompt(), f.shown())
		}
	}
	e.printf("\nCtrl-X - save changes     Ctrl-C - discard changes\n")

	exits := func(k lineedit.Key) bool {
		switch k {
		case lineedit.KeyEnter, lineedit.KeyUp, lineedit.KeyDown, lineedit.KeyTab, lineedit.KeyPageUp, lineedit.KeyPageDown,
			lineedit.Ctrl('x'), lineedit.KeyCtrlC, lineedit.KeyEsc:
			return true
		}
		// A shortcut key jumps to its field, unless the field's editing
		// takes the key (printable characters), as in iPXE.
		return !k.IsPrint() && shortcut(fields, k, 0) >= 0
	}
	for {
		f := fields[inputs[cur]]
		ed := lineedit.Editor{Mask: f.it.secret}
		line, k, err := ed.ReadField(ctx, e.env.Console, f.prompt(), f.value, exits)
		if err != nil {
			return readError(err)
		}
		f.value = line
		// Leave the edit line blank for the next field.
		e.printf("\r%s\r", strings.Repeat(" ", len([]rune(f.prompt()))+len([]rune(line))))
		switch k {
		case lineedit.KeyCtrlC, lineedit.KeyEsc:
			return &Error{Errno: ECANCELED, Err: errors.New("form cancelled"), Quiet: true}
		case lineedit.KeyUp:
			cur = max(cur-1, 0)
		case lineedit.KeyDown:
			cur = min(cur+1, len(inputs)-1)
		case lineedit.KeyTab:
			cur = (cur + 1) % len(inputs)
		case lineedit.KeyPageUp:
			cur = 0
		case lineedit.KeyPageDown:
			cur = len(inputs) - 1
		case lineedit.KeyEnter, lineedit.Ctrl('x'):
			if k == lineedit.KeyEnter && f.err == nil && cur < len(inputs)-1 {
				cur++
				break
			}
			failed := e.saveForm(fields)
			if failed < 0 {
				return nil
			}
			if f.err == nil {
				for i, idx := range inputs {
					if idx == failed {
						cur = i
					}
				}
			}
		default:
			// A shortcut: to its field, or past its label to the next
			// field.
			idx := shortcut(fields, k, inputs[cur])
			for i, in := range inputs {
				if in >= idx {
					cur = i
					break
				}
			}
		}
	}
}

// shortcut finds the item with shortcut key k, searching from index from
// on and then from the start (iPXE dynui_shortcut); -1 if none.
func shortcut(fields []*formField, k lineedit.Key, from int) int {
	for pass := 0; pass < 2; pass++ {
		for i := from; i < len(fields); i++ {
			if fields[i].it.key != 0 && fields[i].it.key == k {
				return i
			}
		}
		from = 0
	}
	return -1
}

// saveForm stores every input field; it reports each failure on a line
// of its own and returns the index of the first field that failed, or
// -1 if all were stored.
func (e *Engine) saveForm(fields []*formField) int {
	first := -1
	for i, f := range fields {
		if !f.input {
			continue
		}
		f.err = e.Settings.Store(f.ref, f.value)
		if f.err != nil {
			e.printf("%s%s: %s\n", f.prompt(), f.shown(), StatusOf(storeError(f.ref, f.err)))
			if first < 0 {
				first = i
			}
		}
	}
	return first
}
