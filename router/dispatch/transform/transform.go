package transform

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// Rule is one entry of a destination's "transform" list: exactly one of
// Set, Rename, Remove and Drop, optionally guarded by When.
type Rule struct {
	// When, an expression giving a boolean, guards the rule: it applies
	// only when When is true (key "when", default: always).
	When string `yaml:"when"`
	// Set maps field paths ("properties.plan") to expressions; each path
	// gets its expression's value, intermediate objects created, and a
	// null value removes the field (key "set").
	Set map[string]string `yaml:"set"`
	// Rename maps field paths to the paths they move to; a missing field
	// is not moved, and a field already at the target is replaced (key
	// "rename").
	Rename map[string]string `yaml:"rename"`
	// Remove lists field paths to remove (key "remove").
	Remove []string `yaml:"remove"`
	// Drop is the reason for which the message is not sent: it is counted
	// as filtered with this reason (key "drop", a lower-case name such as
	// "internal_user"). A drop rule needs When.
	Drop string `yaml:"drop"`
}

// Suppress is a destination's "suppress" block: a message whose key was
// delivered to the destination within Window is not sent.
type Suppress struct {
	// Key is an expression over the message as it would be delivered
	// (after the transform); its value, a string or a number, is the key.
	// A message whose key is null or empty is never suppressed (key "key",
	// required).
	Key string `yaml:"key"`
	// Window is how long a delivered key suppresses others (key
	// "window", required, 1s to 400 days).
	Window time.Duration `yaml:"window"`
}

// ReasonSuppressed is the filtered reason of a suppressed message.
const ReasonSuppressed = "suppressed"

// MaxWindow is the longest suppression window.
const MaxWindow = 400 * 24 * time.Hour

// Program is a destination's compiled transform. It is immutable and safe
// for concurrent use.
type Program struct {
	rules []rule
}

type rule struct {
	path string // "transform[2]"
	when *program
	op   byte // 's' set, 'r' rename, 'x' remove, 'd' drop
	sets []setOp
	ren  []renameOp
	rm   []fieldPath
	drop string
}

type setOp struct {
	path fieldPath
	key  string // the key path of its expression, for errors
	prog *program
}

type renameOp struct{ from, to fieldPath }

// fieldPath is a dotted path to a field of the message's JSON object.
type fieldPath []string

func (p fieldPath) String() string { return strings.Join(p, ".") }

// reasonName is what a drop reason may be.
var reasonName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// reserved are the reasons dispatch gives itself; a drop cannot use them,
// so that a count by reason stays unambiguous.
var reserved = []string{"type", "event", "excluded", "integrations", "violations", ReasonSuppressed}

// immutable are the top-level fields a transform cannot touch: the type
// decides how destinations read the message, and the messageId is its
// identity (destinations dedupe by it).
var immutable = map[string]bool{"type": true, "messageId": true}

// Compile checks rules and compiles their expressions, reporting every
// problem at once (joined with errors.Join), each prefixed with its key
// path relative to the destination block, such as
// "transform[1].set.properties.plan: unknown name foo (column 1)". It
// returns nil and no error for no rules.
func Compile(rules []Rule) (*Program, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	var c compiler
	p := &Program{}
	for i, r := range rules {
		p.rules = append(p.rules, c.rule(fmt.Sprintf("transform[%d]", i), r))
	}
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	return p, nil
}

// compiler collects the problems of one Compile.
type compiler struct{ errs []error }

