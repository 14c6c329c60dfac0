package transform

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// The language is the webhook source's (router/sources/webhook): the same
// expr options, the same nil-safe field access, the same functions and the
// same limits; only the variables differ. It is kept here rather than
// shared, so that the two can be tuned apart; TestSameFunctionsAsWebhook
// keeps the function lists in step.

// Limits of the expression language, as in the webhook source.
const (
	// MaxNodes is the largest expression, in syntax-tree nodes, that
	// compiles.
	MaxNodes = 1000
	// MemoryBudget is what one evaluation may allocate in the VM's units
	// (about one per array element, map entry or range step); past it the
	// evaluation fails.
	MemoryBudget = 100_000
)

// env is what expressions see. Message is the message as an *object
// (read lazily through the field functions), or as map[string]any for an
// expression that uses it whole (see program.whole).
type env struct {
	Message any    `expr:"message"`
	Source  string `expr:"source"`
}

// checkEnv is env as the type checker sees it.
type checkEnv struct {
	Message map[string]any `expr:"message"`
	Source  string         `expr:"source"`
}

// predicates are expr's builtins that run a closure per element.
var predicates = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true, "count": true, "sum": true,
	"find": true, "findIndex": true, "findLast": true, "findLastIndex": true, "groupBy": true, "sortBy": true, "reduce": true,
}

// nilSafe makes every member access nil-safe, as if written "?.".
type nilSafe struct{}

func (nilSafe) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok || m.Method || m.Optional {
		return
	}
	if _, named := m.Property.(*ast.StringNode); named {
		// Nodes are visited children first: when the object is itself a
		// named field, it only leads to this one, so it is navigated to
		// rather than decoded.
		if c, ok := m.Node.(*ast.CallNode); ok {
			if id, ok := c.Callee.(*ast.IdentifierNode); ok && id.Value == getField {
				id.Value = navField
			}
		}
		ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: getField}, Arguments: []ast.Node{m.Node, m.Property}})
		return
	}
	m.Optional = true
	ast.Patch(node, &ast.ChainNode{Node: m})
}

// getField and navField are the internal functions nilSafe turns a named
// member access into: the field's value, or (navField) the field as an
// *object when another of its fields is read next.
const (
	getField = "__get"
	navField = "__nav"
)

func fieldOf(nav bool) func(a ...any) (any, error) {
	return func(a ...any) (any, error) {
		switch o := a[0].(type) {
		case *object:
			return o.get(a[1].(string), nav)
		case map[string]any:
			return o[a[1].(string)], nil
		}
		return nil, nil
	}
}

// usesWhole reports whether n uses the identifier message otherwise than
// as the object of a named field (keys(message), message[k]): such an
// expression is given the message decoded.
func usesWhole(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		return n.Value == "message"
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && (id.Value == getField || id.Value == navField) {
			if root, ok := n.Arguments[0].(*ast.IdentifierNode); ok && root.Value == "message" {
				return false
			}
			return usesWhole(n.Arguments[0])
		}
	}
	for _, c := range children(n) {
		if c != nil && usesWhole(c) {
			return true
		}
	}
	return false
}

// nesting returns the deepest nesting of predicates in n.
func nesting(n ast.Node) int {
	deepest := 0
	var walk func(n ast.Node, depth int)
	walk = func(n ast.Node, depth int) {
		if b, ok := n.(*ast.BuiltinNode); ok && predicates[b.Name] {
			depth++
			deepest = max(deepest, depth)
		}
		for _, c := range children(n) {
			if c != nil {
				walk(c, depth)
			}
		}
	}
	walk(n, 0)
	return deepest
}

// children lists a node's direct children.
func children(n ast.Node) []ast.Node {
	switch n := n.(type) {
	case *ast.UnaryNode:
		return []ast.Node{n.Node}
	case *ast.BinaryNode:
		return []ast.Node{n.Left, n.Right}
	case *ast.ChainNode:
		return []ast.Node{n.Node}
	case *ast.MemberNode:
		return []ast.Node{n.Node, n.Property}
	case *ast.SliceNode:
		return []ast.Node{n.Node, n.From, n.To}
	case *ast.CallNode:
		return append([]ast.Node{n.Callee}, n.Arguments...)
	case *ast.BuiltinNode:
		return n.Arguments
	case *ast.PredicateNode:
		return []ast.Node{n.Node}
	case *ast.VariableDeclaratorNode:
		return []ast.Node{n.Value, n.Expr}
	case *ast.SequenceNode:
		return n.Nodes
	case *ast.ConditionalNode:
		return []ast.Node{n.Cond, n.Exp1, n.Exp2}
	case *ast.ArrayNode:
		return n.Nodes
	case *ast.MapNode:
		out := make([]ast.Node, 0, 2*len(n.Pairs))
		for _, p := range n.Pairs {
			out = append(out, p)
		}
		return out
	case *ast.PairNode:
		return []ast.Node{n.Key, n.Value}
	}
	return nil
}

