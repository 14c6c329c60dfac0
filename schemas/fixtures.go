package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Expectation is the optional sibling <name>.expect.json of an invalid
// fixture <name>.json: at least one violation must match every field given.
type Expectation struct {
	// ViolationField is the expected violationField, e.g. properties.revenue.
	ViolationField string `json:"violationField"`
	// ViolationType is the expected violationType, e.g. Required (optional).
	ViolationType ViolationType `json:"violationType,omitempty"`
}

// TestFixtures runs the plan's fixtures: every
// fixtures/<kind>/[<snake_name>/]valid/*.json must validate with zero
// violations, every …/invalid/*.json must produce at least one (matching its
// *.expect.json when present). A fixture under fixtures/track/<snake_name>/
// must be a track whose event snake_cases to <snake_name>. When the plan
// does not load, its load problems are returned.
func TestFixtures(dir string) []Finding {
	p, err := Load(dir)
	if err != nil {
		var le *LoadError
		if errors.As(err, &le) {
			return le.Problems
		}
		return []Finding{{File: ".", Message: err.Error(), Severity: SeverityError}}
	}
	return p.TestFixtures()
}

// TestFixtures runs the fixtures under the plan's own directory; see the
// package-level TestFixtures.
func (p *Plan) TestFixtures() []Finding {
	root := filepath.Join(p.Dir, "fixtures")
	var out []Finding
	err := filepath.WalkDir(root, func(file string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && file == root {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(file, ".json") || strings.HasSuffix(file, ".expect.json") {
			return nil
		}
		rel, _ := filepath.Rel(p.Dir, file)
		out = append(out, p.runFixture(file, filepath.ToSlash(rel))...)
		return nil
	})
	if err != nil {
		out = append(out, Finding{File: "fixtures", Message: "walking fixtures: " + err.Error(), Severity: SeverityError})
	}
	sortFindings(out)
	return out
}

func (p *Plan) runFixture(file, rel string) []Finding {
	bad := func(msg string) []Finding {
		return []Finding{{File: rel, Line: 1, Message: msg, Severity: SeverityError}}
	}
	segs := strings.Split(rel, "/") // fixtures/<kind>/[<name>/]{valid,invalid}/x.json
	outcome := segs[len(segs)-2]
	if len(segs) < 4 || (outcome != "valid" && outcome != "invalid") {
		return bad("fixture must live in fixtures/<kind>/[<snake_name>/]{valid,invalid}/")
	}
	kind := segs[1]
	data, err := os.ReadFile(file)
	if err != nil {
		return bad("reading fixture: " + unwrapPath(err))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var msg map[string]any
	if err := dec.Decode(&msg); err != nil {
		return bad("parsing fixture: " + err.Error())
	}
	if typ, _ := msg["type"].(string); typ != kind {
		return bad(fmt.Sprintf("fixture under fixtures/%s/ has type %q", kind, typ))
	}
	if kind == "track" && len(segs) == 5 {
		ev, _ := msg["event"].(string)
		if SnakeCase(ev) != segs[2] {
			return bad(fmt.Sprintf("event %q does not belong in fixtures/track/%s/ (snake_case is %q)", ev, segs[2], SnakeCase(ev)))
		}
	}
	vs := p.Validate(msg)
	if outcome == "valid" {
		var out []Finding
		for _, v := range vs {
			ptr := "/" + strings.ReplaceAll(v.Field, ".", "/")
			out = append(out, Finding{File: rel, Line: lineOf(data, ptr), Pointer: ptr, Message: fmt.Sprintf("valid fixture has a %s violation: %s", v.Type, v.Description), Severity: SeverityError})
		}
		return out
	}
	if len(vs) == 0 {
		return bad("invalid fixture produced no violation")
	}
	expFile := strings.TrimSuffix(file, ".json") + ".expect.json"
	expData, err := os.ReadFile(expFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	expRel := path.Join(path.Dir(rel), filepath.Base(expFile))
	if err != nil {
		return []Finding{{File: expRel, Message: "reading expectation: " + unwrapPath(err), Severity: SeverityError}}
	}
	var exp Expectation
	if err := json.Unmarshal(expData, &exp); err != nil || exp.ViolationField == "" {
		return []Finding{{File: expRel, Line: 1, Message: `expectation must be {"violationField": "…", "violationType": "…"}`, Severity: SeverityError}}
	}
	got := make([]string, len(vs))
	for i, v := range vs {
		if v.Field == exp.ViolationField && (exp.ViolationType == "" || v.Type == exp.ViolationType) {
			return nil
		}
		got[i] = string(v.Type) + " on " + v.Field
	}
	want := exp.ViolationField
	if exp.ViolationType != "" {
		want = string(exp.ViolationType) + " on " + want
	}
	return bad(fmt.Sprintf("expected a violation %s, got %s", want, strings.Join(got, "; ")))
}