// add records a problem at key path.
func (c *compiler) add(path, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

// expr compiles the expression src at path (a condition when asBool); an
// empty one is required.
func (c *compiler) expr(path, src string, asBool bool) *program {
	if strings.TrimSpace(src) == "" {
		c.add(path, "required")
		return nil
	}
	p, err := compileExpr(src, asBool)
	if err != nil {
		c.add(path, "%v", err)
	}
	return p
}

// target parses the field path s, given at key path.
func (c *compiler) target(path, s string) (fieldPath, bool) {
	fp, err := parsePath(s)
	if err != nil {
		c.add(path, "%v", err)
		return nil, false
	}
	return fp, true
}

// rule compiles rule r at key path rp: its condition and its one
// operation (set, rename, remove or drop).
func (c *compiler) rule(rp string, r Rule) rule {
	cr := rule{path: rp}
	if r.When != "" {
		cr.when = c.expr(rp+".when", r.When, true)
	}
	var ops []string
	if r.Set != nil {
		ops = append(ops, "set")
		c.set(&cr, rp, r.Set)
	}
	if r.Rename != nil {
		ops = append(ops, "rename")
		c.rename(&cr, rp, r.Rename)
	}
	if r.Remove != nil {
		ops = append(ops, "remove")
		c.remove(&cr, rp, r.Remove)
	}
	if r.Drop != "" {
		ops = append(ops, "drop")
		c.drop(&cr, rp, r)
	}
	switch len(ops) {
	case 0:
		c.add(rp, "needs one of set, rename, remove or drop")
	case 1:
	default:
		c.add(rp, "has %s: one rule does one thing (write a rule for each)", strings.Join(ops, " and "))
	}
	return cr
}

// set compiles a set operation: field paths to expressions.
func (c *compiler) set(cr *rule, rp string, set map[string]string) {
	cr.op = 's'
	if len(set) == 0 {
		c.add(rp+".set", "must set at least one field")
	}
	for _, k := range sortedKeys(set) {
		kp := rp + ".set." + k
		fp, ok := c.target(kp, k)
		pr := c.expr(kp, set[k], false)
		if ok && pr != nil {
			cr.sets = append(cr.sets, setOp{path: fp, key: kp, prog: pr})
		}
	}
}

// rename compiles a rename operation: field paths to field paths, neither
// containing the other.
func (c *compiler) rename(cr *rule, rp string, rename map[string]string) {
	cr.op = 'r'
	if len(rename) == 0 {
		c.add(rp+".rename", "must rename at least one field")
	}
	for _, k := range sortedKeys(rename) {
		kp := rp + ".rename." + k
		from, ok1 := c.target(kp, k)
		to, ok2 := c.target(kp, rename[k])
		if ok1 && ok2 {
			if from.String() == to.String() || isPrefix(from, to) || isPrefix(to, from) {
				c.add(kp, "cannot rename %s to %s: one contains the other", from, to)
				continue
			}
			cr.ren = append(cr.ren, renameOp{from, to})
		}
	}
}

// remove compiles a remove operation: a list of field paths.
func (c *compiler) remove(cr *rule, rp string, remove []string) {
	cr.op = 'x'
	if len(remove) == 0 {
		c.add(rp+".remove", "must list at least one field")
	}
	for j, s := range remove {
		if fp, ok := c.target(fmt.Sprintf("%s.remove[%d]", rp, j), s); ok {
			cr.rm = append(cr.rm, fp)
		}
	}
}

// drop compiles a drop operation: a reason of its own, and a condition.
func (c *compiler) drop(cr *rule, rp string, r Rule) {
	cr.op = 'd'
	cr.drop = r.Drop
	switch {
	case !reasonName.MatchString(r.Drop):
		c.add(rp+".drop", "the reason must be a lower-case name such as internal_user ([a-z][a-z0-9_]*, at most 63 characters)")
	case slices.Contains(reserved, r.Drop):
		c.add(rp+".drop", "%q is a reason dispatch gives itself; name the drop's reason otherwise", r.Drop)
	}
	if r.When == "" {
		c.add(rp+".when", "required: a drop rule without a condition would drop every message (use types, events or enabled: false for that)")
	}
}

// DropReasons lists the reasons of the program's drop rules, for metrics.
func (p *Program) DropReasons() []string {
	if p == nil {
		return nil
	}
	var out []string
	for _, r := range p.rules {
		if r.op == 'd' && !slices.Contains(out, r.drop) {
			out = append(out, r.drop)
		}
	}
	return out
}

// parsePath checks a field path.
func parsePath(s string) (fieldPath, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("a field path is required")
	}
	fp := fieldPath(strings.Split(s, "."))
	for _, part := range fp {
		if part == "" || strings.TrimSpace(part) != part {
			return nil, fmt.Errorf("bad field path %q: names separated by dots, such as properties.plan", s)
		}
	}
	if immutable[fp[0]] {
		return nil, fmt.Errorf("%s cannot be changed by a transform", fp[0])
	}
	return fp, nil
}

