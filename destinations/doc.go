// Package destinations lists eventrouter's built-in destination types.
//
// [Builtin] is the one explicit list of destination factories: nothing
// registers itself in init(). Each destination lives in its own package
// under destinations/<type> (factory.go, config.go, <type>.go, tests and a
// README.md) and imports only package router. The package's tests run one
// conformance suite over every factory in Builtin, and load every sample
// file in configs/ with the built-in registry.
//
// [AvoidDoubleDelivery] is the one rule that involves two destination
// types (segment and customerio), so it lives here, where both are known,
// rather than in either of them.
package destinations
