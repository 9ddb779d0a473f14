//go:build !linux

package main

import (
	"errors"
	"os"
)

var errNotLinux = errors.New("initmarker runs only as Linux's /init")

func kernelRelease() string          { return "unknown" }
func openConsole() (*os.File, error) { return nil, errNotLinux }
func powerOff() error                { return errNotLinux }
