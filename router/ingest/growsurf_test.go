package ingest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/sources/growsurf"
)

// The GrowSurf vectors' common settings.
const (
	gsSecret = "grsf_test_secret"
	gsPath   = "/webhooks/growsurf"
)

// gsNow is the clock of vector T0: 1772445601000 ms.
var gsNow = time.UnixMilli(1772445601000).UTC()

// gsVector reads a webhook body from testdata/growsurf: the vectors' inputs
// serialised compactly, keys in GrowSurf's order (T2's is T0's exact body).
func gsVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "growsurf", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gsSign returns the GrowSurf-Signature header GrowSurf sends for body at
// ts, computed here from GrowSurf's documented scheme, independently of package
// growsurf: hex(HMAC-SHA256(secret, "<ts ms>.<body>")).
func gsSign(body []byte, secret string, ts time.Time) string {
	t := strconv.FormatInt(ts.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(t + "."))
	mac.Write(body)
	return "ts=" + t + ",v=" + hex.EncodeToString(mac.Sum(nil))
}

// gsSigned is the header set of a request GrowSurf signed at ts.
func gsSigned(body []byte, ts time.Time) map[string]string {
	return map[string]string{"Content-Type": "application/json", "GrowSurf-Signature": gsSign(body, gsSecret, ts)}
}

// gsSrc describes a growsurf source of the tests, hosted through its
// factory (growsurf.NewFactory) by hostGS.
type gsSrc struct {
	Name, Path    string
	Secret        []byte
	AllowUnsigned bool
	LegacyPath    bool
	Disabled      bool
	Tolerance     time.Duration // 0: growsurf.DefaultTolerance
	Settings      growsurf.Settings
}

// hostGS builds the sources with the growsurf factory, as the command does.
func hostGS(t testing.TB, srcs ...gsSrc) []Hosted {
	t.Helper()
	var out []Hosted
	for _, s := range srcs {
		c := growsurf.DefaultConfig()
		c.Path, c.Secret, c.AllowUnsigned, c.LegacyPath = s.Path, string(s.Secret), s.AllowUnsigned, s.LegacyPath
		if s.Tolerance != 0 {
			c.Tolerance = s.Tolerance
		}
		// Settings left empty keep the block's defaults.
		for _, f := range []struct {
			dst *string
			v   string
		}{
			{&c.Identifier, s.Settings.Identifier}, {&c.AppUserIDKey, s.Settings.AppUserIDKey}, {&c.ReferralTrigger, s.Settings.ReferralTrigger},
		} {
			if f.v != "" {
				*f.dst = f.v
			}
		}
		for k, v := range s.Settings.Mapping.Events {
			c.Mapping.Events[k] = v
		}
		for k, v := range s.Settings.Mapping.Traits {
			c.Mapping.Traits[k] = v
		}
		src, err := growsurf.NewFactory().New(c, router.SourceSettings{Name: s.Name})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Hosted{Name: s.Name, Type: growsurf.Type, Disabled: s.Disabled, Source: src})
	}
	return out
}

// gsSource is the source of the vectors: "referrals" on gsPath, signed.
func gsSource() gsSrc {
	return gsSrc{Name: "referrals", Path: gsPath, Secret: []byte(gsSecret), Settings: growsurf.DefaultSettings()}
}

// newGSEnv is a handler with the sources of baseConfig plus srcs (the
// vectors' source when none), on the vectors' clock, whose metrics are
// gathered from the returned registry.
func newGSEnv(t *testing.T, log backend, srcs ...gsSrc) (*env, *prometheus.Registry) {
	t.Helper()
	if len(srcs) == 0 {
		srcs = []gsSrc{gsSource()}
	}
	hosted := hostGS(t, srcs...)
	reg := prometheus.NewRegistry()
	e := newEnv(t, log, func(c *Config) {
		c.Hosted = hosted
		c.Now = func() time.Time { return gsNow }
		c.Registerer = reg
	})
	return e, reg
}

