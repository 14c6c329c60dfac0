package customerio

import (
	"context"
	"fmt"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// Type is the destination type name used in the config.
const Type = "customerio"

// IntegrationName is the key of this destination type in a Segment
// message's integrations object, as Segment names
// its Customer.io destination.
const IntegrationName = router.IntegrationCustomerIO

type factory struct{}

// NewFactory returns the factory of Customer.io destinations.
func NewFactory() router.Factory { return factory{} }

// Type returns "customerio".
func (factory) Type() string { return Type }

// IntegrationName returns "Customer.io", the key of Segment's integrations
// object that turns this destination type on or off
// (router.IntegrationNamer).
func (factory) IntegrationName() string { return IntegrationName }

// DefaultConfig returns a *Config with the defaults: region us, identifier
// id, concurrency 4, group attributes with prefix "group_", timeout 10s,
// no self-check. site_id and api_key have no default.
func (factory) DefaultConfig() any {
	return &Config{
		Region:      RegionUS,
		Identifier:  IdentifierID,
		Concurrency: 4,
		Group:       GroupAttributes,
		GroupPrefix: "group_",
		Timeout:     10 * time.Second,
	}
}

// New builds a Customer.io destination from a *Config. With self_check on,
// it first asks Customer.io which region the credentials belong to and
// fails when the credentials are refused or the region differs.
func (factory) New(ctx context.Context, cfg any, set router.Settings) (router.Destination, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("creating customerio destination %q: config is %T, not *customerio.Config", set.Name, cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("creating customerio destination %q: %w", set.Name, err)
	}
	d := newDestination(*c, set)
	if c.SelfCheck {
		if err := d.selfCheck(ctx); err != nil {
			d.closeIdle()
			return nil, fmt.Errorf("creating customerio destination %q: %w", set.Name, err)
		}
	}
	return d, nil
}
