package main

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventrouter/eventrouter/router/cdn"
	"github.com/eventrouter/eventrouter/router/config"
	"github.com/eventrouter/eventrouter/router/ingest"
)

// mountCDN serves analytics.js's CDN routes (package cdn) on mux for the
// Segment sources, with the tracking plan that in enforces.
func mountCDN(mux *http.ServeMux, cfg *config.Config, sources []ingest.Source, in *ingest.Handler, reg prometheus.Registerer) error {
	srcs := make([]cdn.Source, 0, len(sources))
	for _, s := range sources {
		srcs = append(srcs, cdn.Source{Name: s.Name, WriteKeys: s.WriteKeys, Disabled: s.Disabled, Enforcement: s.Enforcement})
	}
	h, err := cdn.New(cdn.Config{
		Sources:        srcs,
		PublicURL:      cfg.HTTP.PublicURL,
		TrustedProxies: cfg.HTTP.TrustedProxies,
		Plan:           in.Plan,
		DropBlocked:    cfg.TrackingPlan.DropBlockedInBrowser,
		Registerer:     reg,
	})
	if err != nil {
		return fmt.Errorf("starting the analytics.js routes: %w", err)
	}
	h.Mount(mux)
	return nil
}
