package dispatch

import (
	"github.com/eventrouter/eventrouter/router"
)

// Preview decides what a destination would do with messages, without a
// log or a destination: its filters, its transform and its suppression,
// as dispatch runs them, for fixtures ("eventrouter transform test"). Its
// suppression memory is its own, in memory: a key counts as delivered once
// a message with it was previewed as delivered, whatever the window. It is
// not safe for concurrent use.
type Preview struct {
	r         *route
	delivered map[string]bool
}

// NewPreview returns the preview of the destination called name with
// options o (checked, with their defaults filled in, as New does).
func NewPreview(name string, o Options) (*Preview, error) {
	opts, err := o.withDefaults(name)
	if err != nil {
		return nil, err
	}
	sh, err := newShaping(opts)
	if err != nil {
		return nil, err
	}
	return &Preview{r: &route{name: name, opts: opts, filter: newFilter(name, opts), shape: sh}, delivered: map[string]bool{}}, nil
}

// Decide returns the message the destination would be sent, or the reason
// it is filtered out (a filter's, a drop rule's or ReasonSuppressed), or
// the error that would dead-letter it.
func (p *Preview) Decide(m router.Message) (out router.Message, filtered string, err error) {
	if why := p.r.filter.reason(&m); why != "" {
		return router.Message{}, why, nil
	}
	d := &Dispatcher{clock: realClock{}}
	it, why := d.shape(p.r, router.Delivery{Message: m})
	if why != "" {
		return router.Message{}, why, nil
	}
	if it.dead {
		return router.Message{}, "", it.lastErr
	}
	if it.keyed {
		if p.delivered[it.key] {
			return router.Message{}, ReasonSuppressed, nil
		}
		p.delivered[it.key] = true
	}
	return it.out, "", nil
}
