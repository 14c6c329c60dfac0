package config

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/dispatch"
	"github.com/eventrouter/eventrouter/router/routertest"
	"github.com/eventrouter/eventrouter/router/sources"
	"github.com/eventrouter/eventrouter/router/sources/segment"
)

// hookConfig is the config of the test "hook" destination type: a required
// URL, a duration, a secret map and a nested struct.
type hookConfig struct {
	URL     string            `yaml:"url"`
	Timeout time.Duration     `yaml:"timeout"`
	Headers map[string]string `yaml:"headers"`
	TLS     struct {
		Insecure bool `yaml:"insecure"`
	} `yaml:"tls"`
}

func (c *hookConfig) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("url: required"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("timeout: must be greater than zero"))
	}
	return errors.Join(errs...)
}

type hookFactory struct{}

func (hookFactory) Type() string       { return "hook" }
func (hookFactory) DefaultConfig() any { return &hookConfig{Timeout: 10 * time.Second} }
func (hookFactory) New(context.Context, any, router.Settings) (router.Destination, error) {
	return routertest.NewRecorder(), nil
}

func testRegistry(t *testing.T) *router.Registry {
	t.Helper()
	reg, err := router.NewRegistry(hookFactory{}, &routertest.Factory{Name: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.AddSources(sources.Builtin()...); err != nil {
		t.Fatal(err)
	}
	return reg
}

// builtinSources is a registry of the built-in source types and no
// destination types.
func builtinSources(t *testing.T) *router.Registry {
	t.Helper()
	reg, err := router.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.AddSources(sources.Builtin()...); err != nil {
		t.Fatal(err)
	}
	return reg
}

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

const minimal = `
sources:
  web: {type: segment, write_keys: [k1]}
`

func TestParseBriefShape(t *testing.T) {
	data := `
http: {listen: 127.0.0.1:8080}
data_dir: ./data
queue: {url: "", partitions: 16, dedupe_window: 24h, retention: 168h}
sources:
  web: {type: segment, write_keys: ["${WEB_WRITE_KEY}"]}
destinations:
  hook: {type: hook, url: "http://127.0.0.1:9999/in", batch_size: 100, max_attempts: 20}
  local: {type: fake, label: ./data/events.ndjson}
`
	cfg, err := parse([]byte(data), testRegistry(t), env(map[string]string{"WEB_WRITE_KEY": "secret-1"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Sources["web"]; got.Name != "web" || got.Type != "segment" || got.Factory == nil || !reflect.DeepEqual(got.Settings.(*segment.Config).WriteKeys, []string{"secret-1"}) {
		t.Fatalf("source = %+v", got)
	}
	hook := cfg.Destinations["hook"]
	if hook.Name != "hook" || hook.Type != "hook" || hook.Factory == nil {
		t.Fatalf("hook = %+v", hook)
	}
	wantDispatch := dispatch.DefaultOptions()
	wantDispatch.MaxAttempts = 20
	wantDispatch.Integration = "hook" // the factory has no integration name
	if !reflect.DeepEqual(hook.Dispatch, wantDispatch) {
		t.Fatalf("dispatch = %+v, want %+v", hook.Dispatch, wantDispatch)
	}
	hc := hook.Settings.(*hookConfig)
	if hc.URL != "http://127.0.0.1:9999/in" || hc.Timeout != 10*time.Second {
		t.Fatalf("hook settings = %+v", hc)
	}
	if l := cfg.Destinations["local"].Settings.(*routertest.Config); l.Label != "./data/events.ndjson" {
		t.Fatalf("local settings = %+v", l)
	}
	if got := cfg.DestinationNames(); !reflect.DeepEqual(got, []string{"hook", "local"}) {
		t.Fatalf("DestinationNames = %v", got)
	}
	if got := cfg.SourceNames(); !reflect.DeepEqual(got, []string{"web"}) {
		t.Fatalf("SourceNames = %v", got)
	}
}

func TestParseDefaults(t *testing.T) {
	cfg, err := parse([]byte(minimal), builtinSources(t), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Sources = cfg.Sources
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
	if cfg.HTTP.MaxHeaderBytes != 16<<10 || cfg.Queue.Partitions != 8 || cfg.Queue.Retention != 168*time.Hour {
		t.Fatalf("defaults wrong: %+v", cfg)
	}
}

func TestParseEveryKey(t *testing.T) {
	data := `
http:
  listen: ":9000"
  admin_listen: "127.0.0.1:9001"
  admin_token: tok
  trusted_proxies: [10.0.0.0/8, 192.168.1.7, "::1"]
  read_timeout: 5s
  write_timeout: 6s
  shutdown_timeout: 1m
  max_header_bytes: 32KiB
  public_url: https://events.example.com/seg
data_dir: /var/lib/er
log: {level: debug, format: text}
queue:
  url: nats://a:4222,nats://b:4222
  stream_prefix: ER_TEST
  partitions: 4
  dedupe_window: 1h
  dedupe_memory: 32MiB
  delivery_dedupe_window: 720h
  retention: 48h
  max_bytes: 10GiB
  sample_max_bytes: 1MiB
  backlog_warning: 0.5
  replicas: 3
  sync_always: true
  sync_interval: 30s
  store_timeout: 2s
  lease_ttl: 3s
auth: {unknown_key: accept}
ingest: {strict_batch_item_size: true, sample_rate: 0.5, sample_burst: 3}
tracking_plan: {path: plans/main, auto_replay: true, drop_blocked_in_browser: false}
sources:
  app: {type: segment, write_keys: [a, b], disabled: true, rate_limit: {events_per_second: 2.5, burst: 40}, enforcement: {track: {violations: block}}}
destinations:
  d1:
    type: hook
    url: http://x/
    timeout: 3s
    headers: {Authorization: "Bearer ${TOKEN}"}
    tls: {insecure: true}
    batch_size: 10
    batch_timeout: 250ms
    flush_interval: 250ms
    max_attempts: 3
    max_age: 1h
    initial_backoff: 1s
    max_backoff: 2s
    rate_limit: 12.5
    ack_wait: 4s
    integration: Webhooks
    types: [identify, track]
    events: ["referral_*", "Order ?ompleted"]
    exclude_events: ["*_test"]
    accept: valid
    disabled: true
`
	cfg, err := parse([]byte(data), testRegistry(t), env(map[string]string{"TOKEN": "t0k"}))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		HTTP: HTTP{
			Listen: ":9000", AdminListen: "127.0.0.1:9001", AdminToken: "tok",
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"), netip.MustParsePrefix("::1/128")},
			ReadTimeout:    5 * time.Second, WriteTimeout: 6 * time.Second, ShutdownTimeout: time.Minute, MaxHeaderBytes: 32 << 10,
			PublicURL: "https://events.example.com/seg",
		},
		DataDir: "/var/lib/er",
		Log:     Logging{Level: "debug", Format: "text"},
		Queue: Queue{URL: "nats://a:4222,nats://b:4222", StreamPrefix: "ER_TEST", Partitions: 4, DedupeWindow: time.Hour, DedupeMemory: 32 << 20, DeliveryDedupeWindow: 720 * time.Hour,
			Retention: 48 * time.Hour, MaxBytes: 10 << 30, SampleMaxBytes: 1 << 20, BacklogWarning: 0.5, Replicas: 3, SyncAlways: true, SyncInterval: 30 * time.Second, StoreTimeout: 2 * time.Second, LeaseTTL: 3 * time.Second},
		Auth:         Auth{UnknownKey: "accept"},
		Ingest:       Ingest{StrictBatchItemSize: true, SampleRate: 0.5, SampleBurst: 3},
		TrackingPlan: TrackingPlan{Path: "plans/main", AutoReplay: true},
		Sources: map[string]Source{"app": {Name: "app", Type: "segment", Disabled: true,
			Settings: &segment.Config{WriteKeys: []string{"a", "b"}, RateLimit: RateLimit{EventsPerSecond: 2.5, Burst: 40}},
			Factory:  segment.NewFactory(), Enforcement: Enforcement{Track: TrackEnforcement{Violations: "block"}}}},
	}
	d1 := cfg.Destinations["d1"]
	cfg.Destinations = nil
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got  %+v\nwant %+v", cfg, want)
	}
	wantDispatch := Dispatch{BatchSize: 10, BatchTimeout: 250 * time.Millisecond, FlushInterval: 250 * time.Millisecond, MaxAttempts: 3, MaxAge: time.Hour,
		InitialBackoff: time.Second, MaxBackoff: 2 * time.Second, RateLimit: 12.5, AckWait: 4 * time.Second, Integration: "Webhooks",
		Types: []string{"identify", "track"}, Events: []string{"referral_*", "Order ?ompleted"}, ExcludeEvents: []string{"*_test"},
		Enabled: false, Accept: "valid", Disabled: true}
	if !reflect.DeepEqual(d1.Dispatch, wantDispatch) {
		t.Fatalf("dispatch = %+v", d1.Dispatch)
	}
	hc := d1.Settings.(*hookConfig)
	if hc.Timeout != 3*time.Second || hc.Headers["Authorization"] != "Bearer t0k" || !hc.TLS.Insecure {
		t.Fatalf("settings = %+v", hc)
	}
}

func TestParseRateLimit(t *testing.T) {
	tests := []struct {
		name  string
		block string // the source's rate_limit value; empty leaves the key out
		want  RateLimit
	}{
		{name: "absent is unlimited", want: RateLimit{}},
		{name: "empty block", block: "{}", want: RateLimit{}},
		{name: "explicit zeros", block: "{events_per_second: 0, burst: 0}", want: RateLimit{}},
		{name: "burst defaults to one second", block: "{events_per_second: 100}", want: RateLimit{EventsPerSecond: 100, Burst: 100}},
		{name: "fractional rate rounds burst up", block: "{events_per_second: 2.5}", want: RateLimit{EventsPerSecond: 2.5, Burst: 3}},
		{name: "slow rate keeps one token", block: "{events_per_second: 0.1}", want: RateLimit{EventsPerSecond: 0.1, Burst: 1}},
		{name: "explicit burst", block: "{events_per_second: 10, burst: 500}", want: RateLimit{EventsPerSecond: 10, Burst: 500}},
		{name: "burst without rate is kept but unused", block: "{burst: 5}", want: RateLimit{Burst: 5}},
		{name: "from the environment", block: "{events_per_second: \"${EPS:-50}\"}", want: RateLimit{EventsPerSecond: 50, Burst: 50}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := "sources:\n  web: {type: segment, write_keys: [k1]"
			if tt.block != "" {
				data += ", rate_limit: " + tt.block
			}
			data += "}\n"
			cfg, err := parse([]byte(data), builtinSources(t), env(nil))
			if err != nil {
				t.Fatal(err)
			}
			rl := cfg.Sources["web"].Settings.(*segment.Config).RateLimit
			// Burst 0 is one second's worth: compare the bucket's size.
			if got := (RateLimit{EventsPerSecond: rl.EventsPerSecond, Burst: rl.EffectiveBurst()}); got != tt.want {
				t.Fatalf("rate_limit = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseEnv(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		env     map[string]string
		check   func(*Config) bool
		problem string // "path: message substring" expected instead
	}{
		{name: "set", yaml: `data_dir: ${DIR}`, env: map[string]string{"DIR": "/d"},
			check: func(c *Config) bool { return c.DataDir == "/d" }},
		{name: "default when unset", yaml: `data_dir: ${DIR:-/fallback}`,
			check: func(c *Config) bool { return c.DataDir == "/fallback" }},
		{name: "default when empty", yaml: `data_dir: ${DIR:-/fallback}`, env: map[string]string{"DIR": ""},
			check: func(c *Config) bool { return c.DataDir == "/fallback" }},
		{name: "set wins over default", yaml: `data_dir: ${DIR:-/fallback}`, env: map[string]string{"DIR": "/set"},
			check: func(c *Config) bool { return c.DataDir == "/set" }},
		{name: "embedded in text", yaml: `data_dir: "/srv/${A}/x-${B:-b}"`, env: map[string]string{"A": "a"},
			check: func(c *Config) bool { return c.DataDir == "/srv/a/x-b" }},
		{name: "number from env", yaml: `queue: {partitions: "${P:-32}", dedupe_window: "${W:-2h}"}`,
			check: func(c *Config) bool { return c.Queue.Partitions == 32 && c.Queue.DedupeWindow == 2*time.Hour }},
		{name: "bool from env", yaml: "queue:\n  sync_always: ${S}", env: map[string]string{"S": "true"},
			check: func(c *Config) bool { return c.Queue.SyncAlways }},
		{name: "escaped dollar", yaml: `data_dir: "/x/$${HOME}"`, env: map[string]string{"HOME": "/root"},
			check: func(c *Config) bool { return c.DataDir == "/x/${HOME}" }},
		{name: "value looking like yaml stays a string", yaml: `data_dir: ${D}`, env: map[string]string{"D": "a: [b, c] # d"},
			check: func(c *Config) bool { return c.DataDir == "a: [b, c] # d" }},
		{name: "comment not expanded", yaml: "data_dir: /d # ${BROKEN",
			check: func(c *Config) bool { return c.DataDir == "/d" }},
		{name: "unset is empty and required", yaml: `data_dir: ${DIR}`,
			problem: "data_dir: required (environment variable DIR is unset or empty)"},
		{name: "unset number", yaml: `queue: {partitions: "${P}"}`, problem: "queue.partitions: must be an integer"},
		{name: "unterminated", yaml: `data_dir: "${DIR"`, problem: `data_dir: unterminated "${"`},
		{name: "bad name", yaml: `data_dir: "${1X}"`, problem: "data_dir: invalid environment reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse([]byte(minimal+tt.yaml), builtinSources(t), env(tt.env))
			if tt.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tt.problem) {
					t.Fatalf("error = %v, want %q", err, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Fatalf("unexpected config %+v", cfg)
			}
		})
	}
}

func TestParseEnvWriteKey(t *testing.T) {
	data := `
sources:
  web: {type: segment, write_keys: ["${WEB_WRITE_KEY}"]}
destinations:
  hook: {type: hook, url: "${HOOK_URL}"}
`
	_, err := parse([]byte(data), testRegistry(t), env(nil))
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("error = %v", err)
	}
	if !cerr.Has("sources.web.write_keys[0]", "WEB_WRITE_KEY is unset") || !cerr.Has("destinations.hook.url", "HOOK_URL is unset") {
		t.Fatalf("problems = %+v", cerr.Problems)
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // "path: message substring", all of which must be reported
	}{
		{name: "empty file", yaml: ``, want: []string{"sources: required"}},
		{name: "yaml syntax", yaml: "http: [", want: []string{"parsing YAML"}},
		{name: "not a mapping", yaml: "- a", want: []string{"the file must be a mapping"}},
		{name: "unknown top-level key", yaml: minimal + "htp: {}\n", want: []string{"htp: unknown key (known keys: http, data_dir"}},
		{name: "unknown nested key", yaml: minimal + "queue: {partitons: 3}\n", want: []string{"queue.partitons: unknown key (known keys: url, listen"}},
		{name: "duplicate key", yaml: minimal + "data_dir: a\ndata_dir: b\n", want: []string{"data_dir: key given more than once"}},
		{name: "wrong types", yaml: minimal + `
http: {listen: [a], read_timeout: 10, max_header_bytes: lots, trusted_proxies: [nope]}
queue: {partitions: many, sync_always: maybe}
log: text
`, want: []string{
			"http.listen: must be a string",
			"http.read_timeout: must be a duration",
			"http.max_header_bytes: must be a size",
			"http.trusted_proxies[0]: must be an IP address or a CIDR range",
			"queue.partitions: must be an integer",
			"queue.sync_always: must be true or false",
			"log: must be a mapping",
		}},
		{name: "batch timeout beyond half the ack wait", yaml: minimal + `
destinations:
  hook: {type: hook, url: "http://x", batch_timeout: 6s, ack_wait: 10s}
`, want: []string{"destinations.hook.batch_timeout: must be at most half of ack_wait (10s)"}},
		{name: "flush_interval contradicts batch_timeout", yaml: minimal + `
destinations:
  hook: {type: hook, url: "http://x", batch_timeout: 2s, flush_interval: 3s}
`, want: []string{"destinations.hook.flush_interval: contradicts batch_timeout: 2s (flush_interval is another name for batch_timeout: set one)"}},
		{name: "flush_interval is checked as batch_timeout", yaml: minimal + `
destinations:
  hook: {type: hook, url: "http://x", flush_interval: 6s, ack_wait: 10s}
`, want: []string{"destinations.hook.batch_timeout: must be at most half of ack_wait (10s)"}},
		{name: "fractions are not integers", yaml: minimal + `
queue: {partitions: 1.5}
`, want: []string{"queue.partitions: must be an integer"}},
		{name: "range checks", yaml: minimal + `
http: {listen: "nohost", read_timeout: 0s, write_timeout: -1s, shutdown_timeout: 0, max_header_bytes: 10, public_url: "events.example.com"}
data_dir: ""
log: {level: verbose, format: xml}
queue: {partitions: 0, dedupe_window: 48h, delivery_dedupe_window: 0s, retention: 24h, max_bytes: 1000, backlog_warning: 1.5, replicas: 2, stream_prefix: "a.b", sync_interval: 0s, store_timeout: 0s}
auth: {unknown_key: ignore}
`, want: []string{
			"http.listen: must be a host:port address",
			"http.read_timeout: must be greater than zero",
			"http.write_timeout: must be greater than zero",
			"http.shutdown_timeout: must be greater than zero",
			"http.max_header_bytes: must be between 1KiB and 1MiB",
			"http.public_url: must start with http:// or https://",
			"data_dir: required",
			"log.level: must be one of debug, info, warn, error",
			"log.format: must be one of json, text",
			"queue.partitions: must be between 1 and 1024",
			"queue.dedupe_window: must not be longer than queue.retention",
			"queue.delivery_dedupe_window: must be greater than zero",
			"queue.max_bytes: must be at least 1MiB",
			"queue.backlog_warning: must be a fraction",
			"queue.replicas: more than 1 needs an external NATS cluster",
			"queue.stream_prefix: must start with a letter",
			"queue.sync_interval: must be greater than zero",
			"queue.store_timeout: must be greater than zero",
			"auth.unknown_key: must be one of reject, accept",
		}},
		{name: "too many partitions", yaml: minimal + "queue: {partitions: 1025}\n", want: []string{"queue.partitions: must be between 1 and 1024"}},
		{name: "external queue", yaml: minimal + "queue: {url: 'http://x:4222,nats://', listen: ':4222', replicas: 9}\n", want: []string{
			"queue.url: server 1 of the list must use the nats",
			"queue.url: server 2 of the list is not a URL",
			"queue.listen: only allowed with the embedded server",
			"queue.replicas: must be between 1 and 5",
		}},
		{name: "sources", yaml: `
sources:
  web: {type: segment, write_keys: [k1, k1, ""]}
  app: {type: segment, write_keys: [k1]}
  Bad.Name: {type: segment, write_keys: [k2]}
  nokeys: {type: segment}
  notype: {write_keys: [k3]}
  other: {type: kafka, write_keys: [k4], secret: x}
  extra: {type: segment, write_keys: [k5], colour: red}
  scalar: 7
`, want: []string{
			"sources.web.write_keys[1]: duplicate write key (listed twice in sources.web)",
			"sources.web.write_keys[2]: required",
			"sources.web.write_keys[0]: duplicate write key (also used by sources.app)",
			"sources.Bad.Name: invalid name",
			"sources.nokeys.write_keys: required: at least one write key",
			"sources.notype.type: required",
			`sources.other.type: unknown source type "kafka" (known types: growsurf, segment, webhook)`,
			"sources.extra.colour: unknown key for source type segment (known keys: type, disabled, enforcement, write_keys, rate_limit)",
			"sources.scalar: must be a mapping",
		}},
		{name: "rate limits", yaml: `
sources:
  neg: {type: segment, write_keys: [k1], rate_limit: {events_per_second: -1, burst: -5}}
  huge: {type: segment, write_keys: [k2], rate_limit: {events_per_second: 2e9, burst: 2000000000}}
  nan: {type: segment, write_keys: [k3], rate_limit: {events_per_second: .nan}}
  typed: {type: segment, write_keys: [k4], rate_limit: {events_per_second: fast, burst: lots}}
  unknown: {type: segment, write_keys: [k5], rate_limit: {per_second: 3}}
  scalar: {type: segment, write_keys: [k6], rate_limit: 100}
`, want: []string{
			"sources.neg.rate_limit.events_per_second: must be between 0 and 1e9",
			"sources.neg.rate_limit.burst: must be between 0 and 1e9",
			"sources.huge.rate_limit.events_per_second: must be between 0 and 1e9",
			"sources.huge.rate_limit.burst: must be between 0 and 1e9",
			"sources.nan.rate_limit.events_per_second: must be between 0 and 1e9",
			"sources.typed.rate_limit.events_per_second: must be a number",
			"sources.typed.rate_limit.burst: must be an integer",
			"sources.unknown.rate_limit.per_second: unknown key (known keys: events_per_second, burst)",
			"sources.scalar.rate_limit: must be a mapping",
		}},
		{name: "destinations", yaml: minimal + `
destinations:
  nourl: {type: hook}
  badtype: {type: kafka, brokers: [a]}
  notype: {url: x}
  unknownkey: {type: hook, url: "http://x", urll: "http://y", batch_size: 0}
  nested: {type: hook, url: "http://x", tls: {insecur: true}}
  dispatch: {type: fake, batch_size: 10001, batch_timeout: 0s, max_attempts: 0, max_age: 0s, initial_backoff: 2s, max_backoff: 1s, rate_limit: -1}
  validated: {type: fake, fail: true}
  typed: {type: hook, url: "http://x", timeout: soon}
  Upper: {type: fake}
`, want: []string{
			"destinations.nourl.url: required",
			`destinations.badtype.type: unknown destination type "kafka" (known types: fake, hook)`,
			"destinations.notype.type: required",
			"destinations.unknownkey.urll: unknown key for destination type hook (known keys: type, batch_size, batch_timeout, flush_interval, max_attempts, max_age, initial_backoff, max_backoff, rate_limit, ack_wait, integration, types, events, exclude_events, enabled, accept, disabled, transform, suppress, url, timeout, headers, tls)",
			"destinations.unknownkey.batch_size: must be between 1 and 10000",
			"destinations.nested.tls.insecur: unknown key (known keys: insecure)",
			"destinations.dispatch.batch_size: must be between 1 and 10000",
			"destinations.dispatch.batch_timeout: must be greater than zero",
			"destinations.dispatch.max_attempts: must be at least 1",
			"destinations.dispatch.max_age: must be greater than zero",
			"destinations.dispatch.max_backoff: must not be shorter than initial_backoff",
			"destinations.dispatch.rate_limit: must not be negative",
			"destinations.validated.fail: must be false",
			"destinations.typed.timeout: must be a duration",
			"destinations.Upper: invalid name",
		}},
		{name: "filters", yaml: minimal + `
destinations:
  types: {type: fake, types: [identify, Track, pageview]}
  notypes: {type: fake, types: []}
  scalartypes: {type: fake, types: track}
  globs: {type: fake, events: ["referral_*", "referral_[", ""], exclude_events: ["ok", 'x\']}
  noevents: {type: fake, events: [], exclude_events: []}
  both: {type: fake, enabled: true, disabled: true}
  bothoff: {type: fake, enabled: false, disabled: false}
  badenabled: {type: fake, enabled: maybe}
`, want: []string{
			`destinations.types.types[1]: unknown message type "Track" (known types: identify, track, page, screen, group, alias)`,
			`destinations.types.types[2]: unknown message type "pageview"`,
			"destinations.notypes.types: must list at least one type",
			"destinations.scalartypes.types: must be a list",
			`destinations.globs.events[1]: bad glob pattern "referral_[": syntax error in pattern`,
			"destinations.globs.events[2]: required",
			`destinations.globs.exclude_events[1]: bad glob pattern "x\\"`,
			"destinations.noevents.events: must list at least one pattern",
			"destinations.both.disabled: contradicts enabled: true",
			"destinations.bothoff.disabled: contradicts enabled: false",
			"destinations.badenabled.enabled: must be",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse([]byte(tt.yaml), testRegistry(t), env(nil))
			if cfg != nil {
				t.Fatal("got a config with an error")
			}
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("error = %v (%T), want *Error", err, err)
			}
			var got []string
			for _, p := range cerr.Problems {
				got = append(got, p.String())
			}
			for _, w := range tt.want {
				found := false
				for _, g := range got {
					if strings.HasPrefix(g, w) {
						found = true
					}
				}
				if !found {
					t.Errorf("missing problem %q", w)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %d problems, want %d", len(got), len(tt.want))
			}
			if t.Failed() {
				t.Logf("all problems:\n%s", strings.Join(got, "\n"))
			}
		})
	}
}

func TestErrorFormatAndLines(t *testing.T) {
	data := "sources:\n  web: {type: segment, write_keys: [k]}\nqueue:\n  partitions: 0\n"
	_, err := parse([]byte(data), builtinSources(t), env(nil))
	var cerr *Error
	if !errors.As(err, &cerr) || len(cerr.Problems) != 1 {
		t.Fatalf("error = %v", err)
	}
	if p := cerr.Problems[0]; p.Path != "queue.partitions" || p.Line != 4 {
		t.Fatalf("problem = %+v", p)
	}
	want := "invalid configuration (1 problem):\n  line 4: queue.partitions: must be between 1 and 1024"
	if err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestSecretsNotInErrors(t *testing.T) {
	const secret = "s3cr3t-VALUE"
	data := `
http: {admin_token: [` + secret + `]}
queue: {url: "nats://user:` + secret + `@"}
sources:
  a: {type: segment, write_keys: ["` + secret + `"]}
  b: {type: segment, write_keys: ["${KEY}"]}
destinations:
  h: {type: hook, url: "` + secret + `", timeout: "` + secret + `", headers: {X: [` + secret + `]}}
`
	_, err := parse([]byte(data), testRegistry(t), env(map[string]string{"KEY": secret}))
	if err == nil {
		t.Fatal("expected problems")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error leaks the secret:\n%v", err)
	}
	if !strings.Contains(err.Error(), "duplicate write key") {
		t.Fatalf("expected duplicate write key problem:\n%v", err)
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	data := minimal + `
x-common: &common {max_attempts: 5, batch_size: 7}
destinations:
  a: {<<: *common, type: fake}
  b: {<<: *common, type: fake, batch_size: 9}
`
	_, err := parse([]byte(data), testRegistry(t), env(nil))
	if err == nil || !strings.Contains(err.Error(), "x-common: unknown key") {
		t.Fatalf("error = %v", err)
	}
	data = minimal + `
destinations:
  a: &a {type: fake, max_attempts: 5, batch_size: 7}
  b: {<<: *a, batch_size: 9}
`
	cfg, err := parse([]byte(data), testRegistry(t), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := cfg.Destinations["a"].Dispatch, cfg.Destinations["b"].Dispatch; a.MaxAttempts != 5 || a.BatchSize != 7 || b.MaxAttempts != 5 || b.BatchSize != 9 {
		t.Fatalf("a = %+v, b = %+v", a, b)
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		err  bool
	}{
		{in: "0", want: 0},
		{in: "1048576", want: 1 << 20},
		{in: "512MiB", want: 512 << 20},
		{in: "10GiB", want: 10 << 30},
		{in: "10 gib", want: 10 << 30},
		{in: "16KiB", want: 16 << 10},
		{in: "2TiB", want: 2 << 40},
		{in: "100MB", want: 100e6},
		{in: "1kb", want: 1000},
		{in: "7B", want: 7},
		{in: "", err: true},
		{in: "MiB", err: true},
		{in: "-1", err: true},
		{in: "1.5GiB", err: true},
		{in: "10XB", err: true},
		{in: "99999999999TiB", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseByteSize(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("ParseByteSize(%q) = %d, %v", tt.in, got, err)
			}
		})
	}
	for b, s := range map[ByteSize]string{16 << 10: "16KiB", 10 << 30: "10GiB", 1000: "1000B", 0: "0B", 3 << 40: "3TiB"} {
		if b.String() != s {
			t.Errorf("%d.String() = %q, want %q", int64(b), b.String(), s)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte(minimal), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(minimal+"queue: {partitions: 0}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(good, builtinSources(t)); err != nil {
		t.Fatal(err)
	}
	_, err := Load(bad, builtinSources(t))
	var cerr *Error
	if !errors.As(err, &cerr) || cerr.File != bad || !strings.Contains(err.Error(), bad) {
		t.Fatalf("Load(bad) = %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml"), builtinSources(t)); err == nil || errors.As(err, &cerr) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load(missing) = %v", err)
	}
	t.Setenv("ER_TEST_KEY", "from-env")
	if err := os.WriteFile(good, []byte("sources:\n  s: {type: segment, write_keys: [\"${ER_TEST_KEY}\"]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(good, builtinSources(t))
	if err != nil || cfg.Sources["s"].Settings.(*segment.Config).WriteKeys[0] != "from-env" {
		t.Fatalf("Load with env = %+v, %v", cfg, err)
	}
}

// namedFactory is a destination type with a Segment-style integration name.
type namedFactory struct{ hookFactory }

func (namedFactory) Type() string            { return "named" }
func (namedFactory) IntegrationName() string { return router.IntegrationCustomerIO }

func TestDestinationIntegrationAndEnabled(t *testing.T) {
	reg, err := router.NewRegistry(namedFactory{}, &routertest.Factory{Name: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.AddSources(sources.Builtin()...); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name            string
		block           string
		wantIntegration string
		wantEnabled     bool
	}{
		{"defaults", `{type: fake}`, "dest", true},
		{"factory's integration name", `{type: named, url: "http://x"}`, "Customer.io", true},
		{"integration overrides the factory's", `{type: named, url: "http://x", integration: Segment}`, "Segment", true},
		{"integration overrides the name", `{type: fake, integration: Warehouses}`, "Warehouses", true},
		{"enabled false", `{type: fake, enabled: false}`, "dest", false},
		{"enabled true", `{type: fake, enabled: true}`, "dest", true},
		{"disabled true", `{type: fake, disabled: true}`, "dest", false},
		{"disabled false", `{type: fake, disabled: false}`, "dest", true},
		{"both agree off", `{type: fake, enabled: false, disabled: true}`, "dest", false},
		{"both agree on", `{type: fake, enabled: true, disabled: false}`, "dest", true},
		{"null disabled leaves enabled", `{type: fake, enabled: false, disabled: null}`, "dest", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse([]byte(minimal+"destinations:\n  dest: "+tt.block+"\n"), reg, env(nil))
			if err != nil {
				t.Fatal(err)
			}
			d := cfg.Destinations["dest"].Dispatch
			if d.Integration != tt.wantIntegration {
				t.Errorf("integration = %q, want %q", d.Integration, tt.wantIntegration)
			}
			if d.Enabled != tt.wantEnabled || d.Disabled != !tt.wantEnabled {
				t.Errorf("enabled, disabled = %t, %t, want %t, %t", d.Enabled, d.Disabled, tt.wantEnabled, !tt.wantEnabled)
			}
		})
	}
}

func TestFlushIntervalIsBatchTimeout(t *testing.T) {
	tests := []struct {
		name string
		keys string
		want time.Duration
	}{
		{"flush_interval alone", "flush_interval: 3s", 3 * time.Second},
		{"batch_timeout alone", "batch_timeout: 2s", 2 * time.Second},
		{"both, equal", "batch_timeout: 4s, flush_interval: 4s", 4 * time.Second},
		{"neither", "", time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := minimal + "\ndestinations:\n  hook: {type: hook, url: \"http://x\", ack_wait: 10s" + map[bool]string{true: "", false: ", " + tt.keys}[tt.keys == ""] + "}\n"
			cfg, err := parse([]byte(data), testRegistry(t), env(nil))
			if err != nil {
				t.Fatal(err)
			}
			d := cfg.Destinations["hook"].Dispatch
			if d.BatchTimeout != tt.want || d.FlushInterval != tt.want {
				t.Errorf("batch_timeout %s, flush_interval %s, want both %s", d.BatchTimeout, d.FlushInterval, tt.want)
			}
		})
	}
}
