package dispatch

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/dispatch/transform"
)

// Options configure how one destination is fed. They are the keys every
// destination block of the config file accepts besides its own (the yaml
// tags are the keys): [DefaultOptions] holds their defaults and
// [Options.Validate] reports what is wrong, each problem naming its key.
// For callers that build Options in code, the zero value of a field selects
// its default too ([New] fills them in).
type Options struct {
	// BatchSize is the largest batch passed to Send, 1 to 10000 (key
	// "batch_size", default 100).
	BatchSize int `yaml:"batch_size"`
	// BatchTimeout is how long a partition waits for a batch to fill before
	// sending what it has (key "batch_timeout", default 1s); at most half
	// of AckWait.
	BatchTimeout time.Duration `yaml:"batch_timeout"`
	// FlushInterval is another name for BatchTimeout, the one warehouse
	// loaders use (key "flush_interval"): a batch is flushed (loaded) at the
	// latest this long after its first message. A config file sets one of
	// the two, and the loader makes both hold its value; dispatch reads
	// only BatchTimeout.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// MaxAttempts is how many failed attempts a message gets before it is
	// dead-lettered (key "max_attempts", default 10, at least 1).
	MaxAttempts int `yaml:"max_attempts"`
	// MaxAge dead-letters a message that fails when it was received longer
	// ago than this (key "max_age", default 24h).
	MaxAge time.Duration `yaml:"max_age"`
	// InitialBackoff is the delay before the first retry; it doubles with
	// each attempt, with equal jitter (half fixed, half random; key
	// "initial_backoff", default 500ms).
	InitialBackoff time.Duration `yaml:"initial_backoff"`
	// MaxBackoff caps the backoff (key "max_backoff", default 60s); not
	// shorter than InitialBackoff.
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// MaxRetryAfter caps a delay that the destination asked for
	// (router.RetryAfter). Default 10m; not a key of the config file.
	MaxRetryAfter time.Duration `yaml:"-"`
	// RateLimit is the most messages per second sent to the destination,
	// shared by all its partitions (key "rate_limit", default 0: no limit).
	RateLimit float64 `yaml:"rate_limit"`
	// SendTimeout bounds one Send call. Default 30s; not a key of the
	// config file.
	SendTimeout time.Duration `yaml:"-"`
	// AckWait is how long the log waits for a fetched batch to be
	// acknowledged before it hands it out again (key "ack_wait", default
	// 10s, at least 1s); dispatch keeps a batch it is still working on
	// alive every AckWait/3. A takeover does not wait for it: the process
	// that takes a dead one's partition rewinds the cursor and gets the
	// in-flight batch again at once.
	AckWait time.Duration `yaml:"ack_wait"`
	// DrainTimeout bounds how long Run, once its context is cancelled, waits
	// for Send calls in flight. Default 10s; not a key of the config file.
	DrainTimeout time.Duration `yaml:"-"`
	// FromStart makes a destination that has never run start with the
	// oldest message the log retains. By default a new destination receives
	// the messages accepted from its first start on, like a Segment
	// destination added later; a destination that ran before always resumes
	// where it stopped. Not a key of the config file.
	FromStart bool `yaml:"-"`
	// Integration is the destination's name in a message's integrations
	// object (key "integration"), for example "Customer.io"; messages that
	// disable it ({"All": false, "<integration>": true} rules) are
	// acknowledged without being sent. Default: the route's name (the
	// config loader defaults it to the integration name of the
	// destination's type, when its factory implements
	// router.IntegrationNamer). The name router.IntegrationWarehouses
	// selects Segment's warehouse rule (router.WarehouseEnabled), with the
	// route's name as the warehouse id.
	Integration string `yaml:"integration"`
	// Types, when set, are the only message types sent (each one of
	// router.Types; key "types"); messages of other types are acknowledged
	// without being sent. Default: unset, all six. An empty list that is
	// not nil is an error.
	Types []string `yaml:"types"`
	// Events, when set, are glob patterns (path.Match syntax: *, ?, [...]
	// and \ escapes; * does not match '/'), case-sensitive, of which a
	// track message's event name must match one to be sent (key "events").
	// They apply to track messages only: other types are not affected (use
	// Types to exclude them). Default: unset, every event. An empty list
	// that is not nil is an error.
	Events []string `yaml:"events"`
	// ExcludeEvents are glob patterns like Events: a track message whose
	// event name matches one is not sent, even when it matches Events (key
	// "exclude_events", default none).
	ExcludeEvents []string `yaml:"exclude_events"`
	// Enabled is the config file's positive form of Disabled (key
	// "enabled", default true): the loader keeps Enabled == !Disabled.
	// Dispatch reads only Disabled, so that the zero value delivers.
	Enabled bool `yaml:"enabled"`
	// Accept is AcceptAll (key "accept", the default; empty means it too
	// in code) to deliver every message, or AcceptValid to skip the
	// messages that carry tracking-plan violations
	// (router.Message.Violations > 0), so that for example the warehouse
	// keeps everything while Customer.io gets only clean events. Skipped
	// messages are counted as filtered with reason "violations".
	Accept string `yaml:"accept"`
	// Disabled stops deliveries to the destination (key "disabled", the
	// older, inverted form of "enabled"; default false): New still creates
	// its cursors, so that the messages accepted from then on wait in the
	// log (up to its retention) until the destination is enabled again,
	// and its pending gauge is reported, but Run sends nothing and takes
	// no lease. Destination may be nil for a disabled route.
	Disabled bool `yaml:"disabled"`
	// Transform is the list of rules that reshape each message for this
	// destination only, after the filters and on a copy (key "transform",
	// default none; see transform.go and the transform package).
	Transform []transform.Rule `yaml:"transform"`
	// Suppress, when set, skips a message whose key was delivered to this
	// destination within a window (key "suppress", default none; see
	// transform.go).
	Suppress *transform.Suppress `yaml:"suppress"`
}

