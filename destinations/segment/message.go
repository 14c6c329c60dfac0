package segment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/eventrouter/eventrouter/router"
	analytics "github.com/segmentio/analytics-go/v3"
)

// toAnalytics decodes a stored message (router.Message.Body, normalised
// Segment JSON) into the analytics-go struct of its type. Numbers stay
// json.Number so they are re-encoded exactly as stored. The context goes
// whole into Context.Extra (see the package documentation for why the typed
// fields are not used); disable names are added to the integrations as false
// unless the message names them. It returns the message and its messageId.
func toAnalytics(m router.Message, disable []string) (analytics.Message, string, error) {
	if len(bytes.TrimSpace(m.Body)) == 0 {
		return nil, "", errors.New("message has an empty body")
	}
	dec := json.NewDecoder(bytes.NewReader(m.Body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, "", fmt.Errorf("decoding message body: %w", err)
	}
	if obj == nil {
		return nil, "", errors.New("message body is not a JSON object")
	}

	typ, err := str(obj, "type")
	if err != nil {
		return nil, "", err
	}
	if typ == "" {
		typ = m.Type
	}
	id, err := str(obj, "messageId")
	if err != nil {
		return nil, "", err
	}
	if id == "" {
		id = m.ID
	}
	if id == "" {
		return nil, "", errors.New("message has no messageId")
	}
	userID, err := str(obj, "userId")
	if err != nil {
		return nil, "", err
	}
	anonID, err := str(obj, "anonymousId")
	if err != nil {
		return nil, "", err
	}
	ts, err := timestamp(obj, m.ReceivedAt)
	if err != nil {
		return nil, "", err
	}
	var ctx *analytics.Context
	if c, err := object(obj, "context"); err != nil {
		return nil, "", err
	} else if c != nil {
		ctx = &analytics.Context{Extra: c}
	}
	in, err := object(obj, "integrations")
	if err != nil {
		return nil, "", err
	}
	integrations := mergeDisabled(in, disable)

	switch typ {
	case router.TypeIdentify:
		traits, err := object(obj, "traits")
		if err != nil {
			return nil, "", err
		}
		return analytics.Identify{MessageId: id, UserId: userID, AnonymousId: anonID, Timestamp: ts,
			Context: ctx, Traits: traits, Integrations: integrations}, id, nil
	case router.TypeTrack:
		event, err := str(obj, "event")
		if err != nil {
			return nil, "", err
		}
		props, err := object(obj, "properties")
		if err != nil {
			return nil, "", err
		}
		return analytics.Track{MessageId: id, UserId: userID, AnonymousId: anonID, Event: event, Timestamp: ts,
			Context: ctx, Properties: props, Integrations: integrations}, id, nil
	case router.TypePage, router.TypeScreen:
		name, err := str(obj, "name")
		if err != nil {
			return nil, "", err
		}
		props, err := object(obj, "properties")
		if err != nil {
			return nil, "", err
		}
		props, err = withCategory(obj, props)
		if err != nil {
			return nil, "", err
		}
		if typ == router.TypePage {
			return analytics.Page{MessageId: id, UserId: userID, AnonymousId: anonID, Name: name, Timestamp: ts,
				Context: ctx, Properties: props, Integrations: integrations}, id, nil
		}
		return analytics.Screen{MessageId: id, UserId: userID, AnonymousId: anonID, Name: name, Timestamp: ts,
			Context: ctx, Properties: props, Integrations: integrations}, id, nil
	case router.TypeGroup:
		groupID, err := str(obj, "groupId")
		if err != nil {
			return nil, "", err
		}
		traits, err := object(obj, "traits")
		if err != nil {
			return nil, "", err
		}
		return analytics.Group{MessageId: id, UserId: userID, AnonymousId: anonID, GroupId: groupID, Timestamp: ts,
			Context: ctx, Traits: traits, Integrations: integrations}, id, nil
	case router.TypeAlias:
		previousID, err := str(obj, "previousId")
		if err != nil {
			return nil, "", err
		}
		return analytics.Alias{MessageId: id, UserId: userID, PreviousId: previousID, Timestamp: ts,
			Context: ctx, Integrations: integrations}, id, nil
	}
	return nil, "", fmt.Errorf("message type %q is not one of identify, track, page, screen, group, alias", typ)
}

// str returns the string field k of obj; absent or null is "".
func str(obj map[string]any, k string) (string, error) {
	switch v := obj[k].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("field %s is a %s, not a string", k, jsonType(v))
	}
}

// object returns the object field k of obj; absent or null is nil.
func object(obj map[string]any, k string) (map[string]any, error) {
	switch v := obj[k].(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return v, nil
	default:
		return nil, fmt.Errorf("field %s is a %s, not an object", k, jsonType(v))
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// timestamp returns the message's "timestamp" (the event time ingest
// corrected for clock skew), else receivedAt.
func timestamp(obj map[string]any, receivedAt time.Time) (time.Time, error) {
	s, err := str(obj, "timestamp")
	if err != nil {
		return time.Time{}, err
	}
	if s == "" {
		return receivedAt, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing timestamp: %w", err)
	}
	return t.UTC(), nil
}

// withCategory keeps a page's or screen's top-level "category", which
// analytics-go's Page and Screen cannot carry, as properties.category (where
// analytics.js also puts it) unless the properties already have one.
func withCategory(obj, props map[string]any) (map[string]any, error) {
	cat, err := str(obj, "category")
	if err != nil || cat == "" {
		return props, err
	}
	if _, ok := props["category"]; ok {
		return props, nil
	}
	out := make(map[string]any, len(props)+1)
	maps.Copy(out, props)
	out["category"] = cat
	return out, nil
}

// mergeDisabled returns the message's integrations with every name of
// disable set to false unless the message names it itself. It returns in
// unchanged when there is nothing to add.
func mergeDisabled(in map[string]any, disable []string) map[string]any {
	var out map[string]any
	for _, name := range disable {
		if _, named := in[name]; named {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(in)+len(disable))
			maps.Copy(out, in)
		}
		out[name] = false
	}
	if out == nil {
		return in
	}
	return out
}
