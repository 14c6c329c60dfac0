package customerio

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Customer.io's data limits, checked before sending.
const (
	// MaxIDBytes is the longest person identifier (id or email), in bytes.
	MaxIDBytes = 150
	// MaxAttributeNameBytes is the longest attribute name, in bytes.
	MaxAttributeNameBytes = 150
	// MaxAttributeValueBytes is the longest attribute value, in bytes (a
	// string's bytes, else the JSON encoding's).
	MaxAttributeValueBytes = 1000
	// MaxAttributes is the most attributes of one identify call.
	MaxAttributes = 300
	// MaxEventNameBytes is the longest event name, in bytes.
	MaxEventNameBytes = 100
	// MaxEventDataBytes is the largest event data, as JSON, in bytes.
	MaxEventDataBytes = 100_000
)

// checkLimits returns an error naming the field and the limit of the first
// limit o exceeds.
func checkLimits(o op) error {
	switch o.kind {
	case opIdentify:
		if err := checkID("person identifier", o.person); err != nil {
			return err
		}
		return checkAttributes(o.what, o.attrs)
	case opTrack, opTrackAnonymous:
		if o.kind == opTrack {
			if err := checkID("person identifier", o.person); err != nil {
				return err
			}
		} else if err := checkID("anonymousId", o.anonID); err != nil {
			return err
		}
		if n := len(o.name); n > MaxEventNameBytes {
			return fmt.Errorf("event name is %d bytes, over customer.io's limit of %d bytes", n, MaxEventNameBytes)
		}
		b, err := json.Marshal(o.data)
		if err != nil {
			return fmt.Errorf("encoding event data: %w", err)
		}
		if len(b) > MaxEventDataBytes {
			return fmt.Errorf("event data (properties) is %d bytes of JSON, over customer.io's limit of %d bytes", len(b), MaxEventDataBytes)
		}
	case opMerge:
		if err := checkID("userId", o.primary.Value); err != nil {
			return err
		}
		return checkID("previousId", o.secondary.Value)
	}
	return nil
}

func checkID(field, v string) error {
	if len(v) > MaxIDBytes {
		return fmt.Errorf("%s is %d bytes, over customer.io's limit of %d bytes", field, len(v), MaxIDBytes)
	}
	return nil
}

func checkAttributes(what string, attrs map[string]any) error {
	field := "traits"
	if what == "group" {
		field = "group traits"
	}
	if len(attrs) > MaxAttributes {
		return fmt.Errorf("%s: %d attributes, over customer.io's limit of %d per call", field, len(attrs), MaxAttributes)
	}
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if len(k) > MaxAttributeNameBytes {
			return fmt.Errorf("%s: attribute name %.40q… is %d bytes, over customer.io's limit of %d bytes", field, k, len(k), MaxAttributeNameBytes)
		}
		if k == "" {
			return fmt.Errorf("%s: an attribute name is empty", field)
		}
		n, err := valueBytes(attrs[k])
		if err != nil {
			return fmt.Errorf("%s.%s: %w", field, k, err)
		}
		if n > MaxAttributeValueBytes {
			return fmt.Errorf("%s.%s: value is %d bytes, over customer.io's limit of %d bytes per attribute value", field, k, n, MaxAttributeValueBytes)
		}
	}
	return nil
}

// valueBytes is a value's size as Customer.io counts it: a string's bytes,
// else its JSON encoding's.
func valueBytes(v any) (int, error) {
	if s, ok := v.(string); ok {
		return len(s), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encoding value: %w", err)
	}
	return len(b), nil
}
