package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/router/sources/webhook"
)

const webhookSource = `sources:
  rewardful:
    type: webhook
    path: /webhooks/rewardful
    signature:
      header: X-Rewardful-Signature
      secret: ${REWARDFUL_SECRET}
    delivery_id: body.id
    rules:
      - name: converted
        when: body.event == "referral.converted"
        emit:
          - type: identify
            userId: body.data.customer.email
            traits: {affiliate_id: body.data.affiliate.id}
          - type: track
            userId: body.data.customer.email
            event: '"referral_converted"'
            properties:
              amount: body.data.amount / 100
              Plan Name: body.data.plan
`

// TestWebhookSourceBlock: a source of type webhook decodes strictly into
// webhook.Settings (expressions, nested property templates, the signature
// block) and passes.
func TestWebhookSourceBlock(t *testing.T) {
	cfg, err := parse([]byte(webhookSource), builtinSources(t), env(map[string]string{"REWARDFUL_SECRET": "s3cret"}))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := cfg.Sources["rewardful"].Settings.(*webhook.Settings)
	if !ok {
		t.Fatalf("settings %T", cfg.Sources["rewardful"].Settings)
	}
	if s.Signature == nil || s.Signature.Secret != "s3cret" || len(s.Rules) != 1 || len(s.Rules[0].Emit) != 2 {
		t.Fatalf("decoded %+v", s)
	}
	props, _ := s.Rules[0].Emit[1].Properties.(map[string]any)
	if props["Plan Name"] != "body.data.plan" {
		t.Fatalf("properties %#v", s.Rules[0].Emit[1].Properties)
	}
}

// TestWebhookSourceErrorsHaveLines: every problem of a webhook block is
// reported at its key path with the line of that key: a broken expression
// deep in a rule (also under a property key with a space, which a plain
// "key: message" error could not carry), a missing signature without
// allow_unsigned, an unknown key; and Error() writes file:line first.
func TestWebhookSourceErrorsHaveLines(t *testing.T) {
	data := strings.Replace(webhookSource, "body.data.amount / 100", "bdy.data.amount / 100", 1)
	data = strings.Replace(data, "Plan Name: body.data.plan", "Plan Name: body.data.plan +", 1)
	data += `  unsigned:
    type: webhook
    path: /webhooks/unsigned
    colour: blue
    rules: [{emit: [{type: track, userId: body.u, event: '"x"'}]}]
`
	_, err := parse([]byte(data), builtinSources(t), env(map[string]string{"REWARDFUL_SECRET": "s3cret"}))
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("error = %v", err)
	}
	cerr.File = "eventrouter.yaml"
	want := []struct {
		path, msg string
		line      int
	}{
		{"sources.rewardful.rules[0].emit[1].properties.amount", "unknown name bdy (column 1)", 20},
		{"sources.rewardful.rules[0].emit[1].properties.Plan Name", "unexpected token EOF", 21},
		{"sources.unsigned.colour", "unknown key for source type webhook", 25},
		{"sources.unsigned.signature", "required unless allow_unsigned is true", 22},
	}
	for _, w := range want {
		found := false
		for _, p := range cerr.Problems {
			if p.Path == w.path && strings.Contains(p.Message, w.msg) {
				found = true
				if p.Line != w.line {
					t.Errorf("%s: line %d, want %d", w.path, p.Line, w.line)
				}
			}
		}
		if !found {
			t.Errorf("missing problem %s: %s…\n%v", w.path, w.msg, err)
		}
	}
	if !strings.Contains(cerr.Error(), "\n  eventrouter.yaml:20: sources.rewardful.rules[0].emit[1].properties.amount: unknown name bdy (column 1)") {
		t.Errorf("Error() =\n%s", cerr.Error())
	}
}
