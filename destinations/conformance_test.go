package destinations

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/destinations/customerio"
	"github.com/eventrouter/eventrouter/destinations/customerio/ciotest"
	"github.com/eventrouter/eventrouter/destinations/file"
	"github.com/eventrouter/eventrouter/destinations/segment"
	"github.com/eventrouter/eventrouter/destinations/webhook"
	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/config"
	"github.com/eventrouter/eventrouter/router/ingest"
)

// harness tells the conformance suite how to exercise one destination type.
// Every factory in Builtin must have one: TestEveryBuiltinHasHarness fails
// otherwise.
type harness struct {
	// configure fills cfg (fresh from DefaultConfig) so that New and Send
	// work, and returns a function reading back every message body
	// delivered so far, in delivery order.
	configure func(t *testing.T, cfg any) (delivered func(t *testing.T) [][]byte)
	// failures are setups in which Send must fail, with the documented
	// classification.
	failures []failure
	// invalidate, when set, breaks a config fresh from DefaultConfig, for
	// a type whose bare defaults are valid.
	invalidate func(cfg any)
}

// failure is a setup in which Send fails.
type failure struct {
	name      string
	configure func(t *testing.T, cfg any)
	want      router.Kind
	wantDelay time.Duration
}

var harnesses = map[string]harness{
	"customerio": customerioHarness(),
	"file":       fileHarness(),
	"segment":    segmentHarness(),
	"webhook":    webhookHarness(),
	"warehouse":  warehouseHarness(),
}

func fileHarness() harness {
	return harness{
		configure: func(t *testing.T, cfg any) func(t *testing.T) [][]byte {
			p := filepath.Join(t.TempDir(), "out", "events.ndjson")
			cfg.(*file.Config).Path = p
			return func(t *testing.T) [][]byte {
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				lines := bytes.SplitAfter(data, []byte("\n"))
				var out [][]byte
				for _, l := range lines {
					if len(l) > 0 {
						out = append(out, bytes.TrimSuffix(l, []byte("\n")))
					}
				}
				return out
			}
		},
		failures: []failure{{
			name: "disk full is retryable",
			configure: func(t *testing.T, cfg any) {
				if _, err := os.Stat("/dev/full"); err != nil {
					t.Skip("no /dev/full")
				}
				cfg.(*file.Config).Path = "/dev/full"
			},
			want: router.KindRetryable,
		}},
	}
}

