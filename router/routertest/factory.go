package routertest

import (
	"context"
	"errors"

	"github.com/eventrouter/eventrouter/router"
)

// Config is the config struct of a [Factory]: it accepts one optional key,
// so that tests can check strict decoding of destination blocks.
type Config struct {
	// Label is free text (key "label", default empty).
	Label string `yaml:"label"`
	// Fail, when true, makes Validate report "fail: must be false" so that
	// tests can exercise validation problems.
	Fail bool `yaml:"fail"`
}

// Validate reports "fail: must be false" when Fail is set.
func (c *Config) Validate() error {
	if c.Fail {
		return errors.New("fail: must be false")
	}
	return nil
}

// Factory is a router.Factory for tests. Its config is [*Config]; New calls
// Build, or returns a new [Recorder] when Build is nil.
type Factory struct {
	// Name is the type the factory answers to (Type).
	Name string
	// Build, if set, builds each destination.
	Build func(ctx context.Context, cfg *Config, set router.Settings) (router.Destination, error)
}

// Type returns f.Name.
func (f *Factory) Type() string { return f.Name }

// DefaultConfig returns a new, empty *Config.
func (f *Factory) DefaultConfig() any { return &Config{} }

// New builds a destination from cfg, which must be a *Config.
func (f *Factory) New(ctx context.Context, cfg any, set router.Settings) (router.Destination, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, errors.New("creating test destination: config is not a *routertest.Config")
	}
	if f.Build == nil {
		return NewRecorder(), nil
	}
	return f.Build(ctx, c, set)
}
