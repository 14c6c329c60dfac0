package transform

import (
	"slices"
	"testing"

	"github.com/eventrouter/eventrouter/router/sources/webhook"
)

// TestSameFunctionsAsWebhook keeps the language one: the functions
// defined here are those the webhook source defines, and each compiles.
func TestSameFunctionsAsWebhook(t *testing.T) {
	ours := slices.Clone(FunctionNames)
	slices.Sort(ours)
	if theirs := webhook.FunctionNames(); !slices.Equal(ours, theirs) {
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
