package main

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/eventrouter/eventrouter/destinations/segment"
	"github.com/eventrouter/eventrouter/router/config"
)

func TestDisableDoubleDelivery(t *testing.T) {
	reg, err := registry()
	if err != nil {
		t.Fatal(err)
	}
	const base = `sources:
  web: {type: segment, write_keys: ["k"]}
destinations:
  seg: {type: segment, write_key: wk%s}
%s`
	const cio = `  cio: {type: customerio, site_id: s, api_key: k}`
	tests := []struct {
		name    string
		segment string
		extra   string
		want    []string
	}{
		{"customerio configured: Customer.io turned off", "", cio, []string{"Customer.io"}},
		{"no customerio: nothing turned off", "", "", nil},
		{"explicit list kept", ", disable_integrations: [Mixpanel]", cio, []string{"Mixpanel"}},
		{"explicit empty list kept", ", disable_integrations: []", cio, []string{}},
		{"disabled customerio does not count", "", "  cio: {type: customerio, site_id: s, api_key: k, enabled: false}", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(fmt.Sprintf(base, tt.segment, tt.extra)), reg)
			if err != nil {
				t.Fatal(err)
			}
			disableDoubleDelivery(cfg)
			got := cfg.Destinations["seg"].Settings.(*segment.Config).DisableIntegrations
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("disable_integrations = %#v, want %#v", got, tt.want)
			}
		})
	}
}
