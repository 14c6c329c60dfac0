package router

// The Segment-style integration names of eventrouter's destination types:
// the keys of a message's integrations object that decide
// whether a destination of that type receives the message. A factory
// returns its type's name from [IntegrationNamer.IntegrationName].
const (
	// IntegrationWebhooks is the name of webhook destinations, as Segment
	// calls its own webhook destination.
	IntegrationWebhooks = "Webhooks"
	// IntegrationFile is the name of file (NDJSON archive) destinations;
	// Segment has no such destination, so the name is eventrouter's own.
	IntegrationFile = "File"
	// IntegrationCustomerIO is the name of Customer.io destinations.
	IntegrationCustomerIO = "Customer.io"
	// IntegrationSegment is the name of destinations forwarding to Segment.
	IntegrationSegment = "Segment"
	// IntegrationWarehouses is the name of warehouse destinations; it
	// selects Segment's warehouse semantics (see [WarehouseEnabled]).
	IntegrationWarehouses = "Warehouses"
)

// IntegrationEnabled applies Segment's integrations rule for the
// destination called name: if the integrations object has the key name, its
// value decides; else the key "All" decides; else the destination is enabled.
// A value is false only when it is the JSON boolean false; true, an object
// of options or any other value enables. Keys are case-sensitive.
//
// For the name [IntegrationWarehouses] use [WarehouseEnabled], which also
// understands the warehouse selection objects.
func IntegrationEnabled(integrations map[string]any, name string) bool {
	if v, ok := integrations[name]; ok {
		return truthy(v)
	}
	if v, ok := integrations["All"]; ok {
		return truthy(v)
	}
	return true
}

// WarehouseEnabled applies Segment's warehouse rule for the
// warehouse whose id is id, under the key [IntegrationWarehouses]:
//
//   - key absent: the "All" key decides, as in [IntegrationEnabled];
//   - a boolean: it decides;
//   - an object with "warehouseIds" (a list): enabled only when id is one
//     of the listed strings (the list wins over "all");
//   - an object with "all" (a boolean) and no "warehouseIds": "all" decides,
//     so {"all": false} disables every warehouse even when "All" is true;
//   - any other object or value: enabled.
func WarehouseEnabled(integrations map[string]any, id string) bool {
	v, ok := integrations[IntegrationWarehouses]
	if !ok {
		return IntegrationEnabled(integrations, IntegrationWarehouses)
	}
	obj, isObj := v.(map[string]any)
	if !isObj {
		return truthy(v)
	}
	if ids, ok := obj["warehouseIds"]; ok {
		list, _ := ids.([]any)
		for _, x := range list {
			if s, ok := x.(string); ok && s == id {
				return true
			}
		}
		return false
	}
	if all, ok := obj["all"].(bool); ok {
		return all
	}
	return true
}

func truthy(v any) bool {
	if b, ok := v.(bool); ok {
		return b
	}
	return true
}
