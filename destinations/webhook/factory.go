package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// Type is the destination type name used in the config.
const Type = "webhook"

type factory struct{}

// NewFactory returns the factory of webhook destinations.
func NewFactory() router.Factory { return factory{} }

// Type returns "webhook".
func (factory) Type() string { return Type }

// IntegrationName is the key of Segment's integrations object that turns
// this destination type on or off (router.IntegrationNamer).
func (factory) IntegrationName() string { return router.IntegrationWebhooks }

// DefaultConfig returns a *Config with the defaults: method POST, timeout
// 10s, no headers, no gzip.
func (factory) DefaultConfig() any {
	return &Config{Method: "POST", Timeout: 10 * time.Second}
}

// New builds a webhook destination from a *Config.
func (factory) New(_ context.Context, cfg any, set router.Settings) (router.Destination, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("creating webhook destination %q: config is %T, not *webhook.Config", set.Name, cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("creating webhook destination %q: %w", set.Name, err)
	}
	return newWebhook(*c, set.Name), nil
}
