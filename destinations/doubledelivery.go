package destinations

import (
	"github.com/eventrouter/eventrouter/destinations/customerio"
	"github.com/eventrouter/eventrouter/destinations/segment"
)

// Configured is one configured destination as [AvoidDoubleDelivery] sees
// it: its settings (the struct its factory's DefaultConfig returned, as
// the config loader filled it) and whether it is disabled.
type Configured struct {
	Settings any
	Disabled bool
}

// AvoidDoubleDelivery makes every segment destination among dests whose
// disable_integrations is not set turn Customer.io off in what it forwards,
// when an enabled customerio destination is among dests too: else Segment,
// if its own Customer.io destination is on, would deliver every message to
// Customer.io a second time. An explicit disable_integrations, even an
// empty list, is left as it is. It changes the segment settings in place,
// before the destinations are built.
func AvoidDoubleDelivery(dests []Configured) {
	direct := false
	for _, d := range dests {
		if _, ok := d.Settings.(*customerio.Config); ok && !d.Disabled {
			direct = true
		}
	}
	if !direct {
		return
	}
	for _, d := range dests {
		if sc, ok := d.Settings.(*segment.Config); ok && sc.DisableIntegrations == nil {
			sc.DisableIntegrations = []string{customerio.IntegrationName}
		}
	}
}
