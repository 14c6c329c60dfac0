package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Limits of the expression language.
const (
	// MaxNodes is the largest expression, in syntax-tree nodes, that
	// compiles.
	MaxNodes = 1000
	// MemoryBudget is what one evaluation may allocate in the VM's units
	// (about one per array element, map entry or range step, and the
	// length of a repeat()); past it the evaluation fails.
	MemoryBudget = 100_000
)

// env is what expressions see.
type env struct {
	Body       any            `expr:"body"`
	Headers    map[string]any `expr:"headers"`
	ReceivedAt time.Time      `expr:"received_at"`
	Vars       map[string]any `expr:"vars"`
}

// predicates are expr's builtins that run a closure per element.
var predicates = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true, "count": true, "sum": true,
	"find": true, "findIndex": true, "findLast": true, "findLastIndex": true, "groupBy": true, "sortBy": true, "reduce": true,
}

// nilSafe makes every member access nil-safe, as if written "?.": a
// missing key or a field of null yields null instead of an error, so that
// body.data.customer.email is null when customer is absent.
type nilSafe struct{}

func (nilSafe) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok || m.Method || m.Optional {
		return
	}
	if _, named := m.Property.(*ast.StringNode); named {
		// A named field: the field of an object, else null (also for
		// arrays and strings). A plain function call is cheaper than the
		// VM's reflective fetch.
		ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: getField}, Arguments: []ast.Node{m.Node, m.Property}})
		return
	}
	m.Optional = true
	ast.Patch(node, &ast.ChainNode{Node: m})
}

// getField is the internal function nilSafe turns a named member access
// into.
const getField = "__get"

// checkShape refuses what could make an evaluation's cost grow faster than
// the body: a predicate (map, filter, all, ...) inside another's closure.
type checkShape struct {
	depth, maxDepth int
	usesHeaders     bool
	// keys are the field names the expressions read (body.<key>), which
	// the body decoder shares instead of allocating each.
	keys map[string]string
}

func (c *checkShape) walk(n ast.Node) {
	switch n := n.(type) {
	case *ast.BuiltinNode:
		if predicates[n.Name] {
			c.depth++
			c.maxDepth = max(c.maxDepth, c.depth)
			for _, a := range n.Arguments {
				c.walk(a)
			}
			c.depth--
			return
		}
		for _, a := range n.Arguments {
			c.walk(a)
		}
	case *ast.IdentifierNode:
		if n.Value == "headers" {
			c.usesHeaders = true
		}
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == getField && len(n.Arguments) == 2 {
			if k, ok := n.Arguments[1].(*ast.StringNode); ok {
				if c.keys == nil {
					c.keys = make(map[string]string)
				}
				c.keys[k.Value] = k.Value
			}
		}
		for _, ch := range children(n) {
			c.walk(ch)
		}
	default:
		for _, ch := range children(n) {
			c.walk(ch)
		}
	}
}

// children lists a node's direct children.
func children(n ast.Node) []ast.Node {
	var out []ast.Node
	switch n := n.(type) {
	case *ast.UnaryNode:
		out = append(out, n.Node)
	case *ast.BinaryNode:
		out = append(out, n.Left, n.Right)
	case *ast.ChainNode:
		out = append(out, n.Node)
	case *ast.MemberNode:
		out = append(out, n.Node, n.Property)
	case *ast.SliceNode:
		out = append(out, n.Node, n.From, n.To)
	case *ast.CallNode:
		out = append(out, n.Callee)
		out = append(out, n.Arguments...)
	case *ast.PredicateNode:
		out = append(out, n.Node)
	case *ast.VariableDeclaratorNode:
		out = append(out, n.Value, n.Expr)
	case *ast.SequenceNode:
		out = append(out, n.Nodes...)
	case *ast.ConditionalNode:
		out = append(out, n.Cond, n.Exp1, n.Exp2)
	case *ast.ArrayNode:
		out = append(out, n.Nodes...)
	case *ast.MapNode:
		for _, p := range n.Pairs {
			out = append(out, p)
		}
	case *ast.PairNode:
		out = append(out, n.Key, n.Value)
	}
	return out
}

// options are the compile options of every expression: checkOptions
// and the nil-safe patch, which checkOptions leave out because the checker
// lets unknown names pass inside nil-safe chains.
var options = append([]expr.Option{expr.Patch(nilSafe{})}, checkOptions...)

