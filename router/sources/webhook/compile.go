package webhook

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/eventrouter/eventrouter/router"
)

// Source is a webhook source compiled from its [Settings]: every
// expression parsed and type-checked once, at load. It is immutable and
// safe for concurrent use by any number of goroutines.
type Source struct {
	name        string
	integration string
	sig         *verifier
	deliveryID  *program
	vars        []field
	rules       []rule
	groups      []*ruleGroup      // per rule: the run of rules indexed from it
	keys        map[string]string // field names expressions read, shared by the decoder
	usesHeaders bool
}

type rule struct {
	name       string
	when       *program
	deliveryID *program
	emits      []emit
	reject     string
	detail     *program
}

type emit struct {
	path   string // "rules[0].emit[1]"
	when   *program
	typ    string
	fields []field // messageId, userId, ... in a fixed order
	ts     *program
	objs   []objField
}

// field is a scalar message field and its expression.
type field struct {
	key  string
	prog *program
}

// objField is traits, properties, context or integrations.
type objField struct {
	key string
	t   *tmpl
}

// tmpl is a value template: an expression, a constant, an object of
// templates or a list of them.
type tmpl struct {
	path  string
	prog  *program
	konst any
	obj   []tmplPair
	list  []*tmpl
	kind  byte // 'e' expression, 'c' constant, 'o' object, 'l' list
}

type tmplPair struct {
	key string
	t   *tmpl
}

// Compile checks s and compiles its expressions for the source named name.
// It reports every problem at once (joined with errors.Join), each a
// [*FieldError] with its key path, such as
// "rules[0].emit[1].properties.amount: unknown name bdy (column 1)".
func Compile(name string, s Settings) (*Source, error) {
	c := &compiler{errs: s.validateSettings(), sh: &checkShape{}}
	src := &Source{name: name, integration: s.Integration}
	if src.integration == "" {
		src.integration = name
	}
	src.deliveryID = c.expr("delivery_id", s.DeliveryID)
	for i, v := range s.Vars {
		if p := c.expr(fmt.Sprintf("vars[%d].value", i), v.Value); p != nil {
			src.vars = append(src.vars, field{v.Name, p})
		}
	}
	if s.Signature != nil {
		src.sig = newVerifier(s.Signature)
	}
	for i, r := range s.Rules {
		src.rules = append(src.rules, c.rule(fmt.Sprintf("rules[%d]", i), r))
	}
	src.usesHeaders = c.sh.usesHeaders
	src.groups = groupRules(src.rules)
	src.keys = c.sh.keys
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	return src, nil
}

// compiler collects the problems of one Compile, and what its
// expressions read of a delivery (sh).
type compiler struct {
	errs []error
	sh   *checkShape
}

// expr compiles the expression code at key path; nil when it is empty.
func (c *compiler) expr(path, code string) *program {
	if strings.TrimSpace(code) == "" {
		return nil
	}
	p, err := compileExpr(code, c.sh)
	if err != nil {
		c.errs = append(c.errs, fieldErr(path, "%v", err))
	}
	return p
}

// rule compiles rule r at key path p: its conditions and its emits.
func (c *compiler) rule(p string, r Rule) rule {
	cr := rule{name: r.Name, reject: r.Reject}
	if cr.name == "" {
		cr.name = p
	}
	cr.when = c.expr(p+".when", r.When)
	cr.deliveryID = c.expr(p+".delivery_id", r.DeliveryID)
	cr.detail = c.expr(p+".detail", r.Detail)
	for j, e := range r.Emit {
		cr.emits = append(cr.emits, c.emit(fmt.Sprintf("%s.emit[%d]", p, j), e))
	}
	return cr
}

