package destinations_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/eventrouter/eventrouter/destinations"
	"github.com/eventrouter/eventrouter/router"
)

// printerConfig is the config of the example destination type "printer":
// the struct its YAML block decodes into (snake_case keys; unknown keys are
// rejected by the loader).
type printerConfig struct {
	// Prefix starts every printed line. Default "->".
	Prefix string `yaml:"prefix"`
	// MaxBatch is the most messages the remote takes at once. Default 3.
	MaxBatch int `yaml:"max_batch"`
}

// Validate reports every problem at once, each with its key; the config
// loader prefixes the destination's key path.
func (c *printerConfig) Validate() error {
	var errs []error
	if c.Prefix == "" {
		errs = append(errs, errors.New("prefix: required"))
	}
	if c.MaxBatch < 1 {
		errs = append(errs, errors.New("max_batch: must be at least 1"))
	}
	return errors.Join(errs...)
}

// printerFactory is the package's one entry point, what NewFactory returns.
type printerFactory struct{ out io.Writer }

func (printerFactory) Type() string { return "printer" }

func (printerFactory) DefaultConfig() any { return &printerConfig{Prefix: "->", MaxBatch: 3} }

func (f printerFactory) New(_ context.Context, cfg any, set router.Settings) (router.Destination, error) {
	c, ok := cfg.(*printerConfig)
	if !ok {
		return nil, fmt.Errorf("building printer %q: config is %T, want *printerConfig", set.Name, cfg)
	}
	return &printer{cfg: *c, out: f.out}, nil
}

// printer "delivers" a message by printing it. It makes one attempt per
// batch and classifies what failed; dispatch owns retries, backoff and
// dead-lettering.
type printer struct {
	cfg printerConfig
	out io.Writer
}

func (p *printer) Send(ctx context.Context, batch []router.Message) error {
	if err := ctx.Err(); err != nil {
		return err // unclassified: retryable
	}
	if len(batch) > p.cfg.MaxBatch {
		// The whole batch failed, and the remote said when to come back.
		return router.RetryAfter(fmt.Errorf("sending batch to printer: %d messages, the remote takes %d", len(batch), p.cfg.MaxBatch), time.Second)
	}
	failed := map[int]error{}
	for i, m := range batch {
		if m.Type == router.TypeAlias {
			// No later attempt can succeed: dead-letter this message only.
			failed[i] = router.Permanent(fmt.Errorf("printing %s: alias is not supported", m.ID))
			continue
		}
		var body struct {
			Traits map[string]any `json:"traits"`
		}
		if err := json.Unmarshal(m.Body, &body); err != nil {
			failed[i] = router.Permanent(fmt.Errorf("decoding %s: %w", m.ID, err))
			continue
		}
		what := m.Type
		if m.Type == router.TypeTrack {
			what = m.Event
		}
		fmt.Fprintf(p.out, "%s %s by %s, %d traits\n", p.cfg.Prefix, what, m.PartitionKey(), len(body.Traits))
	}
	if len(failed) > 0 {
		return &router.BatchError{Failed: failed}
	}
	return nil
}

func (p *printer) Close(context.Context) error { return nil }

// Example_destination writes a destination type: a factory with its type
// name, default config and New; a registry that lists it beside the
// built-in types; and a Send that classifies its errors with router's
// error kinds, as dispatch reads them.
func Example_destination() {
	ctx := context.Background()
	reg, err := router.NewRegistry(append(destinations.Builtin(), printerFactory{out: os.Stdout})...)
	if err != nil {
		panic(err)
	}
	fmt.Println("types:", reg.Types())
	if _, err := reg.Lookup("kafka"); err != nil {
		fmt.Println(err)
	}

	// What the config loader does with "destinations: {console: {type: printer, prefix: '>'}}".
	f, _ := reg.Lookup("printer")
	cfg := f.DefaultConfig().(*printerConfig)
	cfg.Prefix = ">"
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	bad := &printerConfig{}
	fmt.Println("invalid:", bad.Validate())
	d, err := f.New(ctx, cfg, router.Settings{Name: "console"})
	if err != nil {
		panic(err)
	}
	defer d.Close(ctx)

	// What dispatch does with a batch read from the log.
	batch := []router.Message{
		{ID: "m1", Type: router.TypeIdentify, UserID: "u1", Body: json.RawMessage(`{"type":"identify","userId":"u1","traits":{"plan":"pro"}}`)},
		{ID: "m2", Type: router.TypeAlias, UserID: "u1", Body: json.RawMessage(`{"type":"alias","userId":"u1","previousId":"a1"}`)},
		{ID: "m3", Type: router.TypeTrack, AnonymousID: "a2", Event: "Order Completed", Body: json.RawMessage(`{"type":"track","anonymousId":"a2","event":"Order Completed"}`)},
	}
	err = d.Send(ctx, batch)
	var be *router.BatchError
	if errors.As(err, &be) {
		for i := range batch {
			kind, _ := router.Classify(be.Failed[i])
			fmt.Printf("%s: %s\n", batch[i].ID, kind)
		}
	}
	kind, delay := router.Classify(d.Send(ctx, append(batch, batch...)))
	fmt.Println("six at once:", kind, "after", delay)

	// Output:
	// types: [customerio file printer segment warehouse webhook]
	// unknown destination type "kafka" (known types: customerio, file, printer, segment, warehouse, webhook)
	// invalid: prefix: required
	// max_batch: must be at least 1
	// > identify by u1, 1 traits
	// > Order Completed by a2, 0 traits
	// m1: ok
	// m2: permanent
	// m3: ok
	// six at once: retryable after 1s
}
