package file

import (
	"context"
	"fmt"

	"github.com/eventrouter/eventrouter/router"
)

// Type is the destination type name used in the config.
const Type = "file"

type factory struct{}

// NewFactory returns the factory of file destinations.
func NewFactory() router.Factory { return factory{} }

// Type returns "file".
func (factory) Type() string { return Type }

// IntegrationName is the key of Segment's integrations object that turns
// this destination type on or off (router.IntegrationNamer).
func (factory) IntegrationName() string { return router.IntegrationFile }

// DefaultConfig returns a *Config with the defaults: no path (it is
// required) and sync off.
func (factory) DefaultConfig() any { return &Config{} }

// New opens (creating if needed) the file of a *Config for appending.
func (factory) New(_ context.Context, cfg any, set router.Settings) (router.Destination, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("creating file destination %q: config is %T, not *file.Config", set.Name, cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("creating file destination %q: %w", set.Name, err)
	}
	d, err := open(*c, set.Name)
	if err != nil {
		return nil, fmt.Errorf("creating file destination %q: %w", set.Name, err)
	}
	return d, nil
}
