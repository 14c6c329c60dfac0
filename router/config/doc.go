// Package config loads eventrouter's YAML configuration file.
//
// Loading is strict and complete: [Load] and [Parse] expand ${ENV} references
// in values, decode the file with unknown keys rejected (also inside each
// source and destination block), apply defaults, and check every value. All
// problems are reported at once in one [*Error], each with its key path, for
// example
//
//	destinations.hook.url: required
//	queue.partitions: must be between 1 and 1024
//	sources.web.write_keys[0]: duplicate write key (also used by sources.app)
//
// so that nothing starts until the whole file is valid. Every problem also
// carries the line of its key in the file ([Problem].Line; for a key left
// out, the line of the nearest enclosing key), and [Error] writes each as
// "file:line: path: message", as compilers do.
//
// A component's Validate (a source's or destination's config, dispatch's
// Options, ...) reports its problems joined with errors.Join, each naming
// its key path relative to its block: a *router.KeyError{Path, Msg}, or a
// plain error "path: message" whose keys are letters, digits, '_' and '-'
// ("rules[0].emit[1].properties.amount: unknown name bdy"). The loader
// prefixes the block's path and finds the line of every key path in the
// file, at any depth, with nothing else for the component to do.
//
// # Environment variables
//
// Every scalar value (never a key, never a comment) may reference environment
// variables: ${NAME} expands to the variable's value, or to the empty string
// when it is unset; ${NAME:-default} expands to default when the variable is
// unset or empty. $${ is a literal "${". A reference that expands to nothing
// makes the value an empty string, so a required field reports "required"
// (naming the variable) and a number or duration reports that it is not one.
// Secrets such as write keys, tokens and header values should come from the
// environment; they never appear in error messages.
//
// # Values
//
// Durations are Go duration strings ("500ms", "24h"). Sizes ([ByteSize]) are
// an integer number of bytes or an integer with a unit: B, KB, MB, GB, TB
// (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), as in "512MiB".
//
// memory_limit ([MemoryLimit]) is "auto" (the default), "off" (or 0) or a
// size of at least 32MiB; the command turns auto into GOMEMLIMIT, a share
// of the cgroup's limit or a default.
//
// # Components own their config
//
// The blocks of the file are the config structs of the parts that use
// them, as the OpenTelemetry Collector's factories own theirs: "queue" is
// eventlog.Config, the dispatch keys of a destination block are
// dispatch.Options, a source's "enforcement" is schemas.Enforcement, and a
// source's or destination's own keys are its type's config struct. Each
// writes its defaults (DefaultConfig, DefaultOptions, ...) and its Validate
// once, where it is used; this package composes them: it starts from their
// defaults, decodes strictly into them, reports their Validate's problems
// under their key paths ("queue.partitions: must be between 1 and 1024"),
// and adds what only the whole file can check (names, write keys and paths
// shared by two sources, development secrets on a public listener,
// forwarding targets). For that it imports the config types of the
// router's two fixed parts, [eventlog.Config] and [dispatch.Options] (and
// schemas' enforcement settings): the one place where a router/ package
// imports another component, for its config struct only. The pluggable
// parts, sources and destinations, come in through the [router.Registry]
// given to the loader, which cmd/eventrouter fills with sources.Builtin and
// destinations.Builtin: the loader knows the factory contracts, never a
// source or destination package.
//
// # Sources
//
// Each source block has a type that the loader's registry knows
// ([router.Registry.LookupSource]). The keys every source takes (type, disabled,
// enforcement) are decoded into [Source]; every other key into the struct
// returned by the factory's DefaultConfig ([Source.Settings]: a
// *segment.Config with write_keys and rate_limit, a *growsurf.Config with
// path, secret, tolerance, identifier, legacy_path and mapping, ...), then
// checked by its Validate method. What the struct declares through
// router.WriteKeyer, router.SourcePather, router.SourceSecreter and
// router.KeyRefuser is checked across sources: no write key used twice, no
// webhook path served twice or under the server's own routes, no
// development secret on a public listener, and a clear reason for a key
// another type takes (write_keys of a growsurf source).
//
// # Failing closed
//
// Some values would leave a door open, and are problems like any other: a
// growsurf source without a signing secret (an unset ${VAR} included) unless
// it says allow_unsigned: true; a write key or signing secret with one of
// the development values that configs/eventrouter.yaml ships
// ([DevelopmentValues]) while http.listen is not a loopback address
// ([IsLoopback]), and the development admin token while the admin routes
// (http.admin_listen, else http.listen) are served on such an address; and
// queue.listen on such an address, since the embedded NATS server has no
// authentication. So `eventrouter check` reports them and `serve` refuses
// to start.
//
// # Destinations
//
// Each destination block has a type, looked up in the [router.Registry]
// given to the loader; the dispatch keys common to every destination
// ([Dispatch], dispatch's own Options) are decoded into a shared struct, and
// every other key into the
// struct returned by the factory's DefaultConfig, then checked by its Validate
// method if it implements [router.Validator], whose problems ("url:
// required") are reported under the destination's path
// ("destinations.hook.url: required"). A type's own keys never reuse the
// names of the common keys or "type" (the destinations conformance suite
// checks this).
//
// The common keys include the fan-out filters (types, events,
// exclude_events, integration) and enabled. Dispatch checks the message
// types and the glob syntax of the event patterns; the loader defaults
// integration to
// the type's Segment-style integration name when its factory implements
// [router.IntegrationNamer] (else to the destination's name), and keeps
// enabled and its older inverted form disabled consistent, rejecting a block
// where they disagree.
//
// # Tracking plan
//
// tracking_plan ([TrackingPlan]) names the plan directory (path; empty: no
// validation), auto_replay and drop_blocked_in_browser. Each source may carry an enforcement block
// ([Enforcement]) with the keys of plan.yaml's enforcement block; a key it
// sets overrides plan.yaml's, a key it leaves out takes plan.yaml's, whose
// default is allow. schemas checks the modes; the loader, that forwarding targets
// name other configured sources without enforcement, and that the keys are
// not set without a plan; the plan itself is loaded by the command. Each
// destination's accept key ("all", the default, or "valid") is one of the
// common keys.
package config
