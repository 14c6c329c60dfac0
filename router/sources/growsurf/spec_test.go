package growsurf

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// cioRequest is a Customer.io Track API v1 request a vector expects.
type cioRequest struct {
	method, path string
	body         string
}

// The Customer.io requests each vector expects, written out by hand.
var specCustomerIO = map[string][]cioRequest{
	"T1-direct-signup": {
		{"PUT", "/api/v1/customers/richard@piedpiper.com", `{"email":"richard@piedpiper.com","first_name":"Richard","last_name":"Hendricks","referral_code":"x9a7uu","referral_link":"https://piedpiper.com?grsf=x9a7uu","referral_status":"active","total_referrals":0,"referral_program_join_date":1770714000}`},
		{"POST", "/api/v1/customers/richard@piedpiper.com/events", `{"name":"referral_program_joined","id":"01KH3CETQV84G96YFJXMAPB47M","timestamp":1770714000,"data":{"campaign_id":"ct8f71","campaign_name":"Pied Piper Referral Program","growsurf_participant_id":"x9a7uu","referral_code":"x9a7uu","referral_link":"https://piedpiper.com?grsf=x9a7uu","referral_source":"DIRECT"}}`},
	},
	"T2-referred-signup": specT2,
	"T0-signature":       specT2,
	"T2-dup":             specT2,
	"T2-signup-trigger": append(append([]cioRequest{}, specT2...),
		cioRequest{"POST", "/api/v1/customers/richard@piedpiper.com/events", `{"name":"referral_converted","id":"01KJPZV2P8P4Q0VF1VH0XNRNCD","timestamp":1772445600,"data":{"campaign_id":"ct8f71","campaign_name":"Pied Piper Referral Program","referee_participant_id":"p88y0a","referee_email":"gavin.belson@hooli.com","referee_first_name":"Gavin","total_referrals":1}}`}),
	"T3-reward-approved": {
		{"PUT", "/api/v1/customers/richard@piedpiper.com", `{"total_referrals":1}`},
		{"POST", "/api/v1/customers/richard@piedpiper.com/events", `{"name":"referral_reward_earned","id":"01KJPZV378JHYCRF9J98Q6J718","timestamp":1772445601,"data":{"campaign_id":"ct8f71","campaign_name":"Pied Piper Referral Program","participant_reward_id":"prew_ccm2ue","campaign_reward_id":"crew_xlj123","reward_title":"Free month","reward_description":"Get a free month of Pied Piper Pro for every friend who signs up","reward_type":"SINGLE_SIDED","coupon_code":"FREEMONTH-X9A7UU","is_referrer":true,"referee_participant_id":"p88y0a","referee_email":"gavin.belson@hooli.com"}}`},
	},
	"T3b-reward-pending": nil,
	"T4-campaign-ended":  nil,
	"T5-fraud-status":    nil,
	"T6-unknown-event":   nil,
	"T6-missing-email":   nil,
}

var specT2 = []cioRequest{
	{"PUT", "/api/v1/customers/gavin.belson@hooli.com", `{"email":"gavin.belson@hooli.com","first_name":"Gavin","last_name":"Belson","referral_code":"p88y0a","referral_link":"https://piedpiper.com?grsf=p88y0a","referral_status":"active","total_referrals":0,"referred_by":"richard@piedpiper.com","referral_program_join_date":1772445600}`},
	{"POST", "/api/v1/customers/gavin.belson@hooli.com/events", `{"name":"referral_program_joined","id":"01KJPZV2P84E1MFT50YG79HQYE","timestamp":1772445600,"data":{"campaign_id":"ct8f71","campaign_name":"Pied Piper Referral Program","growsurf_participant_id":"p88y0a","referral_code":"p88y0a","referral_link":"https://piedpiper.com?grsf=p88y0a","referral_source":"PARTICIPANT","referred_by":"richard@piedpiper.com","referrer_participant_id":"x9a7uu"}}`},
	{"PUT", "/api/v1/customers/richard@piedpiper.com", `{"total_referrals":1,"last_referral_date":1772445600}`},
	{"POST", "/api/v1/customers/richard@piedpiper.com/events", `{"name":"referral_made","id":"01KJPZV2P86X0QGXHD8RMZZHDG","timestamp":1772445600,"data":{"campaign_id":"ct8f71","campaign_name":"Pied Piper Referral Program","referee_participant_id":"p88y0a","referee_email":"gavin.belson@hooli.com","referee_first_name":"Gavin","total_referrals":1}}`},
}

