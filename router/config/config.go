package config

import (
	"net/netip"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/dispatch"
	"github.com/eventrouter/eventrouter/router/eventlog"
)

// Config is a complete, valid eventrouter configuration. [Load] and [Parse]
// return it with every default applied; [Default] returns the defaults alone.
type Config struct {
	// HTTP configures the HTTP server (key "http").
	HTTP HTTP `yaml:"http"`
	// DataDir is the directory for local state: the embedded NATS server's
	// JetStream files and anything a destination keeps (key "data_dir",
	// default "./data", relative to the working directory).
	DataDir string `yaml:"data_dir"`
	// MemoryLimit is the Go runtime's soft memory limit (key
	// "memory_limit", default auto: GOMEMLIMIT when set, else 90% of the
	// cgroup's memory limit less the dedupe index's cache, else 180MiB;
	// see [MemoryLimit]).
	MemoryLimit MemoryLimit `yaml:"memory_limit"`
	// Log configures logging (key "log").
	Log Logging `yaml:"log"`
	// Queue configures the durable log (key "queue").
	Queue Queue `yaml:"queue"`
	// Auth configures write-key checks (key "auth").
	Auth Auth `yaml:"auth"`
	// Ingest configures request handling (key "ingest").
	Ingest Ingest `yaml:"ingest"`
	// TrackingPlan selects the tracking plan enforced at ingest (key
	// "tracking_plan"); without a path no message is validated.
	TrackingPlan TrackingPlan `yaml:"tracking_plan"`
	// Sources are the configured sources by name (key "sources"); at least
	// one is required.
	Sources map[string]Source `yaml:"-"`
	// Destinations are the configured destinations by name (key
	// "destinations"); there may be none.
	Destinations map[string]Destination `yaml:"-"`
}

// HTTP configures the HTTP server that serves the Tracking API, the source
// webhooks, health checks and metrics.
type HTTP struct {
	// Listen is the TCP address to listen on (default "127.0.0.1:8080").
	// While it is not a loopback address, no write key or signing secret
	// may have one of the shipped development values ([DevelopmentValues]).
	Listen string `yaml:"listen"`
	// AdminListen, when set, is a second TCP address that serves the
	// operator's routes: the admin API (/admin/), the debugger
	// (/debugger), /metrics and the profiles (/debug/pprof/), besides
	// /healthz and /readyz. The main listener then answers 404 for them.
	// Default empty: everything on Listen.
	AdminListen string `yaml:"admin_listen"`
	// AdminToken is the bearer token for administrative endpoints (a
	// secret; default empty, which disables them). While the admin routes
	// are served on an address that is not a loopback address it may not
	// be the shipped development value.
	AdminToken string `yaml:"admin_token"`
	// TrustedProxies are the addresses or CIDR ranges of reverse proxies
	// whose X-Forwarded-For header is believed when recording a client's
	// IP (default none: the peer address is used).
	TrustedProxies []netip.Prefix `yaml:"trusted_proxies"`
	// ReadTimeout bounds reading a whole request (default 10s).
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds handling a request and writing its response
	// (default 10s).
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// ShutdownTimeout bounds the graceful shutdown on SIGTERM: finishing
	// requests in flight and draining dispatch (default 30s).
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// MaxHeaderBytes limits the size of request headers (default 16KiB).
	MaxHeaderBytes ByteSize `yaml:"max_header_bytes"`
	// PublicURL is the absolute http or https URL at which browsers reach
	// this server ("https://events.example.com"; a path is allowed): the
	// analytics.js settings it serves tell browsers to send events to its
	// host and path followed by /v1 (key "public_url"). Default empty:
	// taken from each settings request's Host header and TLS state
	// (X-Forwarded-Host and X-Forwarded-Proto from trusted_proxies).
	PublicURL string `yaml:"public_url"`
}

// Logging configures logging to standard error.
type Logging struct {
	// Level is the minimum level logged: debug, info, warn or error
	// (default info).
	Level string `yaml:"level"`
	// Format is json or text (default json).
	Format string `yaml:"format"`
}

// Queue configures the durable log on NATS JetStream (key "queue"): the
// log's own [eventlog.Config], whose defaults and checks are the eventlog
// package's. Its DataDir, Logger and Registerer are not keys of the block;
// the command sets them.
type Queue = eventlog.Config

// Auth configures how write keys are checked.
type Auth struct {
	// UnknownKey decides what happens to a request whose write key belongs
	// to no source: "reject" answers 401 with code "invalid_write_key" (the
	// default); "accept" behaves like Segment, answering 200; the request
	// is not stored (it is unauthenticated) but counted and kept in the
	// sample (see Ingest.SampleRate) with reason "unknown_source".
	UnknownKey string `yaml:"unknown_key"`
}

