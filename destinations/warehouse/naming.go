package warehouse

import "strings"

// snakeCase converts a collection or property name to snake_case exactly as
// Segment's warehouses do (segmentio/go-snakecase's Snakecase): ASCII
// letters and digits are kept, everything else separates words and is
// dropped; a word starts at an upper-case letter that follows a lower-case
// one; a run of upper-case letters and digits is one word with the
// lower-case letters that follow it; digits stay with the word before them;
// the result is lower case.
func snakeCase(s string) string {
	// The common case: already snake_case (lower-case letters, digits, and
	// single underscores between them).
	clean := 0
	for clean < len(s) {
		c := s[clean]
		if isLowerASCII(c) || isDigitASCII(c) {
			clean++
			continue
		}
		if c == '_' && clean+1 < len(s) && (isLowerASCII(s[clean+1]) || isDigitASCII(s[clean+1])) {
			clean++
			continue
		}
		break
	}
	if clean == len(s) {
		return s
	}
	// A digit directly before an upper-case letter belongs to the next word
	// ("2FA" stays one word).
	if clean > 0 && isDigitASCII(s[clean-1]) {
		clean--
	}
	b := make([]byte, 0, len(s)+4)
	b = append(b, s[:clean]...)
	for i := clean; i < len(s); {
		if !isAlnumASCII(s[i]) {
			i++
			continue
		}
		if len(b) > 0 {
			b = append(b, '_')
		}
		for i < len(s) && (isUpperASCII(s[i]) || isDigitASCII(s[i])) {
			b = append(b, lowerASCII(s[i]))
			i++
		}
		for i < len(s) && (isLowerASCII(s[i]) || isDigitASCII(s[i])) {
			b = append(b, s[i])
			i++
		}
	}
	return string(b)
}

func lowerASCII(c byte) byte {
	if isUpperASCII(c) {
		return c + 'a' - 'A'
	}
	return c
}

func isLowerASCII(c byte) bool { return c >= 'a' && c <= 'z' }
func isUpperASCII(c byte) bool { return c >= 'A' && c <= 'Z' }
func isDigitASCII(c byte) bool { return c >= '0' && c <= '9' }
func isAlnumASCII(c byte) bool { return isLowerASCII(c) || isUpperASCII(c) || isDigitASCII(c) }

// The standard tables of Segment's warehouse layout (spec §5.1).
const (
	tableIdentifies = "identifies"
	tableUsers      = "users"
	tableTracks     = "tracks"
	tablePages      = "pages"
	tableScreens    = "screens"
	tableGroups     = "groups"
	tableAliases    = "aliases"
	tableAccounts   = "accounts"
	tableDiscards   = "_discards"
	tableEmptyEvent = "_empty_event"
)

var standardTables = map[string]bool{
	tableIdentifies: true, tableUsers: true, tableTracks: true, tablePages: true, tableScreens: true,
	tableGroups: true, tableAliases: true, tableAccounts: true, tableDiscards: true,
}

// reservedWords are SQL key words that PostgreSQL reserves (and DuckDB
// mostly shares); an event table named like one gets a "_" prefix so that
// it can be written unquoted (spec §5.4 rule 3).
var reservedWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`all analyse analyze and any array as asc asymmetric authorization binary both
		case cast check collate collation column concurrently constraint create cross current_catalog
		current_date current_role current_schema current_time current_timestamp current_user default
		deferrable desc distinct do else end except false fetch for foreign freeze from full grant group
		having ilike in initially inner intersect into is isnull join lateral leading left like limit
		localtime localtimestamp natural not notnull null offset on only or order outer overlaps placing
		primary references returning right select session_user similar some symmetric system_user table
		tablesample then to trailing true union unique user using variadic verbose when where window with
		pivot unpivot qualify`) {
		reservedWords[w] = true
	}
}

// truncateIdent cuts name to at most max bytes (names are ASCII).
func truncateIdent(name string, max int) string {
	if len(name) > max {
		return name[:max]
	}
	return name
}

// tableName returns the table of a track event (spec §5.4 post-processing):
// snake_case, "_empty_event" when nothing is left, a "_" prefix before a
// digit, a standard table's name or a reserved word, cut to max bytes.
func tableName(event string, max int) string {
	n := snakeCase(event)
	switch {
	case n == "":
		n = tableEmptyEvent
	case isDigitASCII(n[0]), standardTables[n], reservedWords[n]:
		n = "_" + n
	}
	return truncateIdent(n, max)
}

// columnName returns the column for the raw path segments of a flattened
// value: each segment snake_cased, the non-empty ones joined with "_", a
// "_" prefix before a digit, cut to max bytes. It returns "" when nothing
// is left (the value goes to _discards).
func columnName(path []string, max int) string {
	var b strings.Builder
	for _, seg := range path {
		s := snakeCase(seg)
		if s == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('_')
		}
		b.WriteString(s)
	}
	n := b.String()
	if n != "" && isDigitASCII(n[0]) {
		n = "_" + n
	}
	return truncateIdent(n, max)
}

// schemaName returns the schema (namespace) of a source: prefix plus the
// source's name in snake_case (spec §5.1), with the same "_" rules as a
// table.
func schemaName(prefix, source string, max int) string {
	n := snakeCase(source)
	if n == "" {
		n = "_empty_source"
	}
	n = prefix + n
	if isDigitASCII(n[0]) || reservedWords[n] {
		n = "_" + n
	}
	return truncateIdent(n, max)
}

// quoteIdent quotes an identifier for both dialects.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// qualified returns "schema"."table".
func qualified(schema, table string) string {
	return quoteIdent(schema) + "." + quoteIdent(table)
}
