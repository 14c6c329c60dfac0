package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// MaxBody is the largest delivery body a webhook source accepts, decoded.
const MaxBody = router.DefaultWebhookMaxBody

// NewFactory returns the factory of webhook sources: type "webhook", a
// *[Settings] as its config block, and New, which compiles the rules.
func NewFactory() router.SourceFactory { return factory{} }

type factory struct{}

func (factory) Type() string       { return Type }
func (factory) DefaultConfig() any { return DefaultConfig() }

// New compiles a *Settings into a source with one route, refusing invalid
// settings with every problem at once.
func (factory) New(cfg any, set router.SourceSettings) (router.Source, error) {
	s, ok := cfg.(*Settings)
	if !ok || s == nil {
		return nil, fmt.Errorf("creating webhook source %s: config is %T, want *webhook.Settings", set.Name, cfg)
	}
	src, err := Compile(set.Name, *s)
	if err != nil {
		return nil, fmt.Errorf("creating webhook source %s: %w", set.Name, err)
	}
	if !src.Signed() && set.Logger != nil {
		// Only with allow_unsigned: true (Compile refuses it otherwise).
		set.Logger.Warn("webhook source accepts unsigned requests (allow_unsigned: true): anyone who knows its path can post", "path", s.Path)
	}
	header := "signature"
	if g := s.Signature; g != nil {
		header = g.Header
		if g.scheme() == SchemeStandardWebhooks {
			header = "webhook-signature"
		}
	}
	return &hosted{routes: []router.SourceRoute{{Path: s.Path, MaxBody: MaxBody, SignatureHeader: header, Webhook: hook{src}}}}, nil
}

// hosted is a configured webhook source as ingest hosts it.
type hosted struct{ routes []router.SourceRoute }

func (h *hosted) Routes() []router.SourceRoute { return h.routes }

// hook adapts a compiled Source to router.Webhook.
type hook struct{ s *Source }

// Verify checks the signature with [Source.Verify], wrapping its errors in
// the router's: a malformed signature is a bad one.
func (w hook) Verify(h http.Header, body []byte, now time.Time) error {
	err := w.s.Verify(h, body, now)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrMissingSignature):
		return fmt.Errorf("%w: %w", router.ErrMissingSignature, err)
	case errors.Is(err, ErrStaleSignature):
		return fmt.Errorf("%w: %w", router.ErrStaleSignature, err)
	default:
		return fmt.Errorf("%w: %w", router.ErrBadSignature, err)
	}
}

// Convert converts with [Source.Convert]. The metric label is the name of
// the rule that matched (bounded by the config), "none" when no rule did.
func (w hook) Convert(h http.Header, body []byte, receivedAt time.Time) (router.WebhookResult, error) {
	res, err := w.s.Convert(h, body, receivedAt)
	if err != nil {
		if errors.Is(err, ErrMalformed) {
			return router.WebhookResult{}, fmt.Errorf("%w: %w", router.ErrMalformedBody, err)
		}
		return router.WebhookResult{}, err
	}
	event := res.Rule
	if event == "" {
		event = "none"
	}
	return router.WebhookResult{Key: res.DeliveryKey, Event: event, Messages: res.Messages, Unmapped: res.Unmapped, Detail: res.Detail}, nil
}
