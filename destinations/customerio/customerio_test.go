package customerio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/destinations/customerio/ciotest"
	"github.com/eventrouter/eventrouter/router"
)

func identifyMsg(t testing.TB, id, user string) router.Message {
	return msg(t, fmt.Sprintf(`{"type":"identify","messageId":%q,"userId":%q,"timestamp":"2024-05-01T12:00:00.000Z","traits":{"plan":"pro"}}`, id, user))
}

func trackMsg(t testing.TB, id, user string) router.Message {
	return msg(t, fmt.Sprintf(`{"type":"track","messageId":%q,"userId":%q,"event":"Ping","timestamp":"2024-05-01T12:00:00.000Z","properties":{"n":1}}`, id, user))
}

func TestDataLimitsArePermanentAndNotSent(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name   string
		mutate func(*Config)
		body   string
		want   []string // substrings of the error: the field and the limit
	}{
		{name: "attribute value of 1001 bytes (T8)", body: `{"type":"identify","messageId":"m","userId":"u1","traits":{"bio":"` + long(1001) + `"}}`,
			want: []string{"traits.bio", "1001 bytes", "limit of 1000 bytes"}},
		{name: "non-string value over 1000 bytes", body: `{"type":"identify","messageId":"m","userId":"u1","traits":{"tags":["` + long(1000) + `"]}}`,
			want: []string{"traits.tags", "limit of 1000 bytes"}},
		{name: "attribute name of 151 bytes", body: `{"type":"identify","messageId":"m","userId":"u1","traits":{"` + long(151) + `":1}}`,
			want: []string{"attribute name", "151 bytes", "limit of 150 bytes"}},
		{name: "301 attributes", body: manyTraits(301), want: []string{"301 attributes", "limit of 300"}},
		{name: "person id of 151 bytes", body: `{"type":"track","messageId":"m","userId":"` + long(151) + `","event":"e"}`,
			want: []string{"person identifier", "151 bytes", "limit of 150 bytes"}},
		{name: "anonymous id of 151 bytes", body: `{"type":"track","messageId":"m","anonymousId":"` + long(151) + `","event":"e"}`,
			want: []string{"anonymousId", "limit of 150 bytes"}},
		{name: "event name of 101 bytes", body: `{"type":"track","messageId":"m","userId":"u1","event":"` + long(101) + `"}`,
			want: []string{"event name", "101 bytes", "limit of 100 bytes"}},
		{name: "page url over the event name limit", body: `{"type":"page","messageId":"m","userId":"u1","properties":{"url":"https://example.com/` + long(100) + `"}}`,
			want: []string{"event name", "limit of 100 bytes"}},
		{name: "event data over 100000 bytes", body: `{"type":"track","messageId":"m","userId":"u1","event":"e","properties":{"blob":"` + long(100_000) + `"}}`,
			want: []string{"event data (properties)", "limit of 100000 bytes"}},
		{name: "group trait value too long", body: `{"type":"group","messageId":"m","userId":"u1","groupId":"g","traits":{"about":"` + long(1001) + `"}}`,
			want: []string{"group traits.group_about", "limit of 1000 bytes"}},
		{name: "alias previousId too long", body: `{"type":"alias","messageId":"m","userId":"u1","previousId":"` + long(151) + `"}`,
			want: []string{"previousId", "limit of 150 bytes"}},
		{name: "identify without userId", body: `{"type":"identify","messageId":"m","anonymousId":"a1","traits":{"a":1}}`,
			want: []string{"userId: missing"}},
		{name: "track with identifier email and no email", mutate: func(c *Config) { c.Identifier = IdentifierEmail },
			body: `{"type":"track","messageId":"m","userId":"usr_1","event":"e"}`, want: []string{"no email address in context.traits.email or userId"}},
		{name: "alias of a non-email with identifier email", mutate: func(c *Config) { c.Identifier = IdentifierEmail },
			body: `{"type":"alias","messageId":"m","userId":"new@example.com","previousId":"usr_1"}`, want: []string{"previousId is not an email address"}},
		{name: "alias of the anonymous id", body: `{"type":"alias","messageId":"m","userId":"u1","previousId":"a1","anonymousId":"a1"}`,
			want: []string{"cannot merge an anonymous profile"}},
		{name: "alias without previousId", body: `{"type":"alias","messageId":"m","userId":"u1"}`, want: []string{"previousId: missing"}},
		{name: "track without event", body: `{"type":"track","messageId":"m","userId":"u1"}`, want: []string{"event: missing"}},
		{name: "body not JSON", body: `{"type":"track"`, want: []string{"decoding message"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := ciotest.New(t)
			d := newDest(t, srv, tt.mutate)
			m := router.Message{ID: "m", Type: "track", UserID: "u1", Body: []byte(tt.body)}
			err := d.Send(context.Background(), []router.Message{m})
			if k, _ := router.Classify(err); k != router.KindPermanent {
				t.Fatalf("Send = %v, classified %v, want permanent", err, k)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if n := len(srv.AllRequests()); n != 0 {
				t.Fatalf("%d requests sent for a message over a limit", n)
			}
		})
	}
}

