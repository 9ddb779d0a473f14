package script

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/snp-go/snp-go/script/lineedit"
)

type menuItem struct {
	label     string // "" for a gap or heading
	text      string
	key       lineedit.Key
	isDefault bool
	secret    bool // item --secret: a form field whose value is masked
}

type menu struct {
	name, title string
	items       []menuItem
}

func uiCommands() []*Command {
	return []*Command{
		{Name: "menu", Summary: "Create a menu", Usage: "[<title>]",
			Options: []Option{{"name", 'n', true}, {"delete", 'd', false}}, Max: -1, Run: menuRun},
		{Name: "item", Summary: "Add an item to a menu or form", Usage: "[<name> [<text>]]",
			Options: []Option{{"menu", 'm', true}, {"form", 'f', true}, {"key", 'k', true}, {"default", 'd', false},
				{"secret", 's', false}, {"gap", 'g', false}},
			Max: -1, Run: itemRun},
		{Name: "choose", Summary: "Show a menu and store the chosen label", Usage: "<setting>",
			Options: []Option{{"menu", 'm', true}, {"default", 'd', true}, {"timeout", 't', true},
				{"retimeout", 'r', true}, {"keep", 'k', false}},
			Min: 1, Max: 1, Run: chooseRun},
		{Name: "login", Summary: "Ask for a user name and password", Run: loginRun},
	}
}

// menuRun is menu and form (iPXE's dynui_exec: both make the same "user
// interface", which choose shows as a menu and present as a form). It
// replaces one of the same name; --delete then removes it, so it never
// fails.
func menuRun(ctx context.Context, c *Call) error {
	name, _ := c.Value("name")
	delete(c.E.menus, name)
	if !c.Flag("delete") {
		c.E.menus[name] = &menu{name: name, title: strings.Join(c.Args, " ")}
	}
	return nil
}

func (e *Engine) findMenu(name string) (*menu, error) {
	m, ok := e.menus[name]
	if !ok {
		// iPXE's words (menus and forms are its "user interfaces").
		if name == "" {
			return nil, saidf(ENOENT, "No default user interface")
		}
		return nil, saidf(ENOENT, "%q: no such user interface", name)
	}
	return m, nil
}

func itemRun(ctx context.Context, c *Call) error {
	name, _ := c.Value("menu")
	if f, ok := c.Value("form"); ok {
		name = f
	}
	m, err := c.E.findMenu(name)
	if err != nil {
		return err
	}
	it := menuItem{isDefault: c.Flag("default"), secret: c.Flag("secret")}
	args := c.Args
	if !c.Flag("gap") && len(args) > 0 {
		it.label, args = args[0], args[1:]
	}
	it.text = strings.Join(args, " ")
	if k, ok := c.Value("key"); ok {
		if it.key, err = parseKey(k); err != nil {
			return err
		}
	}
	m.items = append(m.items, it)
	return nil
}

func chooseRun(ctx context.Context, c *Call) error {
	con := c.E.env.Console
	if con == nil {
		return notAvailable(c.Name, "a console")
	}
	r, err := parseSetting(c.Args[0])
	if err != nil {
		return err
	}
	name, _ := c.Value("menu")
	m, err := c.E.findMenu(name)
	if err != nil {
		return err
	}
	if !c.Flag("keep") {
		defer delete(c.E.menus, name)
	}
	timeout, err := c.Timeout("timeout")
	if err != nil {
		return err
	}
	retimeout, err := c.Timeout("retimeout")
	if err != nil {
		return err
	}
	def, _ := c.Value("default")
	label, err := c.E.showMenu(ctx, m, timeout, retimeout, def)
	if err != nil {
		return err
	}
	return c.E.store(r, label)
}

