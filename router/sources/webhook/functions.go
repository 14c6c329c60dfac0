package webhook

import "sort"

// FunctionNames lists, sorted, the functions the expression language
// defines besides expr's builtins. Destination transforms
// (router/dispatch/transform) speak the same language; their test compares the
// two lists.
func FunctionNames() []string {
	names := append(sortedKeys(unaryFuncs), "query")
	sort.Strings(names)
	return names
}
