package router

import "context"

// Pacer spaces out a destination's remote requests. Wait blocks until one
// more request may be sent, or returns ctx's error.
type Pacer interface {
	Wait(ctx context.Context) error
}

// RequestPacer is implemented by destinations that make one remote request
// per message (Customer.io's Track API, for example). For them, a rate
// limit taken for a whole batch at once would let a batch's requests go out
// in one burst; instead dispatch puts a [Pacer] in Send's context, and the
// destination calls its Wait before every request (see [PacerFrom]).
type RequestPacer interface {
	// PacesRequests reports whether Send paces its requests with the
	// context's Pacer.
	PacesRequests() bool
}

type pacerKey struct{}

// WithPacer returns a context carrying p, for [Destination.Send].
func WithPacer(ctx context.Context, p Pacer) context.Context {
	return context.WithValue(ctx, pacerKey{}, p)
}

// PacerFrom returns the Pacer of ctx, or nil when requests need no pacing.
func PacerFrom(ctx context.Context) Pacer {
	p, _ := ctx.Value(pacerKey{}).(Pacer)
	return p
}
