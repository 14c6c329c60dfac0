package growsurf

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// MaxBody is the largest GrowSurf webhook body, decoded: a CAMPAIGN_ENDED
// delivery carries up to 1,000 winners.
const MaxBody = 1 << 20

// NewFactory returns the factory of growsurf sources.
func NewFactory() router.SourceFactory { return factory{} }

type factory struct{}

func (factory) Type() string       { return Type }
func (factory) DefaultConfig() any { return DefaultConfig() }

// New builds a growsurf source from a *Config, refusing an invalid one.
func (factory) New(cfg any, set router.SourceSettings) (router.Source, error) {
	c, ok := cfg.(*Config)
	if !ok || c == nil {
		return nil, fmt.Errorf("creating growsurf source %s: config is %T, want *growsurf.Config", set.Name, cfg)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("creating growsurf source %s: %w", set.Name, err)
	}
	if c.Secret == "" && set.Logger != nil {
		// Only with allow_unsigned: true (Validate refuses it otherwise).
		set.Logger.Warn("growsurf source accepts unsigned requests (allow_unsigned: true): anyone who knows its path can post", "path", c.Path)
	}
	hook := &webhook{name: set.Name, secret: []byte(c.Secret), tolerance: c.Tolerance, settings: c.Settings()}
	s := &source{}
	for _, p := range c.SourcePaths() {
		s.routes = append(s.routes, router.SourceRoute{Path: p.Path, MaxBody: MaxBody, SignatureHeader: SignatureHeader, Webhook: hook})
	}
	return s, nil
}

// source is a configured growsurf source: its routes share one webhook.
type source struct{ routes []router.SourceRoute }

func (s *source) Routes() []router.SourceRoute { return s.routes }

// webhook verifies and converts the deliveries of one growsurf source.
type webhook struct {
	name      string
	secret    []byte
	tolerance time.Duration
	settings  Settings
}

// Verify checks the GrowSurf-Signature header with [VerifySignature] when
// the source has a secret; without one (allow_unsigned) every delivery
// passes.
func (w *webhook) Verify(h http.Header, body []byte, now time.Time) error {
	if len(w.secret) == 0 {
		return nil
	}
	err := VerifySignature(h.Get(SignatureHeader), body, w.secret, now, w.tolerance)
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

// Convert converts a delivery with [Convert]; the metric label is the
// GrowSurf event type, "other" for a type GrowSurf is not known to send.
func (w *webhook) Convert(_ http.Header, body []byte, receivedAt time.Time) (router.WebhookResult, error) {
	res, err := Convert(body, w.name, w.settings, receivedAt)
	if err != nil {
		if errors.Is(err, ErrMalformed) {
			return router.WebhookResult{}, fmt.Errorf("%w: %w", router.ErrMalformedBody, err)
		}
		return router.WebhookResult{}, err
	}
	out := router.WebhookResult{Key: res.DeliveryKey, Event: eventLabel(res.Event), Messages: res.Messages, Unmapped: res.Unmapped, Detail: res.Detail}
	if res.Unmapped == "" && len(res.Messages) == 0 {
		out.Unmapped = "no_messages"
	}
	if out.Unmapped != "" && out.Detail == "" {
		out.Detail = "growsurf event " + res.Event + " produces no messages"
	}
	return out, nil
}

// knownEvents are the event types used as metric labels; any other value
// (GrowSurf adds events over time, and an unsigned webhook takes anything)
// is counted as "other", so that the label stays bounded.
var knownEvents = map[string]bool{
	EventNewParticipantAdded:           true,
	EventParticipantReachedAGoal:       true,
	EventParticipantFraudStatusUpdated: true,
	EventCampaignEnded:                 true,
	EventNewCommissionAdded:            true,
	EventCommissionAdjusted:            true,
	EventNewPayoutIssued:               true,
	LegacyParticipantCreated:           true,
	LegacyParticipantReferred:          true,
	LegacyCampaignReferralConverted:    true,
	LegacyParticipantReachedReward:     true,
}

func eventLabel(e string) string {
	if knownEvents[e] {
		return e
	}
	return "other"
}
