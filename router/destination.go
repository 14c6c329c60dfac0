package router

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
)

// Destination delivers messages to one configured place (a webhook, a file,
// Customer.io, a warehouse, ...).
//
// Dispatch calls Send with batches read from the log, from one goroutine per
// partition, so Send must be safe for concurrent use. Send makes exactly one
// attempt: it does not retry or sleep. It returns nil when every message was
// delivered; otherwise an error classified with [Permanent] or [RetryAfter]
// (an unclassified error is retryable), or a [*BatchError] naming the
// messages that failed. Send must honour ctx's cancellation.
//
// Close is called once, after the last Send has returned, and flushes and
// releases what the destination holds.
type Destination interface {
	Send(ctx context.Context, batch []Message) error
	Close(ctx context.Context) error
}

// Validator is implemented by destination config structs that can check
// themselves. Validate returns every problem at once, joined with
// errors.Join; each problem names its key (for example "url: required"), and
// the config loader prefixes the key path of the destination.
type Validator interface {
	Validate() error
}

// Settings are what a factory gets besides its own config when it builds a
// destination.
type Settings struct {
	// Name is the destination's name in the config (its key under
	// "destinations").
	Name string
	// DataDir is the server's data directory, for destinations that keep
	// local state.
	DataDir string
	// Logger is a logger already tagged with the destination's name.
	Logger *slog.Logger
}

// Factory builds destinations of one type. Each destination package has a
// NewFactory function returning its Factory; destinations.Builtin lists
// them all.
type Factory interface {
	// Type is the value of "type" in the config that selects this factory;
	// it equals the destination's package name.
	Type() string
	// DefaultConfig returns a pointer to a new config struct holding every
	// default. The config loader decodes the destination's YAML block into
	// it with unknown keys rejected, then calls Validate if the struct
	// implements [Validator].
	DefaultConfig() any
	// New builds a destination from a config returned by DefaultConfig and
	// filled by the loader. Errors are reported before the server starts.
	New(ctx context.Context, cfg any, set Settings) (Destination, error)
}

// IntegrationNamer is implemented by a [Factory] whose destinations have a
// Segment-style integration name, such as [IntegrationCustomerIO]: the key
// of a message's integrations object that decides whether the
// destination receives the message. The config loader uses it as the
// default of a destination's "integration" key; a destination whose factory
// does not implement it defaults to its own name.
type IntegrationNamer interface {
	// IntegrationName returns the integration name, never empty.
	IntegrationName() string
}

// Registry is the set of known component factories, by type: the
// destination factories it is created with and the source factories added
// with [Registry.AddSources]. The config loader looks each block's "type"
// up in it, so the loader needs no list of components of its own: the
// program that loads the config (cmd/eventrouter) says which exist. It is
// not safe to add to a registry while it is in use.
type Registry struct {
	factories map[string]Factory
	sources   map[string]SourceFactory
}

// NewRegistry returns a registry of the given destination factories. Two
// factories with the same type are an error.
func NewRegistry(factories ...Factory) (*Registry, error) {
	r := &Registry{factories: make(map[string]Factory, len(factories)), sources: map[string]SourceFactory{}}
	for _, f := range factories {
		if _, dup := r.factories[f.Type()]; dup {
			return nil, fmt.Errorf("registering destinations: type %q registered twice", f.Type())
		}
		r.factories[f.Type()] = f
	}
	return r, nil
}

// AddSources adds source factories to r. A type registered twice is an
// error, and then nothing is added.
func (r *Registry) AddSources(factories ...SourceFactory) error {
	seen := map[string]bool{}
	for _, f := range factories {
		if _, dup := r.sources[f.Type()]; dup || seen[f.Type()] {
			return fmt.Errorf("registering sources: type %q registered twice", f.Type())
		}
		seen[f.Type()] = true
	}
	for _, f := range factories {
		r.sources[f.Type()] = f
	}
	return nil
}

// LookupSource returns the factory of a source type. An unknown type is an
// error that lists the known ones.
func (r *Registry) LookupSource(typ string) (SourceFactory, error) {
	if f, ok := r.sources[typ]; ok {
		return f, nil
	}
	return nil, fmt.Errorf("unknown source type %q (known types: %s)", typ, strings.Join(r.SourceTypes(), ", "))
}

// SourceTypes returns the known source types, sorted.
func (r *Registry) SourceTypes() []string { return sortedKeys(r.sources) }

// Lookup returns the factory of a destination type. An unknown type is an
// error that lists the known ones.
func (r *Registry) Lookup(typ string) (Factory, error) {
	if f, ok := r.factories[typ]; ok {
		return f, nil
	}
	return nil, fmt.Errorf("unknown destination type %q (known types: %s)", typ, strings.Join(r.Types(), ", "))
}

// Types returns the known destination types, sorted.
func (r *Registry) Types() []string { return sortedKeys(r.factories) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