var checkOptions = append([]expr.Option{
	expr.Env(env{}),
	expr.MaxNodes(MaxNodes),
	expr.DisableBuiltin("now"), // results must depend on the delivery only
	expr.Function(getField, func(a ...any) (any, error) {
		if m, ok := a[0].(map[string]any); ok {
			return m[a[1].(string)], nil
		}
		return nil, nil
	}, new(func(any, string) any)),
	expr.Function("query", queryParam, new(func(any, string) any)),
}, funcOptions()...)

// unaryFuncs are the package's functions of one argument; a call of one on
// a path runs without the VM.
var unaryFuncs = map[string]func(...any) (any, error){
	"lower":      strFunc(strings.ToLower),
	"upper":      strFunc(strings.ToUpper),
	"trim":       strFunc(strings.TrimSpace),
	"text":       func(a ...any) (any, error) { return textOf(a[0]), nil },
	"id":         func(a ...any) (any, error) { return idOf(a[0]), nil },
	"object":     func(a ...any) (any, error) { return objectOf(a[0]), nil },
	"integer":    func(a ...any) (any, error) { return integerOf(a[0]), nil },
	"unix":       func(a ...any) (any, error) { return unixTime(a[0], time.Second), nil },
	"unix_ms":    func(a ...any) (any, error) { return unixTime(a[0], time.Millisecond), nil },
	"parse_time": func(a ...any) (any, error) { return parseTime(a[0]), nil },
	"seconds":    func(a ...any) (any, error) { return timeUnits(a[0], time.Second), nil },
	"millis":     func(a ...any) (any, error) { return timeUnits(a[0], time.Millisecond), nil },
	"sha256":     sha256Hex,
}

func funcOptions() []expr.Option {
	var opts []expr.Option
	for _, name := range sortedKeys(unaryFuncs) {
		opts = append(opts, expr.Function(name, unaryFuncs[name], new(func(any) any)))
	}
	return opts
}

// program is one compiled expression with its source, for messages. The
// commonest shapes skip the VM (see fast): a constant, a path into the
// body (body.data.customer.email), and a path compared with a string
// (body.event == "x"), which is how most rules choose.
type program struct {
	src  string
	prog *vm.Program
	fast fastExpr
}

// fastExpr is what a program evaluates without the VM, giving what the VM
// gives: kind 0 is none (run the VM), 'k' the constant konst, 'p' the
// value at path, '=' and '!' whether the value at path equals (or not)
// the string lit, 'f' fn of the value at path (on an error the VM runs,
// for the error's text), '/' the number at path divided by num (as expr
// divides: a float64 quotient; for anything but an int or a float64 the
// VM runs, for the error).
type fastExpr struct {
	kind  byte
	konst any
	path  *pathExpr
	lit   string
	fn    func(...any) (any, error)
	num   float64
}

// pathExpr is a chain of named fields from body, headers or vars, as
// nilSafe patches it: each step is the field of an object, else null.
type pathExpr struct {
	root byte // 'b' body, 'h' headers, 'v' vars
	keys []string
}