// emit compiles emit e at key path ep: its type, the scalar fields and
// objects that type has, and checks that it sets what the type requires.
func (c *compiler) emit(ep string, e Emit) emit {
	ce := emit{path: ep, typ: e.Type, when: c.expr(ep+".when", e.When)}
	if !router.IsType(e.Type) {
		c.errs = append(c.errs, fieldErr(ep+".type", "must be one of %s, not %q", strings.Join(router.Types, ", "), e.Type))
	}
	scalars := []struct{ key, code string }{
		{"messageId", e.MessageID}, {"userId", e.UserID}, {"anonymousId", e.AnonymousID}, {"event", e.Event},
		{"name", e.Name}, {"category", e.Category}, {"groupId", e.GroupID}, {"previousId", e.PreviousID},
	}
	for _, f := range scalars {
		if f.code == "" {
			continue
		}
		if !allowed(e.Type, f.key) {
			c.errs = append(c.errs, fieldErr(ep+"."+f.key, "a %s message has no %s", e.Type, f.key))
			continue
		}
		if pr := c.expr(ep+"."+f.key, f.code); pr != nil {
			ce.fields = append(ce.fields, field{f.key, pr})
		}
	}
	ce.ts = c.expr(ep+".timestamp", e.Timestamp)
	objs := []struct {
		key string
		v   any
	}{{"traits", e.Traits}, {"properties", e.Properties}, {"context", e.Context}, {"integrations", e.Integrations}}
	for _, o := range objs {
		if o.v == nil {
			continue
		}
		if !allowed(e.Type, o.key) {
			c.errs = append(c.errs, fieldErr(ep+"."+o.key, "a %s message has no %s", e.Type, o.key))
			continue
		}
		t, terrs := compileTmpl(ep+"."+o.key, o.v, c.sh)
		c.errs = append(c.errs, terrs...)
		if t != nil {
			ce.objs = append(ce.objs, objField{o.key, t})
		}
	}
	c.requireFields(ep, e)
	return ce
}

// requireFields checks that emit e (at ep) sets what its type requires:
// userId or anonymousId (but an alias), a track's event, a group's
// groupId, an alias's previousId and userId.
func (c *compiler) requireFields(ep string, e Emit) {
	missing := map[string]bool{}
	switch e.Type {
	case router.TypeTrack:
		missing["event"] = e.Event == ""
	case router.TypeGroup:
		missing["groupId"] = e.GroupID == ""
	case router.TypeAlias:
		missing["previousId"] = e.PreviousID == ""
		missing["userId"] = e.UserID == ""
	}
	if e.UserID == "" && e.AnonymousID == "" && e.Type != router.TypeAlias {
		c.errs = append(c.errs, fieldErr(ep, "a %s message needs userId or anonymousId", e.Type))
	}
	for _, k := range sortedKeys(missing) {
		if missing[k] {
			c.errs = append(c.errs, fieldErr(ep+"."+k, "required for a %s message", e.Type))
		}
	}
}

// allowed says whether a message of type typ has the field key.
func allowed(typ, key string) bool {
	switch key {
	case "event":
		return typ == router.TypeTrack
	case "name", "category":
		return typ == router.TypePage || typ == router.TypeScreen
	case "groupId":
		return typ == router.TypeGroup
	case "previousId":
		return typ == router.TypeAlias
	case "traits":
		return typ == router.TypeIdentify || typ == router.TypeGroup
	case "properties":
		return typ == router.TypeTrack || typ == router.TypePage || typ == router.TypeScreen
	}
	return true
}

// compileTmpl compiles a traits/properties/context/integrations value as
// decoded from YAML: strings are expressions, other scalars constants,
// mappings and sequences templates of their elements.
func compileTmpl(path string, v any, sh *checkShape) (*tmpl, []error) {
	switch v := v.(type) {
	case nil:
		return &tmpl{path: path, kind: 'c'}, nil
	case string:
		p, err := compileExpr(v, sh)
		if err != nil {
			return nil, []error{fieldErr(path, "%v", err)}
		}
		return &tmpl{path: path, prog: p, kind: 'e'}, nil
	case bool, int, int64, uint64, float64:
		return &tmpl{path: path, konst: normNumber(v), kind: 'c'}, nil
	case map[string]any:
		t := &tmpl{path: path, kind: 'o'}
		var errs []error
		for _, k := range sortedKeys(v) {
			c, e := compileTmpl(path+"."+k, v[k], sh)
			errs = append(errs, e...)
			if c != nil {
				t.obj = append(t.obj, tmplPair{k, c})
			}
		}
		return t, errs
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[fmt.Sprint(k)] = x
		}
		return compileTmpl(path, m, sh)
	case []any:
		t := &tmpl{path: path, kind: 'l'}
		var errs []error
		for i, x := range v {
			c, e := compileTmpl(path+"["+strconv.Itoa(i)+"]", x, sh)
			errs = append(errs, e...)
			if c != nil {
				t.list = append(t.list, c)
			}
		}
		return t, errs
	}
	return nil, []error{fieldErr(path, "unsupported value of type %T", v)}
}

func normNumber(v any) any {
	switch v := v.(type) {
	case int64:
		return int(v)
	case uint64:
		return float64(v)
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Name is the source's name, as given to [Compile].
func (s *Source) Name() string { return s.name }

// Signed reports whether deliveries must carry a valid signature
// ([Source.Verify]).
func (s *Source) Signed() bool { return s.sig != nil }