// gsCount returns eventrouter_growsurf_webhooks_total for the labels.
func gsCount(t *testing.T, reg *prometheus.Registry, source, event, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "eventrouter_growsurf_webhooks_total" {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			want := map[string]string{"source": source, "event": event, "outcome": outcome}
			for _, l := range m.GetLabel() {
				if want[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// checkPerPersonOrder asserts that every person's identify comes before
// their track, and that msgs are exactly the identify/track pairs of ids.
func checkPerPersonOrder(t *testing.T, msgs []router.Message, users ...string) {
	t.Helper()
	if len(msgs) != 2*len(users) {
		t.Fatalf("stored %d messages, want %d (an identify and a track for each of %v)", len(msgs), 2*len(users), users)
	}
	identified := map[string]bool{}
	tracked := map[string]int{}
	for _, m := range msgs {
		if m.Source != "referrals" {
			t.Errorf("message %s has source %q", m.ID, m.Source)
		}
		switch m.Type {
		case router.TypeIdentify:
			identified[m.UserID] = true
		case router.TypeTrack:
			if !identified[m.UserID] {
				t.Errorf("track %q of %s stored before the identify of that person", m.Event, m.UserID)
			}
			tracked[m.UserID]++
		default:
			t.Errorf("message %s has type %s", m.ID, m.Type)
		}
	}
	for _, u := range users {
		if !identified[u] || tracked[u] != 1 {
			t.Errorf("%s: identified %v, tracked %d times; want an identify and one track", u, identified[u], tracked[u])
		}
	}
}

func TestGrowSurfSignedDeliveries(t *testing.T) {
	b := openLogBackend(t)
	e, reg := newGSEnv(t, b)

	t.Run("T1_direct_signup", func(t *testing.T) {
		body := gsVector(t, "t1_direct_signup.json")
		r := e.do(t, req{path: gsPath, header: gsSigned(body, gsNow.Add(-time.Second)), body: body})
		s200(t, r)
		if len(r.rejected) != 0 {
			t.Fatalf("rejected %+v", r.rejected)
		}
		checkPerPersonOrder(t, r.msgs, "richard@piedpiper.com")
		key := "growsurf:ct8f71:participant_joined:x9a7uu"
		if r.msgs[0].ID != key+":identify" || r.msgs[1].ID != key+":track" || r.msgs[1].Event != "referral_program_joined" {
			t.Errorf("messages %s (%s), %s (%s); want the vector's messageIds", r.msgs[0].ID, r.msgs[0].Type, r.msgs[1].ID, r.msgs[1].Event)
		}
		wantField(t, r.events[0], "traits.email", "richard@piedpiper.com")
	})

	t.Run("T0_T2_referred_signup_with_the_spec_signature", func(t *testing.T) {
		body := gsVector(t, "t2_referred_signup.json")
		h := map[string]string{"GrowSurf-Signature": "ts=1772445600700,v=43c45c9b27e5e83ff1c8d54f91f7991ff57d26da0bf7c3f7101e085c4ddc5a3d"}
		r := e.do(t, req{path: gsPath, header: h, body: body})
		s200(t, r)
		checkPerPersonOrder(t, r.msgs, "gavin.belson@hooli.com", "richard@piedpiper.com")
		events := map[string]string{}
		for _, m := range r.msgs {
			if m.Type == router.TypeTrack {
				events[m.UserID] = m.Event
			}
		}
		if events["gavin.belson@hooli.com"] != "referral_program_joined" || events["richard@piedpiper.com"] != "referral_made" {
			t.Errorf("track events %v", events)
		}
	})

	t.Run("T3_approved_reward", func(t *testing.T) {
		body := gsVector(t, "t3_reward_approved.json")
		r := e.do(t, req{path: gsPath, header: gsSigned(body, gsNow), body: body})
		s200(t, r)
		checkPerPersonOrder(t, r.msgs, "richard@piedpiper.com")
		if ev := r.msgs[1].Event; ev != "referral_reward_earned" {
			t.Errorf("track event %q", ev)
		}
	})

	if n := gsCount(t, reg, "referrals", "NEW_PARTICIPANT_ADDED", "accepted"); n != 2 {
		t.Errorf("accepted NEW_PARTICIPANT_ADDED counted %v times, want 2", n)
	}
	if n := gsCount(t, reg, "referrals", "PARTICIPANT_REACHED_A_GOAL", "accepted"); n != 1 {
		t.Errorf("accepted PARTICIPANT_REACHED_A_GOAL counted %v times, want 1", n)
	}
}

func TestGrowSurfSignatureRefused(t *testing.T) {
	b := openLogBackend(t)
	short := gsSource()
	short.Name, short.Path, short.Tolerance = "short", "/webhooks/short", time.Hour
	e, reg := newGSEnv(t, b, gsSource(), short)
	t2 := gsVector(t, "t2_referred_signup.json")
	const t0Header = "ts=1772445600700,v=43c45c9b27e5e83ff1c8d54f91f7991ff57d26da0bf7c3f7101e085c4ddc5a3d"
	changed := bytes.Replace(t2, []byte("Gavin"), []byte("Gavyn"), 1)
	wrongV := t0Header[:len(t0Header)-1] + "e"

	tests := []struct {
		name   string
		path   string
		header string // GrowSurf-Signature; empty leaves it out
		body   []byte
		code   string
	}{
		{name: "missing header", body: t2, code: "missing_signature"},
		{name: "body changed by one byte", header: t0Header, body: changed, code: "invalid_signature"},
		{name: "v of the right length but wrong", header: wrongV, body: t2, code: "invalid_signature"},
		{name: "other secret", header: gsSign(t2, "another_secret", gsNow), body: t2, code: "invalid_signature"},
		{name: "malformed header", header: "sha256=abc", body: t2, code: "invalid_signature"},
		{name: "v not hex", header: "ts=1772445600700,v=zz", body: t2, code: "invalid_signature"},
		{name: "older than the default 7 days", header: gsSign(t2, gsSecret, gsNow.Add(-7*24*time.Hour-time.Minute)), body: t2, code: "stale_signature"},
		{name: "too far in the future", header: gsSign(t2, gsSecret, gsNow.Add(10*time.Minute)), body: t2, code: "stale_signature"},
		{name: "older than a configured tolerance", path: "/webhooks/short", header: gsSign(t2, gsSecret, gsNow.Add(-2*time.Hour)), body: t2, code: "stale_signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.header != "" {
				h["GrowSurf-Signature"] = tt.header
			}
			path := tt.path
			if path == "" {
				path = gsPath
			}
			r := e.do(t, req{path: path, header: h, body: tt.body})
			apiErr(t, r, http.StatusUnauthorized, tt.code)
			if len(r.msgs) != 0 || len(r.rejected) != 0 {
				t.Fatalf("stored %d messages and %d rejected items, want nothing", len(r.msgs), len(r.rejected))
			}
		})
	}
	if n := gsCount(t, reg, "referrals", "", "invalid_signature"); n != 5 {
		t.Errorf("invalid_signature counted %v times, want 5", n)
	}

	// Within the configured tolerance the same delivery is accepted.
	r := e.do(t, req{path: "/webhooks/short", header: gsSigned(t2, gsNow.Add(-30*time.Minute)), body: t2})
	s200(t, r)
	if len(r.msgs) != 4 {
		t.Fatalf("stored %d messages, want 4", len(r.msgs))
	}
}

func TestGrowSurfUnsignedSource(t *testing.T) {
	src := gsSource()
	src.Secret = nil
	src.AllowUnsigned = true // without it, New refuses (TestGrowSurfConfigErrors)
	e, _ := newGSEnv(t, newRecLog(), src)
	body := gsVector(t, "t1_direct_signup.json")
	r := e.do(t, req{path: gsPath, body: body})
	s200(t, r)
	checkPerPersonOrder(t, r.msgs, "richard@piedpiper.com")
}

func TestGrowSurfMalformed(t *testing.T) {
	b := openLogBackend(t)
	e, _ := newGSEnv(t, b)
	big := append([]byte(`{"event":"CAMPAIGN_ENDED","createdAt":1,"data":{"pad":"`), bytes.Repeat([]byte("x"), 1<<20)...)
	big = append(big, `"}}`...)
	tests := []struct {
		name   string
		body   []byte
		gzip   bool
		status int
		code   string
	}{
		{name: "not json", body: []byte(`{"event":`), status: 400, code: "invalid_json"},
		{name: "an array", body: []byte(`[{"event":"NEW_PARTICIPANT_ADDED"}]`), status: 400, code: "invalid_json"},
		{name: "empty", body: []byte{}, status: 400, code: "invalid_json"},
		{name: "two values", body: []byte(`{} {}`), status: 400, code: "invalid_json"},
		{name: "over 1 MiB", body: big, status: 400, code: "payload_too_large"},
		{name: "over 1 MiB once gunzipped", body: big, gzip: true, status: 400, code: "payload_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, req{path: gsPath, header: gsSigned(tt.body, gsNow), body: tt.body, gzip: tt.gzip})
			apiErr(t, r, tt.status, tt.code)
			if len(r.msgs) != 0 || len(r.rejected) != 0 {
				t.Fatalf("stored %d messages and %d rejected items, want nothing", len(r.msgs), len(r.rejected))
			}
		})
	}
}

func TestGrowSurfUnmappedKeptRaw(t *testing.T) {
	b := openLogBackend(t)
	e, reg := newGSEnv(t, b)
	tests := []struct {
		name   string
		body   []byte
		reason string
		event  string // metric label
	}{
		{name: "T5_fraud_status", body: gsVector(t, "t5_fraud_status.json"), reason: growsurf.ReasonUnmappedEvent, event: "PARTICIPANT_FRAUD_STATUS_UPDATED"},
		{name: "T3b_reward_pending", body: gsVector(t, "t3b_reward_pending.json"), reason: growsurf.ReasonRewardNotApproved, event: "PARTICIPANT_REACHED_A_GOAL"},
		{name: "T6_unknown_event", body: []byte(`{"event":"NEW_REFERRAL","createdAt":1772445600000,"data":{}}`), reason: growsurf.ReasonUnknownEvent, event: "other"},
		{name: "T6_email_missing", body: bytes.Replace(gsVector(t, "t1_direct_signup.json"), []byte(`"email":"richard@piedpiper.com",`), nil, 1), reason: growsurf.ReasonInvalidPayload, event: "NEW_PARTICIPANT_ADDED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, req{path: gsPath, header: gsSigned(tt.body, gsNow), body: tt.body})
			s200(t, r)
			rej := rejectedOnly(t, r, tt.reason)
			if rej.Source != "referrals" || rej.Route != gsPath || !rej.ReceivedAt.Equal(gsNow) || rej.Detail == "" {
				t.Errorf("rejected item %+v", rej)
			}
			var got, want any
			if err := json.Unmarshal(rej.Body, &got); err != nil {
				t.Fatalf("kept body is not JSON: %v", err)
			}
			_ = json.Unmarshal(tt.body, &want)
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(want)
			if !bytes.Equal(gb, wb) {
				t.Errorf("kept body differs from the delivery:\n got %s\nwant %s", gb, wb)
			}
			if n := gsCount(t, reg, "referrals", tt.event, "unmapped"); n != 1 {
				t.Errorf("unmapped %s counted %v times, want 1", tt.event, n)
			}
		})
	}
}

