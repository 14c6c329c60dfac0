package dispatch

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// Options configure how one destination is fed. The zero value of a field
// selects its default.
type Options struct {
	// BatchSize is the largest batch passed to Send. Default 100.
	BatchSize int
	// BatchTimeout is how long a partition waits for a batch to fill before
	// sending what it has. Default 1s.
	BatchTimeout time.Duration
	// MaxAttempts is how many failed attempts a message gets before it is
	// dead-lettered. Default 10.
	MaxAttempts int
	// MaxAge dead-letters a message that fails when it was received longer
	// ago than this. Default 24h.
	MaxAge time.Duration
	// InitialBackoff is the delay before the first retry; it doubles with
	// each attempt, with equal jitter (half fixed, half random). Default
	// 500ms.
	InitialBackoff time.Duration
	// MaxBackoff caps the backoff. Default 60s.
	MaxBackoff time.Duration
	// MaxRetryAfter caps a delay that the destination asked for
	// (router.RetryAfter). Default 10m.
	MaxRetryAfter time.Duration
	// RateLimit is the most messages per second sent to the destination,
	// shared by all its partitions. 0 (the default) means no limit.
	RateLimit float64
	// SendTimeout bounds one Send call. Default 30s.
	SendTimeout time.Duration
	// AckWait is how long the log waits for a fetched batch to be
	// acknowledged before it hands it out again; dispatch keeps a batch it is
	// still working on alive every AckWait/3. A takeover does not wait for
	// it: the process that takes a dead one's partition rewinds the cursor
	// and gets the in-flight batch again at once. Default 10s.
	AckWait time.Duration
	// DrainTimeout bounds how long Run, once its context is cancelled, waits
	// for Send calls in flight. Default 10s.
	DrainTimeout time.Duration
	// FromStart makes a destination that has never run start with the
	// oldest message the log retains. By default a new destination receives
	// the messages accepted from its first start on, like a Segment
	// destination added later; a destination that ran before always resumes
	// where it stopped.
	FromStart bool
	// Integration is the destination's name in a message's integrations
	// object, for example "Customer.io"; messages that disable
	// it are acknowledged without being sent. Default: the route's name.
	// The name router.IntegrationWarehouses selects Segment's warehouse
	// rule (router.WarehouseEnabled), with the route's name as the
	// warehouse id.
	Integration string
	// Types, when not empty, are the only message types sent (each one of
	// router.Types); messages of other types are acknowledged without
	// being sent. Default: all six.
	Types []string
	// Events, when not empty, are glob patterns (path.Match syntax: *, ?,
	// [...] and \ escapes; * does not match '/') of which a track
	// message's event name must match one to be sent. They apply to track
	// messages only: other types are not affected (use Types to exclude
	// them). Default: every event.
	Events []string
	// ExcludeEvents are glob patterns like Events: a track message whose
	// event name matches one is not sent, even when it matches Events.
	ExcludeEvents []string
	// Accept is AcceptAll (the default when empty) to deliver every
	// message, or AcceptValid to skip the messages that carry
	// tracking-plan violations (router.Message.Violations > 0), so that
	// for example the warehouse keeps everything while Customer.io gets
	// only clean events. Skipped messages are counted as filtered with
	// reason "violations".
	Accept string
	// Disabled stops deliveries to the destination: New still creates its
	// cursors, so that the messages accepted from then on wait in the log
	// (up to its retention) until the destination is enabled again, and
	// its pending gauge is reported, but Run sends nothing and takes no
	// lease. Destination may be nil for a disabled route.
	Disabled bool
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
	var errs []error
	if o.BatchSize < 1 || o.BatchSize > 10000 {
		errs = append(errs, fmt.Errorf("batch_size: %d is not in [1, 10000]", o.BatchSize))
	}
	if o.BatchTimeout*2 > o.AckWait {
		// A batch fills for up to BatchTimeout before it is kept alive, so
		// the log must not hand its first messages out again meanwhile.
		errs = append(errs, fmt.Errorf("batch_timeout: %s is more than half of ack_wait %s", o.BatchTimeout, o.AckWait))
	}
	if o.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("max_attempts: %d is less than 1", o.MaxAttempts))
	}
	if o.RateLimit < 0 {
		errs = append(errs, fmt.Errorf("rate_limit: %g is negative", o.RateLimit))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"batch_timeout", o.BatchTimeout}, {"max_age", o.MaxAge}, {"initial_backoff", o.InitialBackoff},
		{"max_backoff", o.MaxBackoff}, {"max_retry_after", o.MaxRetryAfter}, {"send_timeout", o.SendTimeout},
		{"ack_wait", o.AckWait}, {"drain_timeout", o.DrainTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %s is negative", d.key, d.v))
		}
	}
	if o.MaxBackoff < o.InitialBackoff {
		errs = append(errs, fmt.Errorf("max_backoff: %s is less than initial_backoff %s", o.MaxBackoff, o.InitialBackoff))
	}
	if o.AckWait < time.Second {
		errs = append(errs, fmt.Errorf("ack_wait: %s is less than 1s", o.AckWait))
	}
	switch o.Accept {
	case "":
		o.Accept = AcceptAll
	case AcceptAll, AcceptValid:
	default:
		errs = append(errs, fmt.Errorf("accept: %q is neither %q nor %q", o.Accept, AcceptValid, AcceptAll))
	}
	for i, t := range o.Types {
		if !router.IsType(t) {
			errs = append(errs, fmt.Errorf("types[%d]: unknown message type %q (known types: %s)", i, t, strings.Join(router.Types, ", ")))
		}
	}
	for _, l := range []struct {
		key      string
		patterns []string
	}{{"events", o.Events}, {"exclude_events", o.ExcludeEvents}} {
		for i, p := range l.patterns {
			if err := checkGlob(p); err != nil {
				errs = append(errs, fmt.Errorf("%s[%d]: %w", l.key, i, err))
			}
		}
	}
	return o, errors.Join(errs...)
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
