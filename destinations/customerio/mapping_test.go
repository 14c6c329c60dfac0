package customerio

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/destinations/customerio/ciotest"
	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/sources/growsurf"
)

func TestMapping(t *testing.T) {
	const ts = `"timestamp":"2024-05-01T12:00:00.123Z"`
	tsID := func(messageID string) string {
		return EventID("segment:"+messageID, time.Date(2024, 5, 1, 12, 0, 0, 123e6, time.UTC))
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		in     []string
		want   []wantReq
	}{
		{
			name: "identify: traits verbatim, null left out, ISO dates and createdAt as seconds, anonymous_id",
			in: []string{`{"type":"identify","messageId":"m1","userId":"u1","anonymousId":"a1",` + ts + `,
				"traits":{"email":"u1@example.com","plan":"pro","logins":3,"vip":true,"empty":"","gone":null,
				"createdAt":"2024-01-01T00:00:00Z","trial_ends":"2024-06-01T12:30:00.500+02:00","day":"2024-06-01",
				"address":{"city":"Berlin"}}}`},
			want: []wantReq{{"PUT", "/api/v1/customers/u1", `{"email":"u1@example.com","plan":"pro","logins":3,"vip":true,"empty":"",
				"created_at":1704067200,"trial_ends":1717237800,"day":"2024-06-01","address":{"city":"Berlin"},"anonymous_id":"a1"}`}},
		},
		{
			name:   "identify by email from traits",
			mutate: func(c *Config) { c.Identifier = IdentifierEmail },
			in:     []string{`{"type":"identify","messageId":"m1","userId":"usr_1",` + ts + `,"traits":{"email":"A+b@example.com"}}`},
			want:   []wantReq{{"PUT", "/api/v1/customers/A+b@example.com", `{"email":"A+b@example.com"}`}},
		},
		{
			name: "identify with an explicit created_at keeps it over createdAt",
			in:   []string{`{"type":"identify","messageId":"m1","userId":"u1",` + ts + `,"traits":{"created_at":5,"createdAt":"2024-01-01T00:00:00Z"}}`},
			want: []wantReq{{"PUT", "/api/v1/customers/u1", `{"created_at":5}`}},
		},
		{
			name: "track",
			in:   []string{`{"type":"track","messageId":"m2","userId":"u1","event":"Order Completed",` + ts + `,"properties":{"revenue":12.5,"items":[{"sku":"x"}]}}`},
			want: []wantReq{{"POST", "/api/v1/customers/u1/events",
				`{"name":"Order Completed","id":"` + tsID("m2") + `","timestamp":1714564800,"data":{"revenue":12.5,"items":[{"sku":"x"}]}}`}},
		},
		{
			name: "track without properties sends empty data",
			in:   []string{`{"type":"track","messageId":"m2","userId":"u1","event":"Ping",` + ts + `}`},
			want: []wantReq{{"POST", "/api/v1/customers/u1/events", `{"name":"Ping","id":"` + tsID("m2") + `","timestamp":1714564800,"data":{}}`}},
		},
		{
			name:   "track by email from context.traits",
			mutate: func(c *Config) { c.Identifier = IdentifierEmail },
			in:     []string{`{"type":"track","messageId":"m2","userId":"usr_1","event":"Ping",` + ts + `,"context":{"traits":{"email":"e@example.com"}}}`},
			want:   []wantReq{{"POST", "/api/v1/customers/e@example.com/events", `{"name":"Ping","id":"` + tsID("m2") + `","timestamp":1714564800,"data":{}}`}},
		},
		{
			name: "anonymous track",
			in:   []string{`{"type":"track","messageId":"m3","anonymousId":"anon-1","event":"Viewed",` + ts + `,"properties":{"a":1}}`},
			want: []wantReq{{"POST", "/api/v1/events", `{"name":"Viewed","anonymous_id":"anon-1","id":"` + tsID("m3") + `","timestamp":1714564800,"data":{"a":1}}`}},
		},
		{
			name: "page named by its url, page name in data",
			in:   []string{`{"type":"page","messageId":"m4","userId":"u1","name":"Home",` + ts + `,"properties":{"url":"https://example.com/?q=1&r=2","title":"Hi"}}`},
			want: []wantReq{{"POST", "/api/v1/customers/u1/events",
				`{"name":"https://example.com/?q=1&r=2","type":"page","id":"` + tsID("m4") + `","timestamp":1714564800,"data":{"url":"https://example.com/?q=1&r=2","title":"Hi","name":"Home"}}`}},
		},
		{
			name: "page url from context.page, anonymous",
			in:   []string{`{"type":"page","messageId":"m4","anonymousId":"a1",` + ts + `,"context":{"page":{"url":"https://example.com/p"}}}`},
			want: []wantReq{{"POST", "/api/v1/events", `{"name":"https://example.com/p","type":"page","anonymous_id":"a1","id":"` + tsID("m4") + `","timestamp":1714564800,"data":{}}`}},
		},
		{
			name: "page without url is named by its name",
			in:   []string{`{"type":"page","messageId":"m4","userId":"u1","name":"Pricing",` + ts + `,"properties":{}}`},
			want: []wantReq{{"POST", "/api/v1/customers/u1/events", `{"name":"Pricing","type":"page","id":"` + tsID("m4") + `","timestamp":1714564800,"data":{"name":"Pricing"}}`}},
		},
		{
			name: "screen",
			in:   []string{`{"type":"screen","messageId":"m5","userId":"u1","name":"Settings",` + ts + `,"properties":{"tab":"privacy"}}`},
			want: []wantReq{{"POST", "/api/v1/customers/u1/events", `{"name":"Settings","type":"screen","id":"` + tsID("m5") + `","timestamp":1714564800,"data":{"tab":"privacy"}}`}},
		},
		{
			name: "group as prefixed attributes",
			in:   []string{`{"type":"group","messageId":"m6","userId":"u1","groupId":"g1",` + ts + `,"traits":{"name":"Hooli","employees":-0.5,"null":null,"bool":false}}`},
			want: []wantReq{{"PUT", "/api/v1/customers/u1", `{"group_id":"g1","group_name":"Hooli","group_employees":-0.5,"group_bool":false}`}},
		},
		{
			name:   "group with another prefix",
			mutate: func(c *Config) { c.GroupPrefix = "company_" },
			in:     []string{`{"type":"group","messageId":"m6","userId":"u1","groupId":42,` + ts + `,"traits":{"plan":"x"}}`},
			want:   []wantReq{{"PUT", "/api/v1/customers/u1", `{"company_id":"42","company_plan":"x"}`}},
		},
		{
			name:   "group skipped",
			mutate: func(c *Config) { c.Group = GroupSkip },
			in:     []string{`{"type":"group","messageId":"m6","userId":"u1","groupId":"g1",` + ts + `,"traits":{"name":"Hooli"}}`},
		},
		{
			name: "alias merges previousId into userId",
			in:   []string{`{"type":"alias","messageId":"m7","userId":"u2","previousId":"u1",` + ts + `}`},
			want: []wantReq{{"POST", "/api/v1/merge_customers", `{"primary":{"id":"u2"},"secondary":{"id":"u1"}}`}},
		},
		{
			name:   "alias of two emails with identifier email",
			mutate: func(c *Config) { c.Identifier = IdentifierEmail },
			in:     []string{`{"type":"alias","messageId":"m7","userId":"new@example.com","previousId":"old@example.com",` + ts + `}`},
			want:   []wantReq{{"POST", "/api/v1/merge_customers", `{"primary":{"email":"new@example.com"},"secondary":{"email":"old@example.com"}}`}},
		},
		{
			name: "alias to itself sends nothing",
			in:   []string{`{"type":"alias","messageId":"m7","userId":"u1","previousId":"u1",` + ts + `}`},
		},
		{
			name: "T7 referral_converted pass-through",
			in: []string{`{"type":"track","userId":"richard@piedpiper.com","event":"referral_converted","messageId":"app-conv-p88y0a",
				"timestamp":"2026-03-05T12:00:00.000Z","originalTimestamp":"2026-03-05T12:00:00.000Z","receivedAt":"2026-03-05T12:00:01.000Z",
				"context":{"library":{"name":"analytics-go"}},"properties":{"campaign_id":"ct8f71","referee_participant_id":"p88y0a","referee_email":"gavin.belson@hooli.com"}}`},
			want: []wantReq{{"POST", "/api/v1/customers/richard@piedpiper.com/events",
				`{"name":"referral_converted","id":"01KJYXWYG0DAXW370XM65SSG5B","timestamp":1772712000,"data":{"campaign_id":"ct8f71","referee_participant_id":"p88y0a","referee_email":"gavin.belson@hooli.com"}}`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := ciotest.New(t)
			d := newDest(t, srv, tt.mutate)
			var batch []router.Message
			for _, b := range tt.in {
				batch = append(batch, msg(t, b))
			}
			if err := d.Send(context.Background(), batch); err != nil {
				t.Fatalf("Send: %v", err)
			}
			checkRequests(t, srv.Requests(), tt.want)
			for _, r := range srv.Requests() {
				if r.MessageID != batch[0].ID {
					t.Errorf("request tagged %q, want %q", r.MessageID, batch[0].ID)
				}
			}
		})
	}
}

// TestGrowSurfVectors sends the messages the growsurf source makes of
// vectors T1, T2 and T3 and checks the exact Customer.io requests they expect.
func TestGrowSurfVectors(t *testing.T) {
	tests := []struct {
		dir  string
		want []wantReq
	}{
		{dir: "T1-direct-signup", want: []wantReq{
			{"PUT", "/api/v1/customers/richard@piedpiper.com", `{"email":"richard@piedpiper.com","first_name":"Richard","last_name":"Hendricks","referral_code":"x9a7uu","referral_link":"https://piedpiper.com?grsf=x9a7uu","referral_status":"active","total_referrals":0,"referral_program_join_date":1770714000}`},
			{"POST", "/api/v1/customers/richard@piedpiper.com/events", `{"name":"referral_program_joined","id":"01KH3CETQV84G96YFJXMAPB47M","timestamp":1770714000,"data":{"campaign_id":"ct8f71","campaign_name":"Pied Piper Referral Program","growsurf_participant_id":"x9a7uu","referral_code":"x9a7uu","referral_link":"https://piedpiper.com?grsf=x9a7uu","referral_source":"DIRECT"}}`},
		}},
		{dir: "T2-referred-signup", want: []wantReq{
			{"PUT", "/api/v1/customers/gavin.belson@hooli.com", `{"email":"gavin.belson@hooli.com","first_name":"Gavin","last_name":"Belson","referral_code":"p88y0a","referral_link":"https://piedpiper.com?grsf=p88y0a","referral_status":"active","total_referrals":0,"referred_by":"richard@piedpiper.com","referral_program_join_date":1772445600}`},
			{"POST", "/api/v1/customers/gavin.belson@hooli.com/events", `{"name":"referral_program_joined","id":"01KJPZV2P84E1MFT50YG79HQYE","timestamp":1772445600,"data":{"campaign_id":"ct8f71","campaign_name":"Pied Piper Referral Program","growsurf_participant_id":"p88y0a","referral_code":"p88y0a","referral_link":"https://piedpiper.com?grsf=p88y0a","referral_source":"PARTICIPANT","referred_by":"richard@piedpiper.com","referrer_participant_id":"x9a7uu"}}`},
			{"PUT", "/api/v1/customers/richard@piedpiper.com", `{"total_referrals":1,"last_referral_date":1772445600}`},
			{"POST", "/api/v1/customers/richard@piedpiper.com/events", `{"name":"referral_made","id":"01KJPZV2P86X0QGXHD8RMZZHDG","timestamp":1772445600,"data":{"campaign_id":"ct8f71","campaign_name":"Pied Piper Referral Program","referee_participant_id":"p88y0a","referee_email":"gavin.belson@hooli.com","referee_first_name":"Gavin","total_referrals":1}}`},
		}},
		{dir: "T3-reward-approved", want: []wantReq{
			{"PUT", "/api/v1/customers/richard@piedpiper.com", `{"total_referrals":1}`},
			{"POST", "/api/v1/customers/richard@piedpiper.com/events", `{"name":"referral_reward_earned","id":"01KJPZV378JHYCRF9J98Q6J718","timestamp":1772445601,"data":{"campaign_id":"ct8f71","campaign_name":"Pied Piper Referral Program","participant_reward_id":"prew_ccm2ue","campaign_reward_id":"crew_xlj123","reward_title":"Free month","reward_description":"Get a free month of Pied Piper Pro for every friend who signs up","reward_type":"SINGLE_SIDED","coupon_code":"FREEMONTH-X9A7UU","is_referrer":true,"referee_participant_id":"p88y0a","referee_email":"gavin.belson@hooli.com"}}`},
		}},
	}
	for _, identifier := range []string{IdentifierID, IdentifierEmail} {
		for _, tt := range tests {
			t.Run(identifier+"/"+tt.dir, func(t *testing.T) {
				body, err := os.ReadFile(filepath.Join("..", "..", "router", "sources", "growsurf", "testdata", tt.dir, "request.json"))
				if err != nil {
					t.Fatal(err)
				}
				res, err := growsurf.Convert(body, "referrals", growsurf.DefaultSettings(), received)
				if err != nil || res.Unmapped != "" {
					t.Fatalf("Convert: %v %s", err, res.Unmapped)
				}
				srv := ciotest.New(t)
				d := newDest(t, srv, func(c *Config) { c.Identifier = identifier; c.Concurrency = 4 })
				if err := d.Send(context.Background(), res.Messages); err != nil {
					t.Fatalf("Send: %v", err)
				}
				got := srv.Requests()
				// People are sent concurrently: compare each person's
				// requests in order, grouped by path owner.
				checkRequests(t, byPerson(got, tt.want), tt.want)
				for _, r := range got {
					if a := r.Header.Get("Authorization"); a != "Basic dGVzdC1zaXRlOnRlc3Qta2V5" {
						t.Errorf("Authorization %q", a)
					}
				}
				// A resend is ignored by Customer.io: same event ids.
				if err := d.Send(context.Background(), res.Messages); err != nil {
					t.Fatalf("second Send: %v", err)
				}
				var events int
				for _, w := range tt.want {
					if strings.HasSuffix(w.path, "/events") {
						events++
					}
				}
				var stored int
				for _, p := range []string{"richard@piedpiper.com", "gavin.belson@hooli.com"} {
					stored += len(srv.Events(p))
				}
				if stored != events {
					t.Fatalf("%d events stored after a resend, want %d", stored, events)
				}
			})
		}
	}
}

// byPerson reorders got so that the requests of each person come in the
// order of the person's first appearance in want, keeping each person's
// own order: concurrency only interleaves people.
func byPerson(got []ciotest.Request, want []wantReq) []ciotest.Request {
	owner := func(path string) string { return strings.TrimSuffix(path, "/events") }
	var order []string
	seen := map[string]bool{}
	for _, w := range want {
		if o := owner(w.path); !seen[o] {
			seen[o] = true
			order = append(order, o)
		}
	}
	var out []ciotest.Request
	for _, o := range order {
		for _, r := range got {
			if owner(r.Path) == o {
				out = append(out, r)
			}
		}
	}
	for _, r := range got {
		if !seen[owner(r.Path)] {
			out = append(out, r)
		}
	}
	return out
}