// isPrefix reports whether a is a proper prefix of b.
func isPrefix(a, b fieldPath) bool {
	return len(a) < len(b) && slices.Equal(a, b[:len(a)])
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Result is the outcome of [Program.Apply].
type Result struct {
	// Message is the message to deliver: the input when no rule changed
	// it, else a copy with the new Body and routing fields.
	Message router.Message
	// Dropped is the reason of the drop rule that dropped the message, or
	// "".
	Dropped string
	// Changed reports whether a rule changed the message.
	Changed bool
}

// Apply runs the rules, in order, on a copy of m (m itself is never
// changed): each rule sees the message as the rules before it left it. A
// drop ends the run. An error (an expression failed, or the result is not
// a message a destination can take) names the rule's key path; dispatch
// dead-letters the message with it.
func (p *Program) Apply(m *router.Message) (Result, error) {
	res := Result{Message: *m}
	if p == nil {
		return res, nil
	}
	a := arenas.Get().(*arena)
	defer a.release()
	doc, err := newObject(m.Body, a)
	if err != nil {
		return res, fmt.Errorf("decoding message: %w", err)
	}
	e := &a.env // recycled with the arena: no allocation per Apply
	e.Source = m.Source
	for i := range p.rules {
		r := &p.rules[i]
		if r.when != nil {
			v, err := r.when.run(doc, e)
			if err != nil {
				return res, fmt.Errorf("%s.when: %w", r.path, err)
			}
			b, ok := v.(bool)
			if !ok {
				return res, fmt.Errorf("%s.when: gives %s, not a boolean", r.path, kindOf(v))
			}
			if !b {
				continue
			}
		}
		switch r.op {
		case 'd':
			res.Dropped = r.drop
			return res, nil
		case 's':
			// Every value is computed before any is set, so that the
			// fields of one set see the same message.
			var buf [8]any
			vals := buf[:0]
			if len(r.sets) > len(buf) {
				vals = make([]any, 0, len(r.sets))
			}
			vals = vals[:len(r.sets)]
			for j := range r.sets {
				v, err := r.sets[j].prog.run(doc, e)
				if err != nil {
					return res, fmt.Errorf("%s: %w", r.sets[j].key, err)
				}
				if v, err = jsonValue(v); err != nil {
					return res, fmt.Errorf("%s: %w", r.sets[j].key, err)
				}
				vals[j] = v
			}
			for j, s := range r.sets {
				var err error
				if vals[j] == nil {
					err = doc.remove(s.path)
				} else {
					err = doc.put(s.path, member{val: vals[j]})
				}
				if err != nil {
					return res, fmt.Errorf("%s: %w", s.key, err)
				}
			}
		case 'r':
			for _, rn := range r.ren {
				v, ok, err := doc.lookup(rn.from)
				if err == nil && ok {
					if err = doc.remove(rn.from); err == nil {
						err = doc.put(rn.to, v)
					}
				}
				if err != nil {
					return res, fmt.Errorf("%s.rename.%s: %w", r.path, rn.from, err)
				}
			}
		case 'x':
			for _, fp := range r.rm {
				if err := doc.remove(fp); err != nil {
					return res, fmt.Errorf("%s.remove: %w", r.path, err)
				}
			}
		}
		res.Changed = true
	}
	if !res.Changed {
		return res, nil
	}
	out, err := routing(m, doc)
	if err != nil {
		return res, err
	}
	body, err := doc.appendJSON(make([]byte, 0, len(m.Body)+64))
	if err != nil {
		return res, fmt.Errorf("encoding the transformed message: %w", err)
	}
	out.Body = body
	res.Message = out
	return res, nil
}

// routing copies m with the routing fields read again from doc, and
// checks that it is still a message destinations can take.
func routing(m *router.Message, doc *object) (router.Message, error) {
	out := *m
	str := func(key string) (string, error) {
		// Unchanged fields (the common case) are not decoded again.
		if r, ok := doc.rawString(key); ok {
			for _, was := range []string{m.UserID, m.AnonymousID, m.Event} {
				if string(r) == was {
					return was, nil
				}
			}
		}
		v, err := doc.get(key, false)
		if err != nil {
			return "", err
		}
		switch v := v.(type) {
		case nil:
			return "", nil
		case string:
			return v, nil
		default:
			return "", fmt.Errorf("the transformed message's %s is %s, not a string", key, kindOf(v))
		}
	}
	var err error
	if out.UserID, err = str("userId"); err != nil {
		return out, err
	}
	if out.AnonymousID, err = str("anonymousId"); err != nil {
		return out, err
	}
	if m.Type == router.TypeTrack {
		if out.Event, err = str("event"); err != nil {
			return out, err
		}
		if strings.TrimSpace(out.Event) == "" {
			return out, errors.New("the transformed track message has no event")
		}
	}
	switch {
	case m.Type == router.TypeAlias && strings.TrimSpace(out.UserID) == "":
		return out, errors.New("the transformed alias message has no userId")
	case strings.TrimSpace(out.UserID) == "" && strings.TrimSpace(out.AnonymousID) == "":
		return out, errors.New("the transformed message has neither userId nor anonymousId")
	}
	return out, nil
}
