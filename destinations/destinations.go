package destinations

import (
	"github.com/eventrouter/eventrouter/destinations/customerio"
	"github.com/eventrouter/eventrouter/destinations/file"
	"github.com/eventrouter/eventrouter/destinations/segment"
	"github.com/eventrouter/eventrouter/destinations/warehouse"
	"github.com/eventrouter/eventrouter/destinations/webhook"
	"github.com/eventrouter/eventrouter/router"
)

// Builtin returns the factory of every built-in destination type, in a
// fixed order. A new destination joins by being added here (and to the
// conformance suite's harnesses, which the suite enforces).
func Builtin() []router.Factory {
	return []router.Factory{
		customerio.NewFactory(),
		file.NewFactory(),
		segment.NewFactory(),
		webhook.NewFactory(),
		warehouse.NewFactory(),
	}
}

// Registry returns a registry of the built-in destination types.
func Registry() (*router.Registry, error) {
	return router.NewRegistry(Builtin()...)
}