// specULID is the Customer.io event id of a message: a ULID whose time is
// the occurred-at in ms and whose entropy is the first 10 bytes of
// SHA-256(key), in Crockford base32.
func specULID(key string, at time.Time) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var b [16]byte
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(at.UnixMilli()))
	copy(b[:6], ms[2:])
	sum := sha256.Sum256([]byte(key))
	copy(b[6:], sum[:10])
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	out := make([]byte, 26)
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out)
}

// toCustomerIO is what a Customer.io destination makes of the messages
// identify → PUT traits; track → POST {name, id,
// timestamp, data}, the id the ULID of the messageId's key (the messageId
// without ":track") and the message time.
func toCustomerIO(t *testing.T, msgs []router.Message) []cioRequest {
	t.Helper()
	var out []cioRequest
	for _, m := range msgs {
		var body struct {
			Traits     map[string]any `json:"traits"`
			Properties map[string]any `json:"properties"`
			Timestamp  string         `json:"timestamp"`
		}
		if err := json.Unmarshal(m.Body, &body); err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(router.TimeLayout, body.Timestamp)
		if err != nil {
			t.Fatal(err)
		}
		path := "/api/v1/customers/" + m.UserID
		switch m.Type {
		case router.TypeIdentify:
			b, _ := json.Marshal(body.Traits)
			out = append(out, cioRequest{"PUT", path, string(b)})
		case router.TypeTrack:
			key, ok := strings.CutSuffix(m.ID, ":track")
			if !ok {
				t.Fatalf("track messageId %q does not end in :track", m.ID)
			}
			b, _ := json.Marshal(map[string]any{"name": m.Event, "id": specULID(key, at), "timestamp": at.Unix(), "data": body.Properties})
			out = append(out, cioRequest{"POST", path + "/events", string(b)})
		}
	}
	return out
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal([]byte(a), &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// TestSpecCustomerIORequests checks the messages of every vector against
// the Customer.io requests the vectors expect, independently of the golden
// files: traits, properties, event names, identities, order, timestamps
// and — through the ULIDs, derived from the dedupe key and
// the occurred-at time — the messageIds.
func TestSpecCustomerIORequests(t *testing.T) {
	for name, want := range specCustomerIO {
		t.Run(name, func(t *testing.T) {
			gc := loadCase(t, filepath.Join("testdata", name))
			res, err := Convert(gc.body, testSource, gc.settings, gc.receivedAt)
			if err != nil {
				t.Fatal(err)
			}
			got := toCustomerIO(t, res.Messages)
			if len(got) != len(want) {
				t.Fatalf("got %d requests, want %d: %v", len(got), len(want), got)
			}
			for i := range want {
				if got[i].method != want[i].method || got[i].path != want[i].path || !jsonEqual(t, got[i].body, want[i].body) {
					t.Errorf("request %d:\n got %s %s %s\nwant %s %s %s", i, got[i].method, got[i].path, got[i].body, want[i].method, want[i].path, want[i].body)
				}
			}
		})
	}
}

// TestSpecSegmentT1 checks what vector T1 expects of the Segment side.
func TestSpecSegmentT1(t *testing.T) {
	gc := loadCase(t, filepath.Join("testdata", "T1-direct-signup"))
	res, err := Convert(gc.body, testSource, gc.settings, gc.receivedAt)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 2 {
		t.Fatalf("got %d messages", len(res.Messages))
	}
	id, tr := res.Messages[0], res.Messages[1]
	if id.Type != "identify" || id.UserID != "richard@piedpiper.com" || id.ID != "growsurf:ct8f71:participant_joined:x9a7uu:identify" {
		t.Errorf("identify: %+v", id)
	}
	if tr.Type != "track" || tr.Event != "referral_program_joined" || tr.ID != "growsurf:ct8f71:participant_joined:x9a7uu:track" {
		t.Errorf("track: %+v", tr)
	}
	if !strings.Contains(string(tr.Body), `"timestamp":"2026-02-10T09:00:00.123Z"`) {
		t.Errorf("track timestamp: %s", tr.Body)
	}
}

// TestSpecULID checks the test's ULID helper against vector T7's id, which
// involves no GrowSurf mapping at all.
func TestSpecULID(t *testing.T) {
	if got := specULID("segment:app-conv-p88y0a", time.UnixMilli(1772712000000)); got != "01KJYXWYG0DAXW370XM65SSG5B" {
		t.Errorf("got %s", got)
	}
}
