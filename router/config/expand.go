package config

import (
	"errors"
	"strings"
)

// expand replaces ${NAME} and ${NAME:-default} in s using lookup, and "$${"
// with a literal "${". It returns the names of the variables that expanded to
// the empty string. Errors never quote s, which may hold a secret.
func expand(s string, lookup func(string) (string, bool)) (string, []string, error) {
	if !strings.Contains(s, "${") {
		return s, nil, nil
	}
	var b strings.Builder
	var empty []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		if i > 0 && s[i-1] == '$' {
			// "$${" is a literal "${".
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		rest := s[i+2:]
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return "", nil, errors.New(`unterminated "${" (write "$${" for a literal "${")`)
		}
		expr := rest[:end]
		s = rest[end+1:]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validEnvName(name) {
			return "", nil, errors.New(`invalid environment reference: expected ${NAME} or ${NAME:-default} with NAME made of letters, digits and "_"`)
		}
		val, ok := lookup(name)
		if hasDef && (!ok || val == "") {
			val = def
		}
		if val == "" {
			empty = append(empty, name)
		}
		b.WriteString(val)
	}
	return b.String(), empty, nil
}

func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
