package planreload

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadAtStart(t *testing.T) {
	if p, err := LoadAtStart(""); p != nil || err != nil {
		t.Errorf("no path: %v, %v; want no plan and no error", p, err)
	}
	if p, err := LoadAtStart("../../../schemas"); p == nil || err != nil {
		t.Errorf("the repository's plan: %v", err)
	}
	_, err := LoadAtStart("../../../schemas/testdata/broken")
	if err == nil || !strings.HasPrefix(err.Error(), "tracking_plan.path: the plan in ../../../schemas/testdata/broken does not load (") ||
		!strings.Contains(err.Error(), "\n  plan.yaml:1: /id: id is required") {
		t.Errorf("a broken plan: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "nope")
	if _, err := LoadAtStart(missing); err == nil || !strings.HasPrefix(err.Error(), "tracking_plan.path: ") {
		t.Errorf("a missing plan: %v", err)
	}
}

func TestCheck(t *testing.T) {
	var out bytes.Buffer
	missing := filepath.Join(t.TempDir(), "nope")
	if err := Check(missing, &out); err != nil || !strings.Contains(out.String(), "note: tracking_plan.path "+missing+" is not found") {
		t.Errorf("a plan not found from here: %v, %q; want only a note", err, out.String())
	}
	out.Reset()
	if err := Check("../../../schemas/testdata/broken", &out); err == nil || out.Len() != 0 {
		t.Errorf("a broken plan: %v, %q; want LoadAtStart's error", err, out.String())
	}
	if err := Check("", &out); err != nil || out.Len() != 0 {
		t.Errorf("no plan: %v, %q", err, out.String())
	}
	if err := Check("../../../schemas", &out); err != nil || out.Len() != 0 {
		t.Errorf("a good plan: %v, %q", err, out.String())
	}
}
