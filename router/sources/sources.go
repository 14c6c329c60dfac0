// Package sources lists the built-in source types. Each lives in a package
// of its own under router/sources and is reached through its
// router.SourceFactory: a type name, a config struct with its defaults and
// checks, and New, which builds the router.Source that ingest hosts (the
// webhook routes it mounts, and for a Tracking API source its write keys).
// [Builtin] is the one explicit list, as destinations.Builtin is for
// destinations; nothing registers itself. A new source type is a package
// with NewFactory and one line here; the conformance suite of this
// package then runs over it.
package sources

import (
	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/sources/growsurf"
	"github.com/eventrouter/eventrouter/router/sources/segment"
	"github.com/eventrouter/eventrouter/router/sources/webhook"
)

// Builtin returns the factory of every built-in source type, in a fixed
// order.
func Builtin() []router.SourceFactory {
	return []router.SourceFactory{
		growsurf.NewFactory(),
		segment.NewFactory(),
		webhook.NewFactory(),
	}
}
