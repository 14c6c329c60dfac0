package schemas

import "strings"

// SnakeCase converts name to snake_case exactly like Segment's
// github.com/segmentio/go-snakecase Snakecase (spec §5.4): non-alphanumeric
// ASCII bytes separate words and are dropped, a run of upper-case letters and
// digits starts a word and the following lower-case letters and digits
// continue it, and the result is lower-case ASCII. A name that is already
// lower-case letters, digits and inner underscores is returned unchanged.
func SnakeCase(name string) string {
	i := 0
	for i < len(name) && (isLower(name[i]) || isDigit(name[i]) ||
		(name[i] == '_' && i < len(name)-1 && (isLower(name[i+1]) || isDigit(name[i+1])))) {
		i++
	}
	if i == len(name) {
		return name
	}
	// A digit directly before an upper-case letter belongs to the next word.
	if i > 0 && isDigit(name[i-1]) {
		i--
	}
	var b strings.Builder
	b.Grow(len(name) + 4)
	b.WriteString(name[:i])
	for i < len(name) {
		if !isLower(name[i]) && !isUpper(name[i]) && !isDigit(name[i]) {
			i++
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('_')
		}
		for i < len(name) && (isUpper(name[i]) || isDigit(name[i])) {
			b.WriteByte(toLower(name[i]))
			i++
		}
		for i < len(name) && (isLower(name[i]) || isDigit(name[i])) {
			b.WriteByte(name[i])
			i++
		}
	}
	return b.String()
}

// EventTable returns the warehouse table name of a track event (spec §5.4
// post-processing 1–3): SnakeCase of the name, "_empty_event" when that is
// empty, and a "_" prefix when it starts with a digit or equals a standard
// table name.
func EventTable(event string) string {
	t := SnakeCase(event)
	switch {
	case t == "":
		return "_empty_event"
	case isDigit(t[0]), standardTables[t]:
		return "_" + t
	}
	return t
}

// ColumnName returns the warehouse column name of a property or trait path
// segment: SnakeCase with a "_" prefix when it starts with a digit (spec §5.4
// post-processing 2). It returns "" when nothing is left of the name.
func ColumnName(name string) string {
	c := SnakeCase(name)
	if c != "" && isDigit(c[0]) {
		return "_" + c
	}
	return c
}

var standardTables = map[string]bool{
	"identifies": true, "users": true, "tracks": true, "pages": true, "screens": true,
	"groups": true, "aliases": true, "accounts": true, "_discards": true,
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func toLower(c byte) byte {
	if isUpper(c) {
		return c + ('a' - 'A')
	}
	return c
}