// TestGrowSurfUnmappedNearTheLimit: an unmapped delivery of nearly 1 MiB
// (the route's limit) would make a rejected entry over a log record, which
// the real log refuses; it used to be answered 503, and GrowSurf retries.
// The entry keeps the start of its text instead.
func TestGrowSurfUnmappedNearTheLimit(t *testing.T) {
	b := openLogBackend(t)
	e, _ := newGSEnv(t, b)
	body := []byte(`{"event":"NEW_REFERRAL","createdAt":1772445600000,"data":{"pad":"` + strings.Repeat("p", growsurf.MaxBody-100) + `"}}`)
	r := e.do(t, req{path: gsPath, header: gsSigned(body, gsNow), body: body})
	s200(t, r)
	rej := rejectedOnly(t, r, growsurf.ReasonUnknownEvent)
	var text string
	if err := json.Unmarshal(rej.Body, &text); err != nil || !strings.HasPrefix(text, `{"event":"NEW_REFERRAL"`) || !strings.Contains(rej.Detail, "is cut to its first") {
		t.Fatalf("kept %d bytes (%v), detail %q", len(rej.Body), err, rej.Detail)
	}
}

// TestGrowSurfDuplicateDelivery is vector T2-dup: GrowSurf delivers T2
// again, newly signed, also after the server restarted on the same data.
func TestGrowSurfDuplicateDelivery(t *testing.T) {
	dir := t.TempDir()
	b := openLogBackendAt(t, dir)
	e, reg := newGSEnv(t, b)
	t2 := gsVector(t, "t2_referred_signup.json")

	res, err := growsurf.Convert(t2, "referrals", growsurf.DefaultSettings(), gsNow)
	if err != nil || res.DeliveryKey == "" {
		t.Fatalf("Convert = %+v, %v", res, err)
	}
	// The delivery memory, not only the events stream's 24h messageId
	// window, must know the delivery.
	remembered := func(b *logBackend) {
		t.Helper()
		if seen, err := b.Seen(context.Background(), "referrals", res.DeliveryKey); err != nil || !seen {
			t.Fatalf("Seen(%q) = %v, %v; want true", res.DeliveryKey, seen, err)
		}
	}

	r := e.do(t, req{path: gsPath, header: gsSigned(t2, gsNow.Add(-time.Minute)), body: t2})
	s200(t, r)
	if len(r.msgs) != 4 {
		t.Fatalf("first delivery stored %d messages, want 4", len(r.msgs))
	}
	remembered(b)
	r = e.do(t, req{path: gsPath, header: gsSigned(t2, gsNow), body: t2})
	s200(t, r)
	if len(r.msgs) != 0 || len(r.rejected) != 0 {
		t.Fatalf("duplicate stored %d messages and %d rejected items, want nothing", len(r.msgs), len(r.rejected))
	}
	if n := gsCount(t, reg, "referrals", "NEW_PARTICIPANT_ADDED", "duplicate"); n != 1 {
		t.Errorf("duplicate counted %v times, want 1", n)
	}

	// Restart: close the log and open it again on the same directory.
	e.srv.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openLogBackendAt(t, dir)
	remembered(b)
	e, _ = newGSEnv(t, b)
	r = e.do(t, req{path: gsPath, header: gsSigned(t2, gsNow), body: t2})
	s200(t, r)
	if len(r.msgs) != 0 || len(r.rejected) != 0 {
		t.Fatalf("duplicate after a restart stored %d messages and %d rejected items, want nothing", len(r.msgs), len(r.rejected))
	}
	// The restarted server still stores new deliveries.
	t1 := gsVector(t, "t1_direct_signup.json")
	r = e.do(t, req{path: gsPath, header: gsSigned(t1, gsNow), body: t1})
	s200(t, r)
	checkPerPersonOrder(t, r.msgs, "richard@piedpiper.com")
}

