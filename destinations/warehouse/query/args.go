package query

import (
	"errors"
	"flag"
	"fmt"
	"sort"
	"strings"

	"github.com/eventrouter/eventrouter/destinations/warehouse"
)

// SplitArgs parses the flags of `eventrouter sql` in fs, before or after
// the query, and returns the other arguments (the query, if the command
// line is right, is the only one). "--" ends the flags; an argument that
// starts with "--" and then a space, a tab or a line break is a query that
// begins with an SQL comment, not a flag.
func SplitArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, queries []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			queries = append(queries, args[i+1:]...)
			i = len(args)
		case isComment(a), !strings.HasPrefix(a, "-"), a == "-":
			queries = append(queries, a)
		default:
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			f := fs.Lookup(name)
			if f == nil || i+1 == len(args) {
				continue
			}
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !bf.IsBoolFlag() {
				i++
				flags = append(flags, args[i])
			}
		}
	}
	if err := fs.Parse(flags); err != nil {
		return nil, err
	}
	return append(queries, fs.Args()...), nil
}

// isComment reports whether an argument is a query that starts with an
// SQL comment ("--" followed by a space, a tab or a line break).
func isComment(a string) bool {
	return len(a) > 2 && strings.HasPrefix(a, "--") && strings.ContainsRune(" \t\r\n", rune(a[2]))
}

// Choose returns the warehouse to query among warehouses (the config's
// warehouse destinations by name): the one called name, or the only one
// when name is empty. No warehouse, several without a name, or a name
// that is not one of them is an error that lists those there are.
func Choose(warehouses map[string]*warehouse.Config, name string) (*warehouse.Config, error) {
	names := make([]string, 0, len(warehouses))
	for n := range warehouses {
		names = append(names, n)
	}
	sort.Strings(names)
	switch {
	case name != "":
		c, ok := warehouses[name]
		if !ok {
			list := "none"
			if len(names) > 0 {
				list = strings.Join(names, ", ")
			}
			return nil, fmt.Errorf("no warehouse destination %q in the config (warehouses: %s)", name, list)
		}
		return c, nil
	case len(names) == 0:
		return nil, errors.New("the config has no destination of type warehouse")
	case len(names) > 1:
		return nil, fmt.Errorf("the config has several warehouses (%s): pick one with --destination", strings.Join(names, ", "))
	}
	return warehouses[names[0]], nil
}