// Ingest configures request handling.
type Ingest struct {
	// StrictBatchItemSize answers 400 to a whole /v1/batch request when one
	// of its items exceeds the 32 KiB message limit, as Segment documents;
	// when false (the default) only that item is rejected (kept with reason
	// "message_too_large") and the others are accepted.
	StrictBatchItemSize bool `yaml:"strict_batch_item_size"`
	// SampleRate is how many requests without a valid write key (pixels
	// without a key or with a wrong one, unknown keys under
	// auth.unknown_key: accept) per second at most are kept, for debugging,
	// in the sample stream capped by queue.sample_max_bytes; nothing else of
	// them is stored (default 1; 0 keeps none). They are always counted in
	// eventrouter_ingest_unauthenticated_total.
	SampleRate float64 `yaml:"sample_rate"`
	// SampleBurst is how many such requests at most are kept at once
	// (default 10).
	SampleBurst int `yaml:"sample_burst"`
}

// Source is one configured source. Its key under "sources" is its name,
// which matches ^[a-z][a-z0-9_-]*$. The block holds the keys every source
// takes (type, disabled, enforcement) and the keys of its type, which are
// decoded into Settings.
type Source struct {
	// Name is the source's key under "sources".
	Name string `yaml:"-"`
	// Type is the kind of source (key "type", required): the Type of a
	// source factory of the loader's [router.Registry].
	Type string `yaml:"type"`
	// Disabled makes the source answer 403 while keeping it configured
	// (key "disabled", default false).
	Disabled bool `yaml:"disabled"`
	// Enforcement overrides, for this source, the enforcement settings of
	// the tracking plan's plan.yaml (key "enforcement"). Each key left out
	// (or empty) takes plan.yaml's value, and plan.yaml's defaults allow
	// everything and only record violations. It applies only when
	// tracking_plan.path is set and the source is connected to the plan
	// (plan.yaml's sources lists it, or lists none).
	Enforcement Enforcement `yaml:"enforcement"`
	// Settings is the pointer returned by the factory's DefaultConfig,
	// filled from the block's other keys and validated (a
	// *segment.Config, a *growsurf.Config, ...); pass it to Factory.New.
	Settings any `yaml:"-"`
	// Factory is the factory of Type.
	Factory router.SourceFactory `yaml:"-"`
}

// RateLimit is a segment source's limit on the events it accepts
// (router.RateLimit).
type RateLimit = router.RateLimit

// Dispatch holds the keys every destination block accepts besides its own:
// how dispatch batches, paces and retries deliveries to it. It is
// dispatch's own [dispatch.Options], with its defaults
// ([dispatch.DefaultOptions]) and checks. The loader adds what only a file
// has: "flush_interval" and "batch_timeout" name one value, "enabled" and
// "disabled" are each other's inverse (setting both so that they disagree is
// an error), and "integration" defaults to the integration name of the
// destination's type, when its factory implements [router.IntegrationNamer],
// else to the destination's name.
type Dispatch = dispatch.Options

// Destination is one configured destination. Its key under "destinations"
// is its name, which matches ^[a-z][a-z0-9_-]*$ (it names the destination's
// NATS consumer).
type Destination struct {
	// Name is the destination's key under "destinations".
	Name string
	// Type is the destination type (key "type", required), the Type of a
	// factory in the registry given to the loader.
	Type string
	// Dispatch holds the common dispatch keys.
	Dispatch Dispatch
	// Settings is the pointer returned by the factory's DefaultConfig,
	// filled from the block's other keys and validated; pass it to
	// Factory.New.
	Settings any
	// Factory is the registry's factory for Type.
	Factory router.Factory
}

// Default returns the configuration with every default and no sources or
// destinations.
func Default() *Config {
	return &Config{
		HTTP: HTTP{
			Listen:          "127.0.0.1:8080",
			ReadTimeout:     10 * time.Second,
			WriteTimeout:    10 * time.Second,
			ShutdownTimeout: 30 * time.Second,
			MaxHeaderBytes:  16 << 10,
		},
		DataDir:      "./data",
		Log:          Logging{Level: "info", Format: "json"},
		Queue:        eventlog.DefaultConfig(),
		Auth:         Auth{UnknownKey: "reject"},
		TrackingPlan: TrackingPlan{DropBlockedInBrowser: true},
		Ingest:       Ingest{SampleRate: 1, SampleBurst: 10},
		Sources:      map[string]Source{},
		Destinations: map[string]Destination{},
	}
}

// SourceNames returns the names of the sources, sorted.
func (c *Config) SourceNames() []string { return sortedKeys(c.Sources) }

// DestinationNames returns the names of the destinations, sorted.
func (c *Config) DestinationNames() []string { return sortedKeys(c.Destinations) }