// TestGrowSurfCrashBeforeRemember covers a crash after the messages were
// stored but before the delivery was remembered: the redelivery is
// answered 200, adds nothing to the events stream (the messageIds are
// deterministic) and is remembered from then on.
func TestGrowSurfCrashBeforeRemember(t *testing.T) {
	b := openLogBackend(t)
	e, _ := newGSEnv(t, b)
	ctx := context.Background()
	t3 := gsVector(t, "t3_reward_approved.json")
	res, err := growsurf.Convert(t3, "referrals", growsurf.DefaultSettings(), gsNow)
	if err != nil || len(res.Messages) == 0 || res.DeliveryKey == "" {
		t.Fatalf("Convert = %+v, %v", res, err)
	}
	if _, err := b.Append(ctx, res.Messages); err != nil {
		t.Fatal(err)
	}
	if msgs, _ := b.drain(t); len(msgs) != len(res.Messages) {
		t.Fatalf("stored %d messages directly, want %d", len(msgs), len(res.Messages))
	}
	r := e.do(t, req{path: gsPath, header: gsSigned(t3, gsNow), body: t3})
	s200(t, r)
	if len(r.msgs) != 0 {
		t.Fatalf("redelivery stored %d messages again", len(r.msgs))
	}
	if seen, err := b.Seen(ctx, "referrals", res.DeliveryKey); err != nil || !seen {
		t.Fatalf("Seen after the redelivery = %v, %v; want true", seen, err)
	}
}

