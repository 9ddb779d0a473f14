// Command snpctl is snp-go's workstation tool: it runs the same protocol code
// as the EFI application (iSCSI, scripts, fetches) on a Linux host so that a
// SAN boot can be checked before a board is touched.
//
// Usage: snpctl COMMAND [SUBCOMMAND] [flags] [args]
//
// Each command lives in its own file and registers itself in init().
package main

import (
	"fmt"
	"os"
	"sort"
)

// command is one top-level snpctl command.
type command struct {
	summary string
	run     func(args []string) error
}

var commands = map[string]command{}

// register adds a top-level command; called from init() in each command's file.
func register(name, summary string, run func(args []string) error) {
	if _, dup := commands[name]; dup {
		panic("snpctl: command registered twice: " + name)
	}
	commands[name] = command{summary: summary, run: run}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: snpctl COMMAND [args]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, commands[n].summary)
	}
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	c, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "snpctl: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := c.run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "snpctl %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
