package router

import "testing"

func TestIntegrationEnabled(t *testing.T) {
	tests := []struct {
		name         string
		integrations map[string]any
		dest         string
		want         bool
	}{
		{"absent object enables", nil, "Mixpanel", true},
		{"T39 own key true", map[string]any{"All": false, "Customer.io": true}, "Customer.io", true},
		{"T39 warehouses falls back to All", map[string]any{"All": false, "Customer.io": true}, "Warehouses", false},
		{"T39 other falls back to All", map[string]any{"All": false, "Customer.io": true}, "Mixpanel", false},
		{"own key false beats All true", map[string]any{"All": true, "Webhooks": false}, "Webhooks", false},
		{"options object enables", map[string]any{"All": false, "Amplitude": map[string]any{"session_id": 1}}, "Amplitude", true},
		{"non-bool value enables", map[string]any{"Webhooks": "yes"}, "Webhooks", true},
		{"keys are case-sensitive", map[string]any{"All": false, "customer.io": true}, "Customer.io", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IntegrationEnabled(tt.integrations, tt.dest); got != tt.want {
				t.Errorf("IntegrationEnabled(%v, %q) = %v, want %v", tt.integrations, tt.dest, got, tt.want)
			}
		})
	}
}