func TestGrowSurfRoutes(t *testing.T) {
	legacy := gsSource()
	legacy.Name, legacy.Path, legacy.LegacyPath = "legacy", "/hooks/legacy", true
	off := gsSource()
	off.Name, off.Path, off.Disabled = "off-referrals", "/hooks/off", true
	e, _ := newGSEnv(t, newRecLog(), gsSource(), legacy, off)
	t1 := gsVector(t, "t1_direct_signup.json")
	signed := gsSigned(t1, gsNow)

	tests := []struct {
		name   string
		method string
		path   string
		header map[string]string
		status int
		code   string // error code; empty for S200
		source string // source of the stored messages
	}{
		{name: "configured path", path: gsPath, header: signed, status: 200, source: "referrals"},
		{name: "case-insensitive with a trailing slash", path: "/WebHooks/GrowSurf/", header: signed, status: 200, source: "referrals"},
		{name: "legacy path of the source that sets it", path: "/api/growsurf-to-customerio", header: signed, status: 200, source: "legacy"},
		{name: "its own path too", path: "/hooks/legacy", header: signed, status: 200, source: "legacy"},
		{name: "GET", method: http.MethodGet, path: gsPath, header: signed, status: 405, code: "method_not_allowed"},
		{name: "PUT", method: http.MethodPut, path: gsPath, header: signed, status: 405, code: "method_not_allowed"},
		{name: "OPTIONS", method: http.MethodOptions, path: gsPath, header: signed, status: 405, code: "method_not_allowed"},
		{name: "disabled", path: "/hooks/off", header: signed, status: 403, code: "source_disabled"},
		{name: "disabled checks the signature first", path: "/hooks/off", status: 401, code: "missing_signature"},
		{name: "unknown path", path: "/webhooks/growsurf2", header: signed, status: 404, code: "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A fresh log per case, so that no case is another's duplicate.
			e.log = newRecLog()
			e.h.log = e.log
			r := e.do(t, req{method: tt.method, path: tt.path, header: tt.header, body: t1})
			if tt.code != "" {
				apiErr(t, r, tt.status, tt.code)
				if tt.status == 405 && r.header.Get("Allow") != "POST" {
					t.Errorf("Allow = %q, want POST", r.header.Get("Allow"))
				}
				if len(r.msgs) != 0 || len(r.rejected) != 0 {
					t.Fatalf("stored %d messages and %d rejected items, want nothing", len(r.msgs), len(r.rejected))
				}
				return
			}
			s200(t, r)
			if len(r.msgs) != 2 || r.msgs[0].Source != tt.source {
				t.Fatalf("stored %d messages from %q, want 2 from %q", len(r.msgs), r.msgs[0].Source, tt.source)
			}
		})
	}

	// Without legacy_path nothing answers on the legacy path.
	e2, _ := newGSEnv(t, newRecLog())
	r := e2.do(t, req{path: "/api/growsurf-to-customerio", header: signed, body: t1})
	apiErr(t, r, http.StatusNotFound, "not_found")
}

