package main

import (
	"embed"
	"io/fs"
)

//go:embed embedded
var embedded embed.FS

// embeddedFile returns a build-time input from embedded/, or nil.
func embeddedFile(name string) []byte {
	b, err := fs.ReadFile(embedded, "embedded/"+name)
	if err != nil {
		return nil
	}
	return b
}
