package transform

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestSameFunctionsAsWebhook keeps the language one: the functions
// defined here are those the webhook source defines (read from its
// source), and each compiles.
func TestSameFunctionsAsWebhook(t *testing.T) {
	files, err := filepath.Glob("../sources/webhook/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("webhook source files: %v", err)
	}
	def := regexp.MustCompile(`expr\.Function\("([A-Za-z0-9_]+)"`)
	var theirs []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range def.FindAllSubmatch(b, -1) {
			if name := string(m[1]); !strings.HasPrefix(name, "__") {
				theirs = append(theirs, name)
			}
		}
	}
	ours := slices.Clone(FunctionNames)
	slices.Sort(ours)
	slices.Sort(theirs)
	theirs = slices.Compact(theirs)
	if !slices.Equal(ours, theirs) {
		t.Fatalf("functions differ from the webhook source's:\n ours   %v\n theirs %v", ours, theirs)
	}
	for _, name := range FunctionNames {
		src := name + "(message.userId)"
		if name == "query" {
			src = `query(message.userId, "k")`
		}
		if _, err := compileExpr(src, false); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
}
