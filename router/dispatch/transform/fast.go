package transform

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/expr-lang/expr/ast"
)

// The commonest shapes of expression run without the VM, as in the webhook
// source: a constant, a field of the message (message.properties.plan), a
// field compared with a string (message.type == "track") or tested for a
// prefix or suffix (message.userId endsWith "@example.com"), and a function
// of one argument applied to a field (upper(message.properties.plan)) or
// to a field with a constant for null (upper(message.properties.currency ??
// "usd")).
// Each gives what the VM gives (TestFastPaths compares them).

// fastFunc evaluates an expression on the message o.
type fastFunc func(o *object) (any, error)

// fastPath returns the fast evaluation of the compiled expression n, or
// nil.
func fastPath(n ast.Node) fastFunc {
	if v, ok := constant(n); ok {
		return func(*object) (any, error) { return v, nil }
	}
	if path := messagePath(n); path != nil {
		return func(o *object) (any, error) { return o.getPath(path) }
	}
	switch n := n.(type) {
	case *ast.BinaryNode:
		if n.Operator == "startsWith" || n.Operator == "endsWith" {
			return affixTest(n)
		}
		if n.Operator != "==" && n.Operator != "!=" {
			return nil
		}
		path, lit := messagePath(n.Left), n.Right
		if path == nil {
			path, lit = messagePath(n.Right), n.Left
		}
		s, ok := constant(lit)
		str, isStr := s.(string)
		if path == nil || !ok || !isStr {
			return nil
		}
		eq := n.Operator == "=="
		return func(o *object) (any, error) {
			if r, ok := o.rawStringPath(path); ok { // not decoded
				return (string(r) == str) == eq, nil
			}
			v, err := o.getPath(path)
			if err != nil {
				return nil, err
			}
			got, ok := v.(string)
			return (ok && got == str) == eq, nil
		}
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || len(n.Arguments) != 1 {
			return nil
		}
		f := unaryFuncs[id.Value]
		arg := fieldOrDefault(n.Arguments[0])
		if f == nil || arg == nil {
			return nil
		}
		return func(o *object) (any, error) {
			v, err := arg(o)
			if err != nil {
				return nil, err
			}
			return f(v)
		}
	}
	return nil
}

// fieldOrDefault returns the fast evaluation of a field of the message
// (message.properties.plan) or of a field with a constant for null
// (message.properties.currency ?? "usd"), or nil for any other shape.
func fieldOrDefault(n ast.Node) fastFunc {
	if path := messagePath(n); path != nil {
		return func(o *object) (any, error) { return o.getPath(path) }
	}
	b, ok := n.(*ast.BinaryNode)
	if !ok || b.Operator != "??" {
		return nil
	}
	path := messagePath(b.Left)
	def, isConst := constant(b.Right)
	if path == nil || !isConst {
		return nil
	}
	return func(o *object) (any, error) {
		v, err := o.getPath(path)
		if err != nil || v != nil {
			return v, err
		}
		return def, nil
	}
}

// affixTest returns the fast evaluation of a field tested against a string
// (message.userId endsWith "@example.com"), or nil. As in the VM: false
// when the field is null, an error when it is not a string.
func affixTest(n *ast.BinaryNode) fastFunc {
	path := messagePath(n.Left)
	lit, ok := constant(n.Right)
	affix, isStr := lit.(string)
	if path == nil || !ok || !isStr {
		return nil
	}
	has, hasBytes := strings.HasSuffix, bytes.HasSuffix
	if n.Operator == "startsWith" {
		has, hasBytes = strings.HasPrefix, bytes.HasPrefix
	}
	affixBytes := []byte(affix)
	return func(o *object) (any, error) {
		if r, ok := o.rawStringPath(path); ok { // not decoded
			return hasBytes(r, affixBytes), nil
		}
		v, err := o.getPath(path)
		if err != nil || v == nil {
			return false, err
		}
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s: %s is not a string", n.Operator, kindOf(v))
		}
		return has(s, affix), nil
	}
}

// constant returns the value of a literal node.
func constant(n ast.Node) (any, bool) {
	switch n := n.(type) {
	case *ast.StringNode:
		return n.Value, true
	case *ast.IntegerNode:
		return n.Value, true
	case *ast.BoolNode:
		return n.Value, true
	case *ast.NilNode:
		return nil, true
	case *ast.ConstantNode:
		switch v := n.Value.(type) {
		case string, int, bool, nil:
			return v, true
		}
	}
	return nil, false
}

// messagePath returns the names of a field of the message as nilSafe
// writes it (__get(__nav(message, "a"), "b")), or nil.
func messagePath(n ast.Node) []string {
	c, ok := n.(*ast.CallNode)
	if !ok || len(c.Arguments) != 2 {
		return nil
	}
	id, ok := c.Callee.(*ast.IdentifierNode)
	if !ok || id.Value != getField {
		return nil
	}
	var rev []string
	for {
		name, ok := c.Arguments[1].(*ast.StringNode)
		if !ok {
			return nil
		}
		rev = append(rev, name.Value)
		switch obj := c.Arguments[0].(type) {
		case *ast.IdentifierNode:
			if obj.Value != "message" {
				return nil
			}
			out := make([]string, len(rev))
			for i, s := range rev {
				out[len(rev)-1-i] = s
			}
			return out
		case *ast.CallNode:
			id, ok := obj.Callee.(*ast.IdentifierNode)
			if !ok || id.Value != navField || len(obj.Arguments) != 2 {
				return nil
			}
			c = obj
		default:
			return nil
		}
	}
}

// getPath returns the value of a field as an expression reads it: null
// when a name on the way is missing or not an object.
func (o *object) getPath(path []string) (any, error) {
	cur := o
	for i, name := range path[:len(path)-1] {
		v, err := cur.get(name, true)
		if err != nil {
			return nil, err
		}
		switch c := v.(type) {
		case *object:
			cur = c
		case map[string]any: // a value a rule set
			return mapPath(c, path[i+1:]), nil
		default:
			return nil, nil
		}
	}
	return cur.get(path[len(path)-1], false)
}

func mapPath(m map[string]any, rest []string) any {
	var v any = m
	for _, name := range rest {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[name]
	}
	return v
}