// get is the value at the path in e.
func (p *pathExpr) get(e *env) any {
	var v any
	switch p.root {
	case 'b':
		v = e.Body
	case 'h':
		v = e.Headers[p.keys[0]]
		for _, k := range p.keys[1:] {
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		}
		return v
	case 'v':
		v = e.Vars[p.keys[0]]
		for _, k := range p.keys[1:] {
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		}
		return v
	}
	for _, k := range p.keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// fastOf recognises the shapes of fastExpr in a compiled (patched,
// optimised) syntax tree.
func fastOf(n ast.Node) fastExpr {
	switch n := n.(type) {
	case *ast.StringNode:
		return fastExpr{kind: 'k', konst: n.Value}
	case *ast.BoolNode:
		return fastExpr{kind: 'k', konst: n.Value}
	case *ast.NilNode:
		return fastExpr{kind: 'k'}
	case *ast.BinaryNode:
		if n.Operator == "/" {
			path := pathOf(n.Left)
			switch d := n.Right.(type) {
			case *ast.IntegerNode:
				if path != nil {
					return fastExpr{kind: '/', path: path, num: float64(d.Value)}
				}
			case *ast.FloatNode:
				if path != nil {
					return fastExpr{kind: '/', path: path, num: d.Value}
				}
			}
			return fastExpr{}
		}
		if n.Operator != "==" && n.Operator != "!=" {
			return fastExpr{}
		}
		path, lit := pathOf(n.Left), n.Right
		if path == nil {
			path, lit = pathOf(n.Right), n.Left
		}
		s, ok := lit.(*ast.StringNode)
		if path == nil || !ok {
			return fastExpr{}
		}
		kind := byte('=')
		if n.Operator == "!=" {
			kind = '!'
		}
		return fastExpr{kind: kind, path: path, lit: s.Value}
	case *ast.CallNode:
		callee, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || len(n.Arguments) != 1 {
			break
		}
		fn := unaryFuncs[callee.Value]
		if path := pathOf(n.Arguments[0]); fn != nil && path != nil {
			return fastExpr{kind: 'f', path: path, fn: fn}
		}
	}
	if p := pathOf(n); p != nil {
		return fastExpr{kind: 'p', path: p}
	}
	return fastExpr{}
}

// pathOf is the path n reads, or nil when n is not a chain of at least one
// named field from body, headers or vars.
func pathOf(n ast.Node) *pathExpr {
	var keys []string
	for {
		call, ok := n.(*ast.CallNode)
		if !ok {
			break
		}
		callee, ok := call.Callee.(*ast.IdentifierNode)
		if !ok || callee.Value != getField || len(call.Arguments) != 2 {
			return nil
		}
		key, ok := call.Arguments[1].(*ast.StringNode)
		if !ok {
			return nil
		}
		keys = append(keys, key.Value)
		n = call.Arguments[0]
	}
	id, ok := n.(*ast.IdentifierNode)
	if !ok || len(keys) == 0 {
		return nil
	}
	var root byte
	switch id.Value {
	case "body":
		root = 'b'
	case "headers":
		root = 'h'
	case "vars":
		root = 'v'
	default:
		return nil
	}
	for i, j := 0, len(keys)-1; i < j; i, j = i+1, j-1 {
		keys[i], keys[j] = keys[j], keys[i]
	}
	return &pathExpr{root: root, keys: keys}
}

// compileExpr compiles src; errors are one line, with the column.
func compileExpr(src string, sh *checkShape) (*program, error) {
	if _, err := expr.Compile(src, checkOptions...); err != nil {
		return nil, errors.New(oneLine(err))
	}
	p, err := expr.Compile(src, options...)
	if err != nil {
		return nil, errors.New(oneLine(err))
	}
	c := checkShape{}
	c.walk(p.Node())
	if c.maxDepth > 1 {
		return nil, errors.New("a predicate (map, filter, all, ...) inside another's closure is not allowed: its cost would grow with the square of the body")
	}
	if sh != nil && c.usesHeaders {
		sh.usesHeaders = true
	}
	if sh != nil && len(c.keys) > 0 && len(sh.keys) < maxInterned {
		if sh.keys == nil {
			sh.keys = make(map[string]string, len(c.keys))
		}
		for k := range c.keys {
			sh.keys[k] = k
		}
	}
	return &program{src: src, prog: p, fast: fastOf(p.Node())}, nil
}

// maxInterned bounds the field names a source's decoder shares.
const maxInterned = 4096

// oneLine renders an expr error as one line: its message and column.
func oneLine(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		if fe.Column > 0 || fe.Line > 0 {
			return fmt.Sprintf("%s (column %d)", fe.Message, fe.Column+1)
		}
		return fe.Message
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

// run evaluates p against the conversion's env, on the conversion's VM
// (kept for the next conversion), or without the VM for p's fast shapes.
func (c *conv) run(p *program) (any, error) {
	switch p.fast.kind {
	case 'k':
		return p.fast.konst, nil
	case 'p':
		return p.fast.path.get(c.e), nil
	case '=', '!':
		s, ok := p.fast.path.get(c.e).(string)
		return (ok && s == p.fast.lit) == (p.fast.kind == '='), nil
	case '/':
		switch v := p.fast.path.get(c.e).(type) {
		case int:
			return float64(v) / p.fast.num, nil
		case float64:
			return v / p.fast.num, nil
		}
	case 'f':
		c.arg[0] = p.fast.path.get(c.e)
		if v, err := p.fast.fn(c.arg[:]...); err == nil {
			return v, nil
		}
	}
	if c.vm == nil {
		c.vm = &vm.VM{MemoryBudget: MemoryBudget}
	}
	out, err := c.vm.Run(p.prog, c.e)
	if err != nil {
		return nil, errors.New(oneLine(err))
	}
	return out, nil
}

// strFunc makes a nil-propagating string function: null in, null out.
func strFunc(f func(string) string) func(...any) (any, error) {
	return func(a ...any) (any, error) {
		switch v := a[0].(type) {
		case nil:
			return nil, nil
		case string:
			return f(v), nil
		}
		return nil, fmt.Errorf("expects a string, not %s", kindOf(a[0]))
	}
}

// textOf is a string, trimmed, when not empty; nil for anything else.
func textOf(v any) any {
	if s, ok := v.(string); ok {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return nil
}

// objectOf is v when it is an object, else nil.
func objectOf(v any) any {
	if m, ok := v.(map[string]any); ok {
		return m
	}
	return nil
}

// idOf is a trimmed non-empty string, or a number in decimal form; nil
// for anything else.
func idOf(v any) any {
	if s, ok := idString(v); ok {
		return s
	}
	return nil
}

// idString is idOf as a string, and whether there is one.
func idString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		if s := strings.TrimSpace(v); s != "" {
			return s, true
		}
	case int:
		return strconv.Itoa(v), true
	case float64:
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			return strconv.FormatFloat(v, 'f', -1, 64), true
		}
	}
	return "", false
}