// failingLog is a recLog whose Seen, Remember or Reject can be made to
// fail.
type failingLog struct {
	*recLog
	mu                            sync.Mutex
	failSeen, failRemember, failR bool
}

func (l *failingLog) Seen(ctx context.Context, source, key string) (bool, error) {
	l.mu.Lock()
	fail := l.failSeen
	l.mu.Unlock()
	if fail {
		return false, errStoreDown
	}
	return l.recLog.Seen(ctx, source, key)
}

func (l *failingLog) Remember(ctx context.Context, source, key string) error {
	l.mu.Lock()
	fail := l.failRemember
	l.mu.Unlock()
	if fail {
		return errStoreDown
	}
	return l.recLog.Remember(ctx, source, key)
}

func (l *failingLog) Reject(ctx context.Context, rs []router.Rejected) error {
	l.mu.Lock()
	fail := l.failR
	l.mu.Unlock()
	if fail {
		return errStoreDown
	}
	return l.recLog.Reject(ctx, rs)
}

func TestGrowSurfStoreFailures(t *testing.T) {
	t1 := gsVector(t, "t1_direct_signup.json")
	t5 := gsVector(t, "t5_fraud_status.json")
	tests := []struct {
		name   string
		body   []byte
		set    func(*failingLog)
		stored int // messages stored despite the 503
	}{
		{name: "append fails", body: t1, set: func(l *failingLog) { l.fail = errStoreDown }},
		{name: "seen fails", body: t1, set: func(l *failingLog) { l.failSeen = true }},
		{name: "remember fails after the messages are stored", body: t1, set: func(l *failingLog) { l.failRemember = true }, stored: 2},
		{name: "keeping an unmapped delivery fails", body: t5, set: func(l *failingLog) { l.failR = true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &failingLog{recLog: newRecLog()}
			e, _ := newGSEnv(t, l)
			tt.set(l)
			r := e.do(t, req{path: gsPath, header: gsSigned(tt.body, gsNow), body: tt.body})
			apiErr(t, r, http.StatusServiceUnavailable, "unavailable")
			if r.header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if len(r.msgs) != tt.stored {
				t.Fatalf("stored %d messages, want %d", len(r.msgs), tt.stored)
			}
			// GrowSurf retries once the store is back: stored exactly once.
			l.mu.Lock()
			l.fail, l.failSeen, l.failRemember, l.failR = nil, false, false, false
			l.mu.Unlock()
			r = e.do(t, req{path: gsPath, header: gsSigned(tt.body, gsNow), body: tt.body})
			s200(t, r)
			if bytes.Equal(tt.body, t5) {
				if len(r.rejected) != 1 {
					t.Fatalf("kept %d rejected items on retry, want 1", len(r.rejected))
				}
				return
			}
			if got := len(r.msgs) + tt.stored; got != 2 {
				t.Fatalf("messages stored over both attempts: %d, want 2", got)
			}
		})
	}
}

