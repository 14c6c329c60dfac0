package segment

import (
	"errors"
	"fmt"
	"strings"

	"github.com/eventrouter/eventrouter/router"
)

// Type is the source type of the Segment Tracking API: the value of "type"
// in a source block.
const Type = "segment"

// Config is the block of a source of type segment in the config file (the
// yaml tags are its keys). Besides these the block takes the keys of every
// source: type, disabled and enforcement.
type Config struct {
	// WriteKeys are the secrets clients authenticate with (key
	// "write_keys"): at least one, none empty, each unique across all
	// sources.
	WriteKeys []string `yaml:"write_keys"`
	// RateLimit caps how many events per second the source accepts,
	// shared by all of its write keys (key "rate_limit"; default:
	// unlimited). Every message counts, so a batch of 100 items takes 100
	// tokens (at most the burst, so that a batch larger than the bucket
	// still gets through when the bucket is full). A request that finds
	// too few tokens is answered 429 with code "rate_limited" and
	// Retry-After and X-RateLimit-Reset headers giving the seconds to
	// wait; nothing of it is stored, and the official Segment clients keep
	// the events and retry them. Pixel requests are never limited: a pixel
	// cannot retry. Its keys are "events_per_second" (0 to 1e9; default 0,
	// unlimited; fractions allowed) and "burst" (0 to 1e9; default 0, one
	// second's worth: events_per_second rounded up).
	RateLimit router.RateLimit `yaml:"rate_limit"`
}

// DefaultConfig returns the block of a segment source with every default:
// no write keys (they are required) and no rate limit.
func DefaultConfig() *Config { return &Config{} }

// Validate reports every problem of the block at once, joined with
// errors.Join, each naming its key. Whether a key is also another
// source's is the config loader's to check.
func (c *Config) Validate() error {
	var errs []error
	if len(c.WriteKeys) == 0 {
		errs = append(errs, errors.New("write_keys: required: at least one write key"))
	}
	for i, k := range c.WriteKeys {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, fmt.Errorf("write_keys[%d]: required", i))
		}
	}
	if err := c.RateLimit.Validate(); err != nil {
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			errs = append(errs, fmt.Errorf("rate_limit.%w", e))
		}
	}
	return errors.Join(errs...)
}

// SourceWriteKeys returns the write keys.
func (c *Config) SourceWriteKeys() []string { return c.WriteKeys }

// SourceSecrets returns the write keys as secrets.
func (c *Config) SourceSecrets() []router.SourceSecret {
	out := make([]router.SourceSecret, 0, len(c.WriteKeys))
	for i, k := range c.WriteKeys {
		out = append(out, router.SourceSecret{Key: fmt.Sprintf("write_keys[%d]", i), What: "write key", Env: "EVENTROUTER_WRITE_KEY", Value: k})
	}
	return out
}

// NewFactory returns the factory of segment sources.
func NewFactory() router.SourceFactory { return factory{} }

type factory struct{}

func (factory) Type() string       { return Type }
func (factory) DefaultConfig() any { return DefaultConfig() }

// New builds a segment source from a *Config, refusing an invalid one.
func (factory) New(cfg any, set router.SourceSettings) (router.Source, error) {
	c, ok := cfg.(*Config)
	if !ok || c == nil {
		return nil, fmt.Errorf("creating segment source %s: config is %T, want *segment.Config", set.Name, cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("creating segment source %s: %w", set.Name, err)
	}
	return &source{keys: append([]string(nil), c.WriteKeys...), limit: c.RateLimit}, nil
}

// source is a configured segment source.
type source struct {
	keys  []string
	limit router.RateLimit
}

func (s *source) Routes() []router.SourceRoute { return nil }
func (s *source) WriteKeys() []string          { return s.keys }
func (s *source) RateLimit() router.RateLimit  { return s.limit }
