//go:build !unix

package debian

import (
	"errors"
	"time"
)

func LockFile(path string, wait time.Duration) (func(), error) {
	return nil, errors.New("debian: the download cache needs a Unix host (flock)")
}
