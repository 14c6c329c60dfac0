package warehouse

import (
	"strings"

	"github.com/eventrouter/eventrouter/internal/snakecase"
)

// The standard tables of Segment's warehouse layout.
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

// tableName returns the table of a track event, snake_cased.
func tableName(event string, max int) string { return snakecase.EventTable(event, max) }

// columnName returns the column of a flattened value's raw path, "" when
// nothing is left of it.
func columnName(path []string, max int) string { return snakecase.Column(path, max) }

// schemaName returns the schema of a source, after prefix.
func schemaName(prefix, source string, max int) string {
	return snakecase.Schema(prefix, source, max)
}

// quoteIdent quotes an identifier for both dialects.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// qualified returns "schema"."table".
func qualified(schema, table string) string {
	return quoteIdent(schema) + "." + quoteIdent(table)
}