// webhookSink is an HTTP server that records the bodies of {"batch":[...]}
// requests, keeping each message's bytes exactly as received.
func webhookSink(t *testing.T, status int, header http.Header) (string, func(t *testing.T) [][]byte) {
	var mu sync.Mutex
	var got [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Batch  []json.RawMessage `json:"batch"`
			SentAt string            `json:"sentAt"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil || req.SentAt == "" {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		for k, v := range header {
			w.Header()[k] = v
		}
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		mu.Lock()
		for _, m := range req.Batch {
			got = append(got, []byte(m))
		}
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func(t *testing.T) [][]byte {
		mu.Lock()
		defer mu.Unlock()
		return append([][]byte(nil), got...)
	}
}

func webhookHarness() harness {
	return harness{
		configure: func(t *testing.T, cfg any) func(t *testing.T) [][]byte {
			url, delivered := webhookSink(t, http.StatusOK, nil)
			cfg.(*webhook.Config).URL = url
			return delivered
		},
		failures: []failure{
			{
				name: "400 is permanent",
				configure: func(t *testing.T, cfg any) {
					cfg.(*webhook.Config).URL, _ = webhookSink(t, http.StatusBadRequest, nil)
				},
				want: router.KindPermanent,
			},
			{
				name: "503 with Retry-After is retryable after the delay",
				configure: func(t *testing.T, cfg any) {
					cfg.(*webhook.Config).URL, _ = webhookSink(t, http.StatusServiceUnavailable, http.Header{"Retry-After": {"3"}})
				},
				want: router.KindRetryable, wantDelay: 3 * time.Second,
			},
			{
				name: "connection refused is retryable",
				configure: func(t *testing.T, cfg any) {
					// A port nothing listens on: start and stop a server.
					closed := httptest.NewServer(http.NotFoundHandler())
					cfg.(*webhook.Config).URL = closed.URL
					closed.Close()
				},
				want: router.KindRetryable,
			},
		},
	}
}

// sixTypes returns one message of each Segment type, with bodies exercising
// unicode, escapes, nesting and numbers.
func sixTypes(prefix string) []router.Message {
	bodies := map[string]string{
		router.TypeIdentify: `{"type":"identify","messageId":"%s","userId":"u1","traits":{"name":"Zoë \"Z\" Ω","email":"z@example.com","tags":["a","b"]},"timestamp":"2024-05-01T12:00:00.000Z"}`,
		router.TypeTrack:    `{"type":"track","messageId":"%s","userId":"u1","event":"Order Completed","properties":{"revenue":12.5,"items":[{"sku":"x","qty":1e3}],"note":"line\nbreak \u00e9 😀"}}`,
		router.TypePage:     `{"type":"page","messageId":"%s","anonymousId":"a1","name":"Home","properties":{"url":"https://example.com/?q=1&r=2"}}`,
		router.TypeScreen:   `{"type":"screen","messageId":"%s","userId":"u1","name":"Settings","properties":{}}`,
		router.TypeGroup:    `{"type":"group","messageId":"%s","userId":"u1","groupId":"g1","traits":{"employees":-0.5,"null":null,"bool":false}}`,
		router.TypeAlias:    `{"type":"alias","messageId":"%s","userId":"u2","previousId":"u1"}`,
	}
	out := make([]router.Message, 0, len(router.Types))
	for _, typ := range router.Types {
		id := prefix + "-" + typ
		out = append(out, router.Message{
			ID: id, Source: "web", Type: typ, UserID: "u1",
			ReceivedAt: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
			Body:       json.RawMessage(strings.Replace(bodies[typ], "%s", id, 1)),
		})
	}
	return out
}

func bodiesOf(msgs []router.Message) [][]byte {
	out := make([][]byte, len(msgs))
	for i, m := range msgs {
		out[i] = m.Body
	}
	return out
}

func TestEveryBuiltinHasHarness(t *testing.T) {
	types := map[string]bool{}
	for _, f := range Builtin() {
		if types[f.Type()] {
			t.Errorf("type %q listed twice in Builtin", f.Type())
		}
		types[f.Type()] = true
		if _, ok := harnesses[f.Type()]; !ok {
			t.Errorf("destination type %q has no conformance harness: add one to harnesses in conformance_test.go", f.Type())
		}
	}
	for typ := range harnesses {
		if !types[typ] {
			t.Errorf("harness %q has no factory in Builtin", typ)
		}
	}
	reg, err := Registry()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(reg.Types()); got != len(Builtin()) {
		t.Fatalf("registry has %d types, Builtin %d", got, len(Builtin()))
	}
}

func TestConformance(t *testing.T) {
	for _, f := range Builtin() {
		h, ok := harnesses[f.Type()]
		if !ok {
			continue // reported by TestEveryBuiltinHasHarness
		}
		t.Run(f.Type(), func(t *testing.T) {
			t.Run("type is the package name", func(t *testing.T) {
				rt := reflect.TypeOf(f)
				for rt.Kind() == reflect.Pointer {
					rt = rt.Elem()
				}
				if pkg := path.Base(rt.PkgPath()); pkg != f.Type() {
					t.Fatalf("Type() = %q, factory defined in package %q", f.Type(), pkg)
				}
				if _, err := os.Stat(filepath.Join(f.Type(), "README.md")); err != nil {
					t.Fatalf("destination has no README.md: %v", err)
				}
			})

			t.Run("has a Segment integration name", func(t *testing.T) {
				n, ok := f.(router.IntegrationNamer)
				if !ok || n.IntegrationName() == "" {
					t.Fatal("factory has no IntegrationName: the integrations object could not address its destinations by type")
				}
			})

			t.Run("default config", func(t *testing.T) {
				a, b := f.DefaultConfig(), f.DefaultConfig()
				for _, c := range []any{a, b} {
					if v := reflect.ValueOf(c); c == nil || v.Kind() != reflect.Pointer || v.IsNil() {
						t.Fatalf("DefaultConfig() = %#v, want a non-nil pointer", c)
					}
				}
				if reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() {
					t.Fatal("DefaultConfig returns the same pointer twice")
				}
				// The loader decodes "type" and the common dispatch keys
				// itself; a type's own key of the same name would be
				// unreachable.
				common := map[string]bool{"type": true}
				for _, k := range yamlKeys(reflect.TypeFor[config.Dispatch]()) {
					common[k] = true
				}
				for _, k := range yamlKeys(reflect.TypeOf(a).Elem()) {
					if common[k] {
						t.Errorf("config key %q clashes with a common destination key", k)
					}
				}
				if _, err := f.New(context.Background(), struct{}{}, router.Settings{Name: "x"}); err == nil {
					t.Fatal("New accepted a config of the wrong type")
				}
			})

			t.Run("bad config rejected with key paths", func(t *testing.T) {
				// A type with a required setting must not validate its bare
				// defaults; a type whose defaults work (the warehouse) has
				// its harness break the config. Each problem must name one
				// of the type's own keys.
				cfg := f.DefaultConfig()
				v, ok := cfg.(router.Validator)
				if !ok {
					t.Fatal("config does not implement router.Validator")
				}
				if h.invalidate != nil {
					h.invalidate(cfg)
				}
				err := v.Validate()
				if err == nil {
					t.Fatal("the bare default config validates, though it lacks a required setting")
				}
				keys := yamlKeys(reflect.TypeOf(f.DefaultConfig()).Elem())
				for _, line := range strings.Split(err.Error(), "\n") {
					named := false
					for _, k := range keys {
						if strings.HasPrefix(line, k+":") || strings.HasPrefix(line, k+"[") || strings.HasPrefix(line, k+".") {
							named = true
						}
					}
					if !named {
						t.Errorf("problem %q does not start with one of the keys %v", line, keys)
					}
				}
			})

			t.Run("delivers every type intact and in order", func(t *testing.T) {
				d, delivered := build(t, f, h)
				ctx := context.Background()
				first, second := sixTypes("a"), sixTypes("b")
				if err := d.Send(ctx, first); err != nil {
					t.Fatalf("Send: %v", err)
				}
				if err := d.Send(ctx, second[:1]); err != nil {
					t.Fatalf("Send of one: %v", err)
				}
				if err := d.Send(ctx, second[1:]); err != nil {
					t.Fatalf("Send of the rest: %v", err)
				}
				want := bodiesOf(append(first, second...))
				got := delivered(t)
				if len(got) != len(want) {
					t.Fatalf("delivered %d messages, want %d", len(got), len(want))
				}
				for i := range want {
					if !bytes.Equal(got[i], want[i]) {
						t.Fatalf("message %d:\n got %s\nwant %s", i, got[i], want[i])
					}
				}
			})

			t.Run("concurrent sends", func(t *testing.T) {
				d, delivered := build(t, f, h)
				var wg sync.WaitGroup
				const workers, rounds = 4, 5
				for w := 0; w < workers; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for r := 0; r < rounds; r++ {
							if err := d.Send(context.Background(), sixTypes(fmt.Sprintf("c%d%d", w, r))); err != nil {
								t.Error(err)
							}
						}
					}()
				}
				wg.Wait()
				if got := len(delivered(t)); got != workers*rounds*6 {
					t.Fatalf("delivered %d messages, want %d", got, workers*rounds*6)
				}
			})

			t.Run("cancelled context", func(t *testing.T) {
				d, _ := build(t, f, h)
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				start := time.Now()
				err := d.Send(ctx, sixTypes("d"))
				if err == nil {
					t.Fatal("Send on a cancelled context returned nil")
				}
				if !errors.Is(err, context.Canceled) {
					t.Errorf("error %v does not wrap context.Canceled", err)
				}
				if el := time.Since(start); el > time.Second {
					t.Fatalf("Send on a cancelled context took %s", el)
				}
			})

			t.Run("close twice", func(t *testing.T) {
				d, _ := build(t, f, h)
				if err := d.Send(context.Background(), sixTypes("e")); err != nil {
					t.Fatal(err)
				}
				if err := d.Close(context.Background()); err != nil {
					t.Fatalf("Close: %v", err)
				}
				if err := d.Close(context.Background()); err != nil {
					t.Fatalf("second Close: %v", err)
				}
			})

			if len(h.failures) == 0 {
				t.Fatal("harness has no failure case: every destination must show how it classifies a failure")
			}
			for _, fc := range h.failures {
				t.Run("failure/"+fc.name, func(t *testing.T) {
					cfg := f.DefaultConfig()
					fc.configure(t, cfg)
					d, err := f.New(context.Background(), cfg, router.Settings{Name: "conformance", DataDir: t.TempDir()})
					if err != nil {
						t.Fatalf("New: %v", err)
					}
					defer d.Close(context.Background())
					err = d.Send(context.Background(), sixTypes("f"))
					kind, delay := router.Classify(err)
					if kind != fc.want || delay != fc.wantDelay {
						t.Fatalf("Send = %v, classified %v %v, want %v %v", err, kind, delay, fc.want, fc.wantDelay)
					}
				})
			}
		})
	}
}

// build makes a working destination of factory f with its harness, closing
// it when the test ends.
func build(t *testing.T, f router.Factory, h harness) (router.Destination, func(*testing.T) [][]byte) {
	t.Helper()
	cfg := f.DefaultConfig()
	delivered := h.configure(t, cfg)
	if v, ok := cfg.(router.Validator); ok {
		if err := v.Validate(); err != nil {
			t.Fatalf("harness config does not validate: %v", err)
		}
	}
	d, err := f.New(context.Background(), cfg, router.Settings{Name: "conformance", DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d, delivered
}

// segmentLog records what the stand-in Segment (eventrouter's own ingest)
// accepted.
type segmentLog struct {
	mu   sync.Mutex
	msgs []router.Message
}

func (l *segmentLog) Append(_ context.Context, m []router.Message) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, m...)
	return 0, nil
}
func (l *segmentLog) Reject(context.Context, []router.Rejected) error    { return nil }
func (l *segmentLog) Seen(context.Context, string, string) (bool, error) { return false, nil }
func (l *segmentLog) Remember(context.Context, string, string) error     { return nil }

// segmentSink serves the Segment Tracking API with eventrouter's ingest
// (write key "wk"), or answers status when it is not 200.
func segmentSink(t *testing.T, status int, header http.Header) (string, *segmentLog) {
	log := &segmentLog{}
	h, err := ingest.New(ingest.Config{
		Sources: []ingest.Source{{Name: "seg", WriteKeys: []string{"wk"}}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status != http.StatusOK {
			for k, v := range header {
				w.Header()[k] = v
			}
			w.WriteHeader(status)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, log
}

// segmentHarness checks, field by field, what the stand-in Segment stored:
// every field of the original except the ones Segment sets itself
// (receivedAt, timestamp, originalTimestamp, sentAt, channel, version),
// empty objects included, and returns the original bodies.
func segmentHarness() harness {
	setURL := func(cfg any, url string) {
		c := cfg.(*segment.Config)
		c.WriteKey, c.Endpoint = "wk", url
	}
	return harness{
		configure: func(t *testing.T, cfg any) func(t *testing.T) [][]byte {
			url, log := segmentSink(t, http.StatusOK, nil)
			setURL(cfg, url)
			return func(t *testing.T) [][]byte {
				log.mu.Lock()
				defer log.mu.Unlock()
				var out [][]byte
				for _, m := range log.msgs {
					prefix, typ, _ := strings.Cut(m.ID, "-") // sixTypes ids are "<prefix>-<type>"
					var orig []byte
					for _, s := range sixTypes(prefix) {
						if s.Type == typ {
							orig = s.Body
						}
					}
					var in, got map[string]any
					_ = json.Unmarshal(orig, &in)
					_ = json.Unmarshal(m.Body, &got)
					for k, want := range in {
						switch k {
						case "receivedAt", "timestamp", "originalTimestamp", "sentAt", "channel", "version":
							continue
						}
						if !reflect.DeepEqual(got[k], want) {
							t.Errorf("message %s: %s = %#v, sent %#v", m.ID, k, got[k], want)
						}
					}
					out = append(out, orig)
				}
				return out
			}
		},
		failures: []failure{
			{
				name: "400 is permanent",
				configure: func(t *testing.T, cfg any) {
					u, _ := segmentSink(t, http.StatusBadRequest, nil)
					setURL(cfg, u)
				},
				want: router.KindPermanent,
			},
			{
				name: "503 with Retry-After is retryable after the delay",
				configure: func(t *testing.T, cfg any) {
					u, _ := segmentSink(t, http.StatusServiceUnavailable, http.Header{"Retry-After": {"3"}})
					setURL(cfg, u)
				},
				want: router.KindRetryable, wantDelay: 3 * time.Second,
			},
			{
				name: "connection refused is retryable",
				configure: func(t *testing.T, cfg any) {
					s := httptest.NewServer(http.NotFoundHandler())
					setURL(cfg, s.URL)
					s.Close()
				},
				want: router.KindRetryable,
			},
		},
	}
}

// customerioHarness runs the destination against the Customer.io fake.
// Every message of sixTypes makes one request, which carries its messageId
// in a header; delivered maps the accepted requests back to the bodies
// sent.
func customerioHarness() harness {
	use := func(cfg any, srv *ciotest.Server) {
		c := cfg.(*customerio.Config)
		c.SiteID, c.APIKey, c.URL = srv.SiteID(), srv.APIKey(), srv.URL()
	}
	return harness{
		configure: func(t *testing.T, cfg any) func(t *testing.T) [][]byte {
			srv := ciotest.New(t)
			use(cfg, srv)
			return func(t *testing.T) [][]byte {
				var out [][]byte
				for _, r := range srv.Requests() {
					prefix, typ, _ := strings.Cut(r.MessageID, "-")
					for _, m := range sixTypes(prefix) {
						if m.Type == typ {
							out = append(out, m.Body)
						}
					}
				}
				return out
			}
		},
		failures: []failure{
			{
				name: "wrong API key is permanent",
				configure: func(t *testing.T, cfg any) {
					use(cfg, ciotest.New(t))
					cfg.(*customerio.Config).APIKey = "wrong"
				},
				want: router.KindPermanent,
			},
			{
				name: "503 with Retry-After is retryable after the delay",
				configure: func(t *testing.T, cfg any) {
					srv := ciotest.New(t)
					srv.FailNext(http.StatusServiceUnavailable, 1)
					srv.SetRetryAfter("3")
					use(cfg, srv)
				},
				want: router.KindRetryable, wantDelay: 3 * time.Second,
			},
			{
				name: "connection refused is retryable",
				configure: func(t *testing.T, cfg any) {
					srv := ciotest.New(t)
					use(cfg, srv)
					srv.Close()
				},
				want: router.KindRetryable,
			},
		},
	}
}
