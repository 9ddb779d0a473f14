package bootdisk

import (
	"regexp"
	"strconv"
)

func fmtLen(n int) string           { return strconv.Itoa(n) }
func itoa(n int64) string           { return strconv.FormatInt(n, 10) }
func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
