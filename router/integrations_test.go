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
		{"T38 other destination follows All", map[string]any{"All": true, "Warehouses": map[string]any{"all": false}}, "Customer.io", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IntegrationEnabled(tt.integrations, tt.dest); got != tt.want {
				t.Errorf("IntegrationEnabled(%v, %q) = %v, want %v", tt.integrations, tt.dest, got, tt.want)
			}
		})
	}
}

func TestWarehouseEnabled(t *testing.T) {
	ids := func(s ...any) map[string]any { return map[string]any{"warehouseIds": s} }
	tests := []struct {
		name         string
		integrations map[string]any
		id           string
		want         bool
	}{
		{"absent object enables", nil, "dw", true},
		{"T38 all false disables despite All true", map[string]any{"All": true, "Warehouses": map[string]any{"all": false}}, "dw", false},
		{"T39 no key falls back to All false", map[string]any{"All": false, "Customer.io": true}, "dw", false},
		{"all true enables despite All false", map[string]any{"All": false, "Warehouses": map[string]any{"all": true}}, "dw", true},
		{"listed id", map[string]any{"All": false, "Warehouses": ids("other", "dw")}, "dw", true},
		{"unlisted id", map[string]any{"All": true, "Warehouses": ids("other")}, "dw", false},
		{"empty id list", map[string]any{"Warehouses": ids()}, "dw", false},
		{"id list wins over all", map[string]any{"Warehouses": map[string]any{"all": true, "warehouseIds": []any{"other"}}}, "dw", false},
		{"ids that are not strings", map[string]any{"Warehouses": ids(1, true)}, "1", false},
		{"ids that are not a list", map[string]any{"Warehouses": map[string]any{"warehouseIds": "dw"}}, "dw", false},
		{"boolean false", map[string]any{"All": true, "Warehouses": false}, "dw", false},
		{"boolean true", map[string]any{"All": false, "Warehouses": true}, "dw", true},
		{"other object enables", map[string]any{"All": false, "Warehouses": map[string]any{"sync": "hourly"}}, "dw", true},
		{"non-bool all is ignored", map[string]any{"All": false, "Warehouses": map[string]any{"all": "no"}}, "dw", true},
		{"key is case-sensitive", map[string]any{"All": true, "warehouses": false}, "dw", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WarehouseEnabled(tt.integrations, tt.id); got != tt.want {
				t.Errorf("WarehouseEnabled(%v, %q) = %v, want %v", tt.integrations, tt.id, got, tt.want)
			}
		})
	}
}
