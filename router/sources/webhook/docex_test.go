package webhook

import "testing"

// TestDocExample compiles the package documentation's example.
func TestDocExample(t *testing.T) {
	s := mustSettings(t, `
path: /webhooks/rewardful
signature: {header: X-Rewardful-Signature, secret: s3cret}
delivery_id: body.event.id
vars:
  - {name: email, value: lower(text(body.object.customer.email))}
rules:
  - name: converted
    when: body.event.type == "referral.converted"
    emit:
      - type: identify
        userId: vars.email
        traits: {referral_source: '"rewardful"', affiliate_id: body.object.affiliate.id}
      - type: track
        userId: vars.email
        event: '"referral_converted"'
        timestamp: parse_time(body.object.became_conversion_at)
  - name: ignored
    when: body.event.type startsWith "affiliate_link."
    reject: not_mapped
`)
	src, err := Compile("rewardful", s)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"event":{"id":"7fcd","type":"referral.converted"},"object":{"became_conversion_at":"2020-04-27T00:24:08.199Z","customer":{"email":"Fred@Example.com"},"affiliate":{"id":"dc93"}}}`)
	if err := src.Verify(header("X-Rewardful-Signature", hexHMAC256("s3cret", body)), body, testReceived); err != nil {
		t.Fatal(err)
	}
	res, err := src.Convert(nil, body, testReceived)
	if err != nil || len(res.Messages) != 2 || res.Messages[1].UserID != "fred@example.com" || res.DeliveryKey != "7fcd" {
		t.Fatalf("%v %+v", err, res)
	}
	res, _ = src.Convert(nil, []byte(`{"event":{"id":"1","type":"affiliate_link.created"}}`), testReceived)
	if res.Unmapped != "not_mapped" {
		t.Fatalf("%+v", res)
	}
}