func manyTraits(n int) string {
	var b strings.Builder
	b.WriteString(`{"type":"identify","messageId":"m","userId":"u1","traits":{`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"t%d":%d`, i, i)
	}
	b.WriteString(`}}`)
	return b.String()
}

func TestClassification(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		setup      func(t *testing.T, srv *ciotest.Server, c *Config)
		wantKind   router.Kind
		wantDelay  time.Duration
		wantMsg    string
	}{
		{name: "201 is success (go-customerio calls it an error)", status: 201, wantKind: router.KindOK},
		{name: "429 with Retry-After", status: 429, retryAfter: "7", wantKind: router.KindRetryable, wantDelay: 7 * time.Second, wantMsg: "429 Too Many Requests"},
		{name: "429 without Retry-After", status: 429, wantKind: router.KindRetryable},
		{name: "429 with an HTTP date", status: 429, retryAfter: "DATE+90", wantKind: router.KindRetryable, wantDelay: 90 * time.Second},
		{name: "503 with Retry-After", status: 503, retryAfter: "3", wantKind: router.KindRetryable, wantDelay: 3 * time.Second},
		{name: "500", status: 500, wantKind: router.KindRetryable, wantMsg: "internal server error"},
		{name: "502", status: 502, wantKind: router.KindRetryable},
		{name: "400 quotes customer.io's errors", status: 400, wantKind: router.KindPermanent, wantMsg: `"scripted failure 400"`},
		{name: "403 hints at the key", status: 403, wantKind: router.KindPermanent, wantMsg: "Track API key"},
		{name: "422 permanent", status: 422, wantKind: router.KindPermanent},
		// Statuses Customer.io does not document are classified by the
		// delivery kit (httpdelivery.Classify), as in the other HTTP
		// destinations: an unknown 4xx is permanent, an unknown 5xx
		// retryable, a code outside 100-599 permanent.
		{name: "418 unknown 4xx permanent", status: 418, wantKind: router.KindPermanent, wantMsg: `answered 418 I'm a teapot: "scripted failure 418"`},
		{name: "599 unknown 5xx retryable", status: 599, wantKind: router.KindRetryable, wantMsg: "answered 599"},
		{name: "600 outside the range permanent", status: 600, wantKind: router.KindPermanent, wantMsg: "answered 600"},
		{name: "401 on wrong credentials", setup: func(_ *testing.T, _ *ciotest.Server, c *Config) { c.APIKey = "wrong" },
			wantKind: router.KindPermanent, wantMsg: "check site_id and api_key"},
		{name: "404 on a wrong url", setup: func(_ *testing.T, srv *ciotest.Server, c *Config) { c.URL = srv.URL() + "/nothing" },
			wantKind: router.KindPermanent, wantMsg: "check region and url"},
		{name: "connection refused is retryable", setup: func(_ *testing.T, srv *ciotest.Server, _ *Config) { srv.Close() },
			wantKind: router.KindRetryable, wantMsg: "connect"},
	}
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := ciotest.New(t)
			d := newDest(t, srv, func(c *Config) {
				if tt.setup != nil {
					tt.setup(t, srv, c)
				}
			})
			d.now = func() time.Time { return now }
			if tt.status != 0 {
				srv.FailNext(tt.status, 1)
			}
			ra := tt.retryAfter
			if ra == "DATE+90" {
				ra = now.Add(90 * time.Second).Format(http.TimeFormat)
			}
			srv.SetRetryAfter(ra)
			err := d.Send(context.Background(), []router.Message{trackMsg(t, "m1", "u1@example.com")})
			kind, delay := router.Classify(err)
			if kind != tt.wantKind || delay != tt.wantDelay {
				t.Fatalf("Send = %v, classified %v %v, want %v %v", err, kind, delay, tt.wantKind, tt.wantDelay)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q lacks %q", err, tt.wantMsg)
			}
			if err != nil && strings.Contains(err.Error(), "u1@example.com") {
				t.Fatalf("error quotes the request URL: %v", err)
			}
			if err != nil && strings.Contains(err.Error(), srv.APIKey()) {
				t.Fatalf("error quotes the api key: %v", err)
			}
		})
	}
}

