package config

import (
	"errors"
	"strings"
)

// ParseBool reads a boolean setting, the one rule for environment
// variables and drain URL parameters alike: 1, true (on) or 0, false
// (off), case-insensitive for the words.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return false, errors.New("want 1, 0, true or false")
}
