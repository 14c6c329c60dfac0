package destinations

import (
	"reflect"
	"testing"

	"github.com/eventrouter/eventrouter/destinations/customerio"
	"github.com/eventrouter/eventrouter/destinations/segment"
	"github.com/eventrouter/eventrouter/destinations/webhook"
)

func TestAvoidDoubleDelivery(t *testing.T) {
	cio := func(disabled bool) Configured { return Configured{Settings: &customerio.Config{}, Disabled: disabled} }
	tests := []struct {
		name  string
		set   []string // the segment destination's disable_integrations (nil: not set)
		other []Configured
		want  []string
	}{
		{"customerio configured: Customer.io turned off", nil, []Configured{cio(false)}, []string{"Customer.io"}},
		{"no customerio: nothing turned off", nil, []Configured{{Settings: &webhook.Config{}}}, nil},
		{"explicit list kept", []string{"Mixpanel"}, []Configured{cio(false)}, []string{"Mixpanel"}},
		{"explicit empty list kept", []string{}, []Configured{cio(false)}, []string{}},
		{"disabled customerio does not count", nil, []Configured{cio(true)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seg := &segment.Config{DisableIntegrations: tt.set}
			// A disabled segment destination is set too: it may be enabled
			// again with the same settings.
			off := &segment.Config{}
			AvoidDoubleDelivery(append([]Configured{{Settings: seg}, {Settings: off, Disabled: true}}, tt.other...))
			if !reflect.DeepEqual(seg.DisableIntegrations, tt.want) {
				t.Errorf("disable_integrations = %#v, want %#v", seg.DisableIntegrations, tt.want)
			}
			if tt.set == nil && !reflect.DeepEqual(off.DisableIntegrations, tt.want) {
				t.Errorf("disabled segment destination: disable_integrations = %#v, want %#v", off.DisableIntegrations, tt.want)
			}
		})
	}
}