// TestPerPersonOrder sends many people's identify and tracks with
// concurrency and checks every person's requests arrived in batch order.
func TestPerPersonOrder(t *testing.T) {
	srv := ciotest.New(t)
	d := newDest(t, srv, func(c *Config) { c.Concurrency = 4 })
	var batch []router.Message
	for i := range 3 { // interleave people inside the batch
		for p := range 20 {
			user := fmt.Sprintf("user-%d", p)
			if i == 0 {
				batch = append(batch, identifyMsg(t, fmt.Sprintf("%s-identify", user), user))
			} else {
				batch = append(batch, trackMsg(t, fmt.Sprintf("%s-track-%d", user, i), user))
			}
		}
	}
	if err := d.Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != len(batch) {
		t.Fatalf("%d requests, want %d", len(reqs), len(batch))
	}
	next := map[string]int{}
	for _, r := range reqs {
		user := strings.SplitN(r.MessageID, "-", 3)
		key := user[0] + "-" + user[1]
		wantSuffix := []string{"identify", "track-1", "track-2"}[next[key]]
		if !strings.HasSuffix(r.MessageID, wantSuffix) {
			t.Fatalf("%s: request %s arrived as number %d", key, r.MessageID, next[key])
		}
		next[key]++
	}
	for p := range 20 {
		user := fmt.Sprintf("user-%d", p)
		if ev := srv.Events(user); len(ev) != 2 {
			t.Fatalf("%s has %d events", user, len(ev))
		}
		if a, ok := srv.Person(user); !ok || a["plan"] != "pro" {
			t.Fatalf("%s attributes %v", user, a)
		}
	}
}

// TestStopAtFirstRetryableFailure checks the BatchError: a person's
// messages from the first retryable failure on fail, other people and
// permanent failures are unaffected.
func TestStopAtFirstRetryableFailure(t *testing.T) {
	srv := ciotest.New(t)
	d := newDest(t, srv, func(c *Config) { c.Concurrency = 1 })
	srv.FailNext(200, 1) // a's identify succeeds
	srv.FailNext(503, 1) // a's first track fails
	srv.SetRetryAfter("2")
	batch := []router.Message{
		identifyMsg(t, "a-identify", "a"),                           // 0 delivered
		identifyMsg(t, "b-identify", "b"),                           // 1 delivered
		trackMsg(t, "a-track-1", "a"),                               // 2 fails 503
		trackMsg(t, "b-track-1", "b"),                               // 3 delivered
		trackMsg(t, "a-track-2", "a"),                               // 4 held back
		msg(t, `{"type":"track","messageId":"a-bad","userId":"a"}`), // 5 permanent (no event)
		identifyMsg(t, "a-identify-2", "a"),                         // 6 held back
	}
	err := d.Send(context.Background(), batch)
	var be *router.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("Send = %v, want a *router.BatchError", err)
	}
	want := map[int]struct {
		kind  router.Kind
		delay time.Duration
		msg   string
	}{
		2: {router.KindRetryable, 2 * time.Second, "503"},
		4: {router.KindRetryable, 2 * time.Second, "not sent to keep per-person order"},
		5: {router.KindPermanent, 0, "event: missing"},
		6: {router.KindRetryable, 2 * time.Second, "earlier message a-track-1"},
	}
	if len(be.Failed) != len(want) {
		t.Fatalf("failed %v, want indexes 2, 4, 5, 6", be.Failed)
	}
	for i, w := range want {
		k, dl := router.Classify(be.Failed[i])
		if k != w.kind || dl != w.delay || !strings.Contains(be.Failed[i].Error(), w.msg) {
			t.Errorf("[%d] = %v (%v %v), want %v %v %q", i, be.Failed[i], k, dl, w.kind, w.delay, w.msg)
		}
	}
	var sent []string
	for _, r := range srv.Requests() {
		sent = append(sent, r.MessageID)
	}
	if got := strings.Join(sent, ","); got != "a-identify,b-identify,b-track-1" {
		t.Fatalf("delivered %s", got)
	}
}

func TestWholeBatchFailuresAreNotBatchErrors(t *testing.T) {
	srv := ciotest.New(t)
	d := newDest(t, srv, nil)
	srv.FailNext(429, 1)
	srv.SetRetryAfter("4")
	batch := []router.Message{identifyMsg(t, "i", "u"), trackMsg(t, "t", "u")}
	err := d.Send(context.Background(), batch)
	var be *router.BatchError
	if errors.As(err, &be) {
		t.Fatalf("Send = %v, want one error for the whole batch", err)
	}
	if k, dl := router.Classify(err); k != router.KindRetryable || dl != 4*time.Second {
		t.Fatalf("Send = %v classified %v %v", err, k, dl)
	}
	// Every message permanent: a permanent error.
	bad := newDest(t, srv, func(c *Config) { c.APIKey = "nope" })
	if k, _ := router.Classify(bad.Send(context.Background(), batch)); k != router.KindPermanent {
		t.Fatalf("wrong key classified %v", k)
	}
}

