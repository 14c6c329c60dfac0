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

// Factory is a router.Factory for tests. Its config is [*Config]; New
// returns a new [Recorder].
type Factory struct {
	// Name is the type the factory answers to (Type).
	Name string
}

// Type returns f.Name.
func (f *Factory) Type() string { return f.Name }

// DefaultConfig returns a new, empty *Config.
func (f *Factory) DefaultConfig() any { return &Config{} }

// New builds a destination from cfg, which must be a *Config.
func (f *Factory) New(_ context.Context, cfg any, _ router.Settings) (router.Destination, error) {
	if _, ok := cfg.(*Config); !ok {
		return nil, errors.New("creating test destination: config is not a *routertest.Config")
	}
	return NewRecorder(), nil
}