// showMenu draws the menu as text lines for a serial console and lets
// the user pick with Up/Down and Enter or an item's key; Esc or Ctrl-C
// cancels (ECANCELED). When the timeout runs out the highlighted item is
// chosen; any key restarts it as retimeout (0: wait forever).
func (e *Engine) showMenu(ctx context.Context, m *menu, timeout, retimeout time.Duration, def string) (string, error) {
	var sel []int // indices of selectable items
	cur := -1
	for i, it := range m.items {
		if it.label == "" {
			continue
		}
		if it.isDefault && cur < 0 || def != "" && it.label == def {
			cur = len(sel)
		}
		sel = append(sel, i)
	}
	if len(sel) == 0 {
		return "", Errorf(ENOENT, "menu %q has no items to choose from", m.name)
	}
	if cur < 0 {
		cur = 0
	}
	if m.title != "" {
		e.printf("%s\n", m.title)
	}
	for _, it := range m.items {
		switch {
		case it.label == "":
			e.printf("  %s\n", it.text)
		case it.key != 0:
			e.printf("  [%s] %s\n", it.key, it.text)
		default:
			e.printf("      %s\n", it.text)
		}
	}
	status := ""
	draw := func(left time.Duration) {
		s := "> " + m.items[sel[cur]].text
		if left > 0 {
			s += fmt.Sprintf(" (%d)", (left+time.Second-1)/time.Second)
		}
		pad := len([]rune(status)) - len([]rune(s))
		e.printf("\r%s", s)
		if pad > 0 {
			e.printf("%s%s", strings.Repeat(" ", pad), strings.Repeat("\b", pad))
		}
		status = s
	}
	deadline := time.Time{}
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		wait := ctx
		var cancel context.CancelFunc = func() {}
		left := time.Duration(0)
		if !deadline.IsZero() {
			left = time.Until(deadline)
			if left <= 0 {
				e.printf("\n")
				return m.items[sel[cur]].label, nil
			}
			step := left % time.Second
			if step == 0 {
				step = time.Second
			}
			wait, cancel = context.WithTimeout(ctx, step)
		}
		draw(left)
		k, err := e.env.Console.ReadKey(wait)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				continue // a second of the countdown passed
			}
			e.printf("\n")
			return "", err
		}
		deadline = time.Time{}
		if retimeout > 0 {
			deadline = time.Now().Add(retimeout)
		}
		switch k {
		case lineedit.KeyEsc, lineedit.KeyCtrlC:
			e.printf("\n")
			return "", &Error{Errno: ECANCELED, Err: errors.New("menu cancelled"), Quiet: true}
		case lineedit.KeyEnter:
			e.printf("\n")
			return m.items[sel[cur]].label, nil
		case lineedit.KeyUp:
			if cur > 0 {
				cur--
			}
		case lineedit.KeyDown:
			if cur < len(sel)-1 {
				cur++
			}
		case lineedit.KeyHome, lineedit.KeyPageUp:
			cur = 0
		case lineedit.KeyEnd, lineedit.KeyPageDown:
			cur = len(sel) - 1
		default:
			for j, idx := range sel {
				if m.items[idx].key != 0 && m.items[idx].key == k {
					cur = j
					draw(0)
					e.printf("\n")
					return m.items[idx].label, nil
				}
			}
		}
	}
}

// loginRun asks for a user name and a password (masked) and stores them
// in the username and password settings (iPXE login).
func loginRun(ctx context.Context, c *Call) error {
	con := c.E.env.Console
	if con == nil {
		return notAvailable(c.Name, "a console")
	}
	user, _ := c.E.Settings.Get("username")
	ed := lineedit.Editor{}
	u, err := ed.ReadLine(ctx, con, "Username: ", user)
	if err != nil {
		return readError(err)
	}
	pw := lineedit.Editor{Mask: true}
	p, err := pw.ReadLine(ctx, con, "Password: ", "")
	if err != nil {
		return readError(err)
	}
	if err := c.E.Settings.Set("username", u); err != nil {
		return Errorf(EINVAL, "Could not store username: %v", err)
	}
	if err := c.E.Settings.Set("password", p); err != nil {
		return Errorf(EINVAL, "Could not store password: %v", err)
	}
	return nil
}
