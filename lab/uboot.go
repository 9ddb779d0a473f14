package lab

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// U-Boot console texts the lab waits for.
const (
	AutobootPrompt = "Hit any key to stop autoboot"
	Prompt         = "=> "
)

// promptRE is the prompt at the start of a line (or of the unread output,
// when the previous Expect consumed the line break).
var promptRE = regexp.MustCompile(`(?:^|\n)` + regexp.QuoteMeta(Prompt))

// WaitPrompt waits up to timeout for U-Boot's "=> " prompt at the start of a
// line — after an EFI application returns, say.
func (c *Console) WaitPrompt(timeout time.Duration) (Match, error) {
	return c.Expect(promptRE, timeout)
}

// StopAutoboot waits for U-Boot's autoboot countdown, presses a key (U-Boot
// consumes it) and waits for the "=> " prompt, which it returns.
func (c *Console) StopAutoboot(timeout time.Duration) (Match, error) {
	end := time.Now().Add(timeout)
	if _, err := c.Expect(AutobootPrompt, timeout); err != nil {
		return Match{}, err
	}
	if err := c.Send(" "); err != nil {
		return Match{}, err
	}
	return c.WaitPrompt(time.Until(end))
}

// checkLine rejects what U-Boot's line editor would not take as one command.
func checkLine(cmd string) error {
	if len(cmd) > maxCommandLine {
		return fmt.Errorf("lab: U-Boot command is %d characters; its console buffer takes %d", len(cmd), maxCommandLine)
	}
	if i := strings.IndexFunc(cmd, func(r rune) bool { return r < ' ' || r == 0x7f }); i >= 0 {
		return fmt.Errorf("lab: U-Boot command %q has control character %q at %d (tab completes, CR ends the line)", cmd, cmd[i], i)
	}
	return nil
}

// Run types cmd at the U-Boot prompt and waits up to timeout for the next
// prompt. It returns what the command printed, with "\r\n" turned into "\n".
// Call it when U-Boot shows its prompt (after StopAutoboot or a previous Run).
func (c *Console) Run(cmd string, timeout time.Duration) (string, error) {
	if err := checkLine(cmd); err != nil {
		return "", err
	}
	if err := c.Send(cmd + "\r"); err != nil {
		return "", err
	}
	// The echo of the line, then its output (empty, or whole lines), then
	// the prompt at the start of a line.
	re := regexp.MustCompile(`(?s)` + regexp.QuoteMeta(cmd) + `\r\n((?:.*?\n)?)` + regexp.QuoteMeta(Prompt))
	m, err := c.Expect(re, timeout)
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(m.Groups[1], "\r\n", "\n"), nil
}

// BootefiCommand is the U-Boot line that loads file from virtio device dev
// ("0:1" is the first partition of the first disk) and starts it with
// U-Boot's device tree. Unlike "a; b; c" the && stops at a failed load, so
// bootefi never starts whatever was left at ${kernel_addr_r}.
func BootefiCommand(dev, file string) string {
	return fmt.Sprintf("virtio scan && load virtio %s ${kernel_addr_r} %s && bootefi ${kernel_addr_r} ${fdtcontroladdr}", dev, file)
}

var (
	loadedRE     = regexp.MustCompile(`(\d+) bytes read in \d+ ms`)
	loadFailedRE = regexp.MustCompile(`(\*\* [^\r\n]*|Couldn't find partition[^\r\n]*|Failed to [^\r\n]*|Bad device[^\r\n]*)\r?\n`)
)

// Bootefi types BootefiCommand(dev, file) at the U-Boot prompt and waits up
// to timeout for the load to finish. It returns the match of U-Boot's
// "N bytes read" line: its At is when bootefi began, the origin for
// "seconds from bootefi to banner". The application's output follows; wait
// for it with Expect.
func (c *Console) Bootefi(dev, file string, timeout time.Duration) (Match, error) {
	cmd := BootefiCommand(dev, file)
	if err := checkLine(cmd); err != nil {
		return Match{}, err
	}
	if err := c.Send(cmd + "\r"); err != nil {
		return Match{}, err
	}
	i, m, err := c.ExpectAny(timeout, loadedRE, loadFailedRE)
	if err != nil {
		return Match{}, err
	}
	if i == 1 {
		return Match{}, fmt.Errorf("lab: U-Boot could not load %s from virtio %s: %s", file, dev, strings.TrimSpace(m.Text))
	}
	return m, nil
}
