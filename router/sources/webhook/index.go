package webhook

import "slices"

// Rules are tried in order and the first whose when is true decides. Most
// sources choose by one field, each rule's when being body.event ==
// "<literal>" (or another path); with many rules, trying them one by one
// costs a lookup and a comparison each. A run of consecutive rules whose
// whens are all equality tests of the same path against a string literal
// is a ruleGroup: the path is read once and a map from literal to rule
// gives the only candidate. This is safe because such a when cannot fail
// (a missing field is null, and null, numbers and objects equal no string)
// and is true exactly when the value at the path is that string, so the
// first rule of the run whose literal is the value is the first whose when
// is true, and when there is none no rule of the run matches.

// ruleGroup indexes the run of rules[start:end] (start is where it is kept).
type ruleGroup struct {
	path  *pathExpr
	first map[string]int // literal → index of the first rule testing it
	end   int
}

// minGroup is the shortest run worth an index.
const minGroup = 3

// groupRules finds the runs of rules to index; the result has one entry
// per rule, set where a run starts.
func groupRules(rules []rule) []*ruleGroup {
	var groups []*ruleGroup
	for i := 0; i < len(rules); {
		path := eqPath(rules[i].when)
		j := i + 1
		for path != nil && j < len(rules) && samePath(eqPath(rules[j].when), path) {
			j++
		}
		if path == nil || j-i < minGroup {
			i++
			continue
		}
		if groups == nil {
			groups = make([]*ruleGroup, len(rules))
		}
		g := &ruleGroup{path: path, first: make(map[string]int, j-i), end: j}
		for k := i; k < j; k++ {
			if _, dup := g.first[rules[k].when.fast.lit]; !dup {
				g.first[rules[k].when.fast.lit] = k
			}
		}
		groups[i] = g
		i = j
	}
	return groups
}

// eqPath is the path p tests for equality with a string, or nil.
func eqPath(p *program) *pathExpr {
	if p == nil || p.fast.kind != '=' {
		return nil
	}
	return p.fast.path
}

func samePath(a, b *pathExpr) bool {
	return a != nil && b != nil && a.root == b.root && slices.Equal(a.keys, b.keys)
}

// match is the index of the rule of the group whose when is true for e,
// or -1 when none is.
func (g *ruleGroup) match(e *env) int {
	if s, ok := g.path.get(e).(string); ok {
		if i, hit := g.first[s]; hit {
			return i
		}
	}
	return -1
}