// routesOnly is a source that mounts the given paths with no webhook
// behind them worth calling: the hosting checks come first.
type routesOnly []string

func (r routesOnly) Routes() []router.SourceRoute {
	var out []router.SourceRoute
	for _, p := range r {
		out = append(out, router.SourceRoute{Path: p, Webhook: refuseAll{}})
	}
	return out
}

// refuseAll is a webhook that refuses every delivery as unsigned.
type refuseAll struct{}

func (refuseAll) Verify(http.Header, []byte, time.Time) error { return router.ErrMissingSignature }
func (refuseAll) Convert(http.Header, []byte, time.Time) (router.WebhookResult, error) {
	return router.WebhookResult{}, errors.New("not reached")
}

// TestHostingErrors: what ingest itself checks of the hosted sources (a
// source's own settings are its factory's to check).
func TestHostingErrors(t *testing.T) {
	hosted := func(name string, paths ...string) Hosted {
		return Hosted{Name: name, Type: "test", Source: routesOnly(paths)}
	}
	tests := []struct {
		name   string
		hosted []Hosted
		want   []string
	}{
		{name: "no name", hosted: []Hosted{hosted("", "/a")}, want: []string{"hosted[0]: name: required"}},
		{name: "name of a segment source", hosted: []Hosted{hosted("backend", "/a")}, want: []string{"sources.backend: defined twice"}},
		{name: "two with one name", hosted: []Hosted{hosted("a", "/a"), hosted("a", "/b")}, want: []string{"sources.a: defined twice"}},
		{name: "no source", hosted: []Hosted{{Name: "a", Type: "test"}}, want: []string{"sources.a: source: required"}},
		{name: "type that cannot name a metric", hosted: []Hosted{{Name: "a", Type: "Web-Hook", Source: routesOnly{"/a"}}}, want: []string{`sources.a: type: "Web-Hook" must be`}},
		{name: "relative path", hosted: []Hosted{hosted("a", "hooks")}, want: []string{`sources.a: routes[0]: "hooks" must be "/" followed by a name`}},
		{name: "root path", hosted: []Hosted{hosted("a", "/")}, want: []string{`sources.a: routes[0]: "/" must be "/" followed by a name`}},
		{name: "a Segment route", hosted: []Hosted{hosted("a", "/V1/track")}, want: []string{`sources.a: routes[0]: "/V1/track" is a route of the Segment API`}},
		{name: "same path", hosted: []Hosted{hosted("a", "/hooks/a"), hosted("b", "/HOOKS/a/")}, want: []string{`sources.b: routes[0]: "/HOOKS/a/" is already served by sources.a: routes[0]`}},
		{name: "two legacy paths", hosted: append(hostGS(t, gsSrc{Name: "a", Path: "/a", LegacyPath: true, AllowUnsigned: true}), hostGS(t, gsSrc{Name: "b", Path: "/b", LegacyPath: true, AllowUnsigned: true})...),
			want: []string{"sources.b: routes[1]: \"/api/growsurf-to-customerio\" is already served by sources.a: routes[1]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.Hosted = tt.hosted
			_, err := New(cfg, newRecLog())
			if err == nil {
				t.Fatal("New accepted the configuration")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