func TestCancelledContext(t *testing.T) {
	srv := ciotest.New(t)
	d := newDest(t, srv, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := d.Send(ctx, []router.Message{identifyMsg(t, "i", "u"), trackMsg(t, "t", "u")})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v", err)
	}
	if k, _ := router.Classify(err); k != router.KindRetryable {
		t.Fatalf("cancelled Send classified %v", k)
	}
	if n := len(srv.AllRequests()); n != 0 {
		t.Fatalf("%d requests on a cancelled context", n)
	}
}

// cancelAfterFirst is a transport that cancels a context once the first
// answer has arrived.
type cancelAfterFirst struct {
	rt     http.RoundTripper
	cancel context.CancelFunc
}

func (c cancelAfterFirst) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(r)
	c.cancel()
	return resp, err
}

func TestCancelDuringSend(t *testing.T) {
	srv := ciotest.New(t)
	d := newDest(t, srv, func(c *Config) { c.Concurrency = 1 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.httpc.Transport = cancelAfterFirst{rt: d.httpc.Transport, cancel: cancel}
	var batch []router.Message
	for i := range 5 {
		batch = append(batch, trackMsg(t, fmt.Sprintf("t%d", i), fmt.Sprintf("u%d", i)))
	}
	err := d.Send(ctx, batch)
	var be *router.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 4 {
		t.Fatalf("Send = %v, want 4 of 5 failed", err)
	}
	for i, e := range be.Failed {
		if !errors.Is(e, context.Canceled) {
			t.Errorf("[%d] = %v, want context.Canceled", i, e)
		}
		if k, _ := router.Classify(e); k != router.KindRetryable {
			t.Errorf("[%d] classified %v", i, k)
		}
	}
	if n := len(srv.Requests()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestRateLimitedIsRetryableWithDelay(t *testing.T) {
	srv := ciotest.New(t, ciotest.WithRateLimit(2))
	d := newDest(t, srv, func(c *Config) { c.Concurrency = 1 })
	var batch []router.Message
	for i := range 4 {
		batch = append(batch, trackMsg(t, fmt.Sprintf("t%d", i), fmt.Sprintf("u%d", i)))
	}
	err := d.Send(context.Background(), batch)
	var be *router.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 2 {
		t.Fatalf("Send = %v, want 2 of 4 failed", err)
	}
	for i, e := range be.Failed {
		if k, dl := router.Classify(e); k != router.KindRetryable || dl != time.Second {
			t.Errorf("[%d] %v classified %v %v", i, e, k, dl)
		}
	}
}

func TestCloseIdempotent(t *testing.T) {
	srv := ciotest.New(t)
	d := newDest(t, srv, nil)
	if err := d.Send(context.Background(), []router.Message{identifyMsg(t, "i", "u")}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := d.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConcurrentSends(t *testing.T) {
	srv := ciotest.New(t)
	d := newDest(t, srv, nil)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range 5 {
				u := fmt.Sprintf("w%d-r%d", w, r)
				if err := d.Send(context.Background(), []router.Message{identifyMsg(t, u+"-i", u), trackMsg(t, u+"-t", u)}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if n := len(srv.Requests()); n != 40 {
		t.Fatalf("%d requests, want 40", n)
	}
}

func TestSelfCheck(t *testing.T) {
	tests := []struct {
		name    string
		opts    []ciotest.Option
		mutate  func(srv *ciotest.Server, c *Config)
		wantErr string
	}{
		{name: "ok"},
		{name: "eu workspace configured eu", opts: []ciotest.Option{ciotest.WithRegion("eu")}, mutate: func(_ *ciotest.Server, c *Config) { c.Region = RegionEU }},
		{name: "wrong key", mutate: func(_ *ciotest.Server, c *Config) { c.APIKey = "wrong" }, wantErr: "401 Unauthorized: check site_id and api_key"},
		{name: "wrong region", opts: []ciotest.Option{ciotest.WithRegion("eu")}, wantErr: `workspace is in region "eu", but region is "us": set region: eu`},
		{name: "wrong url", mutate: func(srv *ciotest.Server, c *Config) { c.URL = srv.URL() + "/x" }, wantErr: "404 Not Found: check url and region"},
		{name: "unreachable", mutate: func(srv *ciotest.Server, _ *Config) { srv.Close() }, wantErr: "cannot reach"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := ciotest.New(t, tt.opts...)
			cfg := NewFactory().DefaultConfig().(*Config)
			cfg.SiteID, cfg.APIKey, cfg.URL, cfg.SelfCheck = srv.SiteID(), srv.APIKey(), srv.URL(), true
			if tt.mutate != nil {
				tt.mutate(srv, cfg)
			}
			d, err := NewFactory().New(context.Background(), cfg, router.Settings{Name: "cio"})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				_ = d.Close(context.Background())
				reqs := srv.Requests()
				if len(reqs) != 1 || reqs[0].Method != "GET" || reqs[0].Path != "/api/v1/accounts/region" {
					t.Fatalf("requests %v", reqs)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New = %v, want %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "wrong") {
				t.Fatalf("error quotes the api key: %v", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string
	}{
		{name: "valid", mutate: func(c *Config) { c.SiteID, c.APIKey = "s", "k" }},
		{name: "valid eu with url and email", mutate: func(c *Config) {
			c.SiteID, c.APIKey, c.Region, c.URL, c.Identifier = "s", "k", "eu", "http://127.0.0.1:1/proxy/", "email"
		}},
		{name: "defaults lack credentials", mutate: func(*Config) {}, want: []string{"site_id: required", "api_key: required"}},
		{name: "every other key wrong", mutate: func(c *Config) {
			c.SiteID, c.APIKey = "s", "secret\n"
			c.Region, c.URL, c.Identifier, c.Concurrency, c.Group, c.Timeout = "ap", "ftp://x", "phone", 0, "flatten", 0
		}, want: []string{"api_key: must not contain control", `region: must be us or eu, not "ap"`, "url: must be an absolute",
			`identifier: must be id or email, not "phone"`, "concurrency: must be between 1 and 64", `group: must be attributes or skip, not "flatten"`,
			"timeout: must be greater than zero"}},
		{name: "url with credentials", mutate: func(c *Config) { c.SiteID, c.APIKey, c.URL = "s", "k", "https://u:p@example.com" },
			want: []string{"url: must not hold credentials"}},
		{name: "bad group prefix", mutate: func(c *Config) { c.SiteID, c.APIKey, c.GroupPrefix = "s", "k", "group." },
			want: []string{"group_prefix: must be 1 to 50 letters"}},
		{name: "empty group prefix", mutate: func(c *Config) { c.SiteID, c.APIKey, c.GroupPrefix = "s", "k", "" },
			want: []string{"group_prefix: required"}},
		{name: "empty group prefix is fine when skipping", mutate: func(c *Config) { c.SiteID, c.APIKey, c.GroupPrefix, c.Group = "s", "k", "", "skip" }},
		{name: "too much concurrency", mutate: func(c *Config) { c.SiteID, c.APIKey, c.Concurrency = "s", "k", 65 },
			want: []string{"concurrency: must be between 1 and 64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewFactory().DefaultConfig().(*Config)
			tt.mutate(c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret") {
				t.Error("error quotes the api key")
			}
		})
	}
	if _, err := NewFactory().New(context.Background(), &Config{}, router.Settings{}); err == nil {
		t.Fatal("New accepted an invalid config")
	}
	if _, err := NewFactory().New(context.Background(), "nope", router.Settings{}); err == nil {
		t.Fatal("New accepted a foreign config")
	}
}

func TestRegionHosts(t *testing.T) {
	for region, want := range map[string]string{RegionUS: "https://track.customer.io", RegionEU: "https://track-eu.customer.io"} {
		c := Config{Region: region}
		if got := c.baseURL(); got != want {
			t.Errorf("region %s: %s", region, got)
		}
		d := newDestination(Config{Region: region, SiteID: "s", APIKey: "k", Concurrency: 1, Timeout: time.Second}, router.Settings{})
		if d.client.URL != want {
			t.Errorf("region %s: client URL %s", region, d.client.URL)
		}
	}
	c := Config{Region: RegionEU, URL: "http://127.0.0.1:9/p/"}
	if got := c.baseURL(); got != "http://127.0.0.1:9/p" {
		t.Errorf("url override: %s", got)
	}
}

func TestFactoryIdentity(t *testing.T) {
	f := NewFactory()
	if f.Type() != "customerio" {
		t.Fatalf("Type() = %q", f.Type())
	}
	n, ok := f.(router.IntegrationNamer)
	if !ok || n.IntegrationName() != "Customer.io" {
		t.Fatalf("factory is not an IntegrationNamer returning Customer.io")
	}
}
