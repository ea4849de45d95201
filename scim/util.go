package scim

import (
	"strconv"
	"strings"
)

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }

func lower(s string) string { return strings.ToLower(s) }

func itoa(i int) string { return strconv.Itoa(i) }