// unaryFuncs are the webhook source's functions of one argument; a call
// of one on a field of the message runs without the VM (see fast.go).
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

// FunctionNames lists, sorted, the functions defined besides expr's
// builtins: those of the webhook source.
var FunctionNames = func() []string {
	names := []string{"query"}
	for name := range unaryFuncs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}()

// functions are the options that define them, with the field functions.
var functions = func() []expr.Option {
	opts := []expr.Option{
		expr.Function(getField, fieldOf(false), new(func(any, string) any)),
		expr.Function(navField, fieldOf(true), new(func(any, string) any)),
		expr.Function("query", queryParam, new(func(any, string) any)),
	}
	for _, name := range FunctionNames {
		if f, ok := unaryFuncs[name]; ok {
			opts = append(opts, expr.Function(name, f, new(func(any) any)))
		}
	}
	return opts
}()

var (
	limits       = []expr.Option{expr.MaxNodes(MaxNodes), expr.DisableBuiltin("now")}
	checkOptions = append(append([]expr.Option{expr.Env(checkEnv{})}, limits...), functions...)
	options      = append(append([]expr.Option{expr.Patch(nilSafe{}), expr.Env(env{})}, limits...), functions...)
	boolOptions  = append(append([]expr.Option(nil), options...), expr.AsBool())
)

// program is one compiled expression.
type program struct {
	src   string
	prog  *vm.Program
	whole bool     // uses the message whole: give it decoded
	fast  fastFunc // evaluates it without the VM, or nil (fast.go)
}

// compileExpr compiles src; asBool requires a boolean result. Errors are
// one line, with the column.
func compileExpr(src string, asBool bool) (*program, error) {
	// Checked without the nil-safe patch first: the checker lets unknown
	// names pass inside nil-safe chains.
	check := checkOptions
	if asBool {
		check = append(check[:len(check):len(check)], expr.AsBool())
	}
	if _, err := expr.Compile(src, check...); err != nil {
		return nil, errors.New(oneLine(err))
	}
	opts := options
	if asBool {
		opts = boolOptions
	}
	p, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, errors.New(oneLine(err))
	}
	if nesting(p.Node()) > 1 {
		return nil, errors.New("a predicate (map, filter, all, ...) inside another's closure is not allowed: its cost would grow with the square of the message")
	}
	pr := &program{src: src, prog: p, whole: usesWhole(p.Node())}
	if _, cmp := p.Node().(*ast.BinaryNode); !asBool || cmp {
		pr.fast = fastPath(p.Node())
	}
	return pr, nil
}

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

var vms = sync.Pool{New: func() any { return &vm.VM{MemoryBudget: MemoryBudget} }}

// run evaluates p against the message o (of e, which it may change).
func (p *program) run(o *object, e *env) (any, error) {
	if p.fast != nil {
		return p.fast(o)
	}
	e.Message = o
	if p.whole {
		whole, err := o.decoded()
		if err != nil {
			return nil, err
		}
		e.Message = whole
	}
	m := vms.Get().(*vm.VM)
	out, err := m.Run(p.prog, e)
	vms.Put(m)
	if err != nil {
		return nil, errors.New(oneLine(err))
	}
	return out, nil
}

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

func textOf(v any) any {
	if s, ok := v.(string); ok {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return nil
}

func objectOf(v any) any {
	if m, ok := v.(map[string]any); ok {
		return m
	}
	return nil
}

func idOf(v any) any {
	switch v := v.(type) {
	case string:
		if s := strings.TrimSpace(v); s != "" {
			return s
		}
	case int:
		return strconv.Itoa(v)
	case float64:
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return nil
}

func integerOf(v any) any {
	switch v := v.(type) {
	case int:
		return v
	case float64:
		if v == math.Trunc(v) && math.Abs(v) <= 1<<53 {
			return int(v)
		}
	case string:
		s := strings.TrimSpace(v)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return int(n)
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
			return int(f)
		}
	}
	return nil
}

var maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)

func unixTime(v any, unit time.Duration) any {
	n, ok := integerOf(v).(int)
	if !ok || n < 0 || int64(n) > maxTime.UnixMilli()/int64(unit/time.Millisecond) {
		return nil
	}
	return time.Unix(0, 0).Add(time.Duration(n) * unit).UTC()
}

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
