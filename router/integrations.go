package router

// IntegrationEnabled applies Segment's integrations rule (spec §3.5) for the
// destination called name: if the integrations object has the key name, its
// value decides; else the key "All" decides; else the destination is enabled.
// A value is false only when it is the JSON boolean false; true, an object
// of options or any other value enables. Keys are case-sensitive.
func IntegrationEnabled(integrations map[string]any, name string) bool {
	if v, ok := integrations[name]; ok {
		return truthy(v)
	}
	if v, ok := integrations["All"]; ok {
		return truthy(v)
	}
	return true
}

func truthy(v any) bool {
	if b, ok := v.(bool); ok {
		return b
	}
	return true
}
