package segment

import (
	"context"
	"fmt"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// Type is the destination type name used in the config.
const Type = "segment"

// DefaultEndpoint is the base URL of Segment's Tracking API (its US
// region).
const DefaultEndpoint = "https://api.segment.io"

// IntegrationName is the key of a message's integrations object that
// enables or disables this destination ({"Segment": false} keeps a message
// from being sent to Segment); dispatch applies it.
const IntegrationName = router.IntegrationSegment

type factory struct{}

// NewFactory returns the factory of segment destinations.
func NewFactory() router.Factory { return factory{} }

// Type returns "segment".
func (factory) Type() string { return Type }

// IntegrationName is the key of Segment's integrations object that turns
// this destination type on or off (router.IntegrationNamer).
func (factory) IntegrationName() string { return IntegrationName }

// DefaultConfig returns a *Config with the defaults: endpoint
// https://api.segment.io, timeout 10s, no disabled integrations and no write
// key (which is required).
func (factory) DefaultConfig() any {
	return &Config{Endpoint: DefaultEndpoint, Timeout: 10 * time.Second}
}

// New builds a segment destination from a *Config.
func (factory) New(_ context.Context, cfg any, set router.Settings) (router.Destination, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("creating segment destination %q: config is %T, not *segment.Config", set.Name, cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("creating segment destination %q: %w", set.Name, err)
	}
	return newSegment(*c, set), nil
}
