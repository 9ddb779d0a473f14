//go:build !unix

package bootdisk

import (
	"errors"
	"time"
)

func lockFile(path string, wait time.Duration) (func(), error) {
	return nil, errors.New("bootdisk: the download cache needs a Unix host (flock)")
}