// integerOf is an integral number, or a string holding one, as an int;
// nil otherwise.
func integerOf(v any) any {
	if n, ok := integerValue(v); ok {
		return n
	}
	return nil
}

// integerValue is integerOf as an int, and whether there is one.
func integerValue(v any) (int, bool) {
	switch v := v.(type) {
	case int:
		return v, true
	case float64:
		if v == math.Trunc(v) && math.Abs(v) <= 1<<53 {
			return int(v), true
		}
	case string:
		s := strings.TrimSpace(v)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return int(n), true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
			return int(f), true
		}
	}
	return 0, false
}

// Bounds of a usable time: 1970 to the end of 9999.
var maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)

// unixTime reads a unix time in unit (a number or a numeric string); nil
// when absent or out of 1970..9999.
func unixTime(v any, unit time.Duration) any {
	n, ok := integerValue(v)
	if !ok || n < 0 || int64(n) > maxTime.UnixMilli()/int64(unit/time.Millisecond) {
		return nil
	}
	return time.Unix(0, 0).Add(time.Duration(n) * unit).UTC()
}

// parseTime parses an RFC 3339 string (any fractional precision); nil
// when absent or unparseable. A time is returned as is.
func parseTime(v any) any {
	switch v := v.(type) {
	case time.Time:
		return v
	case string:
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
		if err == nil && !t.After(maxTime) && t.Year() >= 1970 {
			return t.UTC()
		}
	}
	return nil
}

// timeUnits is a time as whole units since 1970; nil when not a time.
func timeUnits(v any, unit time.Duration) any {
	t, ok := v.(time.Time)
	if !ok {
		return nil
	}
	if unit == time.Second {
		return int(t.Unix())
	}
	return int(t.UnixMilli())
}

// queryParam is the value of a URL's query parameter, nil when absent or
// empty.
func queryParam(a ...any) (any, error) {
	s, _ := a[0].(string)
	key, _ := a[1].(string)
	if s == "" {
		return nil, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, nil
	}
	if v := strings.TrimSpace(u.Query().Get(key)); v != "" {
		return v, nil
	}
	return nil, nil
}

// sha256Hex is the hex SHA-256 of a string (or of a number's decimal
// form); null in, null out.
func sha256Hex(a ...any) (any, error) {
	var s string
	switch v := a[0].(type) {
	case nil:
		return nil, nil
	case string:
		s = v
	default:
		t, ok := idOf(v).(string)
		if !ok {
			return nil, fmt.Errorf("sha256 expects a string, not %s", kindOf(v))
		}
		s = t
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:]), nil
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, float64:
		return "a number"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case time.Time:
		return "a time"
	}
	return fmt.Sprintf("%T", v)
}