// Defaults of Options.
const (
	DefaultBatchSize      = 100
	DefaultBatchTimeout   = time.Second
	DefaultMaxAttempts    = 10
	DefaultMaxAge         = 24 * time.Hour
	DefaultInitialBackoff = 500 * time.Millisecond
	DefaultMaxBackoff     = 60 * time.Second
	DefaultMaxRetryAfter  = 10 * time.Minute
	DefaultSendTimeout    = 30 * time.Second
	DefaultAckWait        = 10 * time.Second
	DefaultDrainTimeout   = 10 * time.Second
)

// DefaultOptions returns the defaults of the keys of a destination block:
// every field with a key holds its default, except Integration, whose
// default depends on the destination. The fields that are not keys
// (MaxRetryAfter, SendTimeout, DrainTimeout, FromStart) are left zero,
// which selects their defaults.
func DefaultOptions() Options {
	return Options{
		BatchSize:      DefaultBatchSize,
		BatchTimeout:   DefaultBatchTimeout,
		FlushInterval:  DefaultBatchTimeout,
		MaxAttempts:    DefaultMaxAttempts,
		MaxAge:         DefaultMaxAge,
		InitialBackoff: DefaultInitialBackoff,
		MaxBackoff:     DefaultMaxBackoff,
		AckWait:        DefaultAckWait,
		Accept:         AcceptAll,
		Enabled:        true,
	}
}

func (o Options) withDefaults(name string) (Options, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	def(&o.BatchTimeout, DefaultBatchTimeout)
	def(&o.MaxAge, DefaultMaxAge)
	def(&o.InitialBackoff, DefaultInitialBackoff)
	def(&o.MaxBackoff, DefaultMaxBackoff)
	def(&o.MaxRetryAfter, DefaultMaxRetryAfter)
	def(&o.SendTimeout, DefaultSendTimeout)
	def(&o.AckWait, DefaultAckWait)
	def(&o.DrainTimeout, DefaultDrainTimeout)
	if o.Integration == "" {
		o.Integration = name
	}
	if o.Accept == "" {
		o.Accept = AcceptAll
	}
	return o, o.Validate()
}

// Validate reports every problem of the options at once, joined with
// errors.Join, each naming its key ("batch_size: must be between 1 and
// 10000"). Zero durations are problems here: fill in defaults first.
func (o Options) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			add(key, "must be greater than zero")
		}
	}
	if o.BatchSize < 1 || o.BatchSize > 10000 {
		add("batch_size", "must be between 1 and 10000")
	}
	positive("batch_timeout", o.BatchTimeout)
	if o.MaxAttempts < 1 {
		add("max_attempts", "must be at least 1")
	}
	positive("max_age", o.MaxAge)
	positive("initial_backoff", o.InitialBackoff)
	positive("max_backoff", o.MaxBackoff)
	if o.InitialBackoff > 0 && o.MaxBackoff > 0 && o.MaxBackoff < o.InitialBackoff {
		add("max_backoff", "must not be shorter than initial_backoff")
	}
	if math.IsNaN(o.RateLimit) || math.IsInf(o.RateLimit, 0) || o.RateLimit < 0 {
		add("rate_limit", "must not be negative (0 is unlimited)")
	}
	if o.AckWait < time.Second {
		add("ack_wait", "must be at least 1s")
	} else if o.BatchTimeout*2 > o.AckWait {
		// A batch fills for up to BatchTimeout before it is kept alive, so
		// the log must not hand its first messages out again meanwhile.
		add("batch_timeout", "must be at most half of ack_wait (%s), or a filling batch is handed out again", o.AckWait)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"max_retry_after", o.MaxRetryAfter}, {"send_timeout", o.SendTimeout}, {"drain_timeout", o.DrainTimeout}} {
		if d.v < 0 {
			add(d.key, "must not be negative")
		}
	}
	if o.Types != nil && len(o.Types) == 0 {
		add("types", "must list at least one type (leave the key out for all six)")
	}
	for i, t := range o.Types {
		if !router.IsType(t) {
			add(fmt.Sprintf("types[%d]", i), "unknown message type %q (known types: %s)", t, strings.Join(router.Types, ", "))
		}
	}
	if o.Events != nil && len(o.Events) == 0 {
		add("events", "must list at least one pattern (leave the key out for every event)")
	}
	for _, l := range []struct {
		key      string
		patterns []string
	}{{"events", o.Events}, {"exclude_events", o.ExcludeEvents}} {
		for i, p := range l.patterns {
			key := fmt.Sprintf("%s[%d]", l.key, i)
			if p == "" {
				add(key, "required")
			} else if err := checkGlob(p); err != nil {
				add(key, "%v (syntax of Go's path.Match: *, ?, [a-z], \\ escapes)", err)
			}
		}
	}
	switch o.Accept {
	case AcceptValid, AcceptAll:
	default:
		add("accept", "must be one of %s, %s", AcceptValid, AcceptAll)
	}
	if _, err := transform.Compile(o.Transform); err != nil {
		errs = append(errs, err)
	}
	if _, err := transform.CompileSuppress(o.Suppress); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Route is one destination to feed from the log.
type Route struct {
	// Name is the destination's name in the config; it names its cursors,
	// leases, dead letters and metrics. Names are unique.
	Name string
	// Destination receives the batches; it may be nil when
	// Options.Disabled is set.
	Destination router.Destination
	// Options configure batching, retries and limits.
	Options Options
}
