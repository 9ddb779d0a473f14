package script

import (
	"context"
	"errors"
	"strings"

	"github.com/snp-go/snp-go/script/lineedit"
)

// ShellPrompt is the interactive prompt.
const ShellPrompt = "snp-go> "

type drainer interface{ DrainInterrupts() }

// Shell runs the interactive command line until `exit` (or the console
// fails). Ctrl-C at the prompt abandons the line; Ctrl-C while a command
// runs interrupts it. The result is the status of `exit N` or of the
// last command.
func (e *Engine) Shell(ctx context.Context) error {
	con := e.env.Console
	if con == nil {
		return notAvailable("shell", "a console")
	}
	ed := lineedit.Editor{History: e.history, Complete: e.complete}
	saved := e.frame
	e.frame = nil // goto is not available at the prompt; errors carry no line
	defer func() { e.frame = saved }()
	var err error
	for {
		line, rerr := ed.ReadLine(ctx, con, ShellPrompt, "")
		if errors.Is(rerr, lineedit.ErrInterrupted) {
			continue
		}
		if rerr != nil {
			return rerr
		}
		if d, ok := con.(drainer); ok {
			d.DrainInterrupts()
		}
		err = e.Exec(ctx, line)
		if e.shellStopped(stopSequence) {
			return err
		}
	}
}

// complete is the shell's Tab completion: command names for the first
// word, setting names after "${".
func (e *Engine) complete(line string, pos int) (int, []string) {
	before := line[:pos]
	start := strings.LastIndexAny(before, " \t") + 1
	word := before[start:]
	if i := strings.LastIndex(word, "${"); i >= 0 {
		prefix := word[i+2:]
		var out []string
		for _, n := range e.Settings.Names() {
			if strings.HasPrefix(n, prefix) {
				out = append(out, word[:i+2]+n+"}")
			}
		}
		return start, out
	}
	if strings.TrimSpace(before[:start]) != "" {
		// Not the first word of a command (after ;, ||, && it is again).
		prev := strings.Fields(before[:start])
		if last := prev[len(prev)-1]; last != ";" && last != "||" && last != "&&" {
			return start, nil
		}
	}
	var out []string
	for _, n := range e.CommandNames() {
		if strings.HasPrefix(n, word) {
			out = append(out, n)
		}
	}
	return start, out
}
