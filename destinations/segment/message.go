package segment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// The Tracking API's limits that a request is built to.
const (
	// maxMessageBytes is the largest message, in bytes of its JSON, that is
	// sent: Segment's "32KB per event in the batch", read as 32 KiB like
	// analytics-python's MAX_MSG_SIZE and eventrouter's own ingest (which
	// accepted the message at that size).
	maxMessageBytes = 32 << 10
	// maxBatchBytes is the largest request body: analytics-go's 500000
	// bytes, under Segment's "500KB per request".
	maxBatchBytes = 500000
	// maxBatchMessages is how many messages one request carries at most:
	// analytics-go's batch size (Segment allows 2500).
	maxBatchMessages = 250
)

// dropped are the stored top-level keys that are not sent: receivedAt is
// Segment's to set (it overwrites any sent), _ingest holds eventrouter's
// own ingest notes, and writeKey (never stored) would only repeat the
// Basic auth. sentAt is replaced by the request's, see wireMessage.
var dropped = []string{"receivedAt", "_ingest", "writeKey", "sentAt"}

// wire is one stored message ready to be put in a request.
type wire struct {
	// fields are the message's top-level keys and their JSON as stored,
	// except dropped, with the integrations already merged.
	fields map[string]json.RawMessage
	// originalTimestamp is sent as "timestamp"; offset is the stored
	// timestamp minus it, so that sentAt = send time - offset.
	originalTimestamp string
	offset            time.Duration
}

// newWire checks a stored message (router.Message.Body, normalised Segment
// JSON) and prepares it for sending: every top-level field is kept as
// stored, byte for byte, except the dropped ones; the names of disable are
// added to its integrations as false unless it names them itself. It fails
// (the message cannot be sent, whatever Segment's state) when the body is
// not a JSON object, a field Segment reads has the wrong JSON type, a field
// Segment requires for the type is missing (Segment would answer 200 and
// drop the message), or a timestamp does not parse.
func newWire(m router.Message, disable []string) (*wire, error) {
	if len(bytes.TrimSpace(m.Body)) == 0 {
		return nil, errors.New("message has an empty body")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(m.Body, &fields); err != nil {
		return nil, fmt.Errorf("decoding message body: %w", err)
	}
	if fields == nil {
		return nil, errors.New("message body is not a JSON object")
	}
	w := &wire{fields: fields}

	typ, err := str(fields, "type")
	if err != nil {
		return nil, err
	}
	if typ == "" {
		if typ = m.Type; typ == "" {
			return nil, errors.New("message has no type")
		}
		fields["type"] = mustJSON(typ)
	}
	if !router.IsType(typ) {
		return nil, fmt.Errorf("message type %q is not one of identify, track, page, screen, group, alias", typ)
	}
	id, err := str(fields, "messageId")
	if err != nil {
		return nil, err
	}
	if id == "" {
		if m.ID == "" {
			return nil, errors.New("message has no messageId")
		}
		fields["messageId"] = mustJSON(m.ID)
	}
	// What Segment requires of each type (as analytics-go's Validate).
	ids := map[string]string{}
	for _, k := range []string{"userId", "anonymousId", "event", "groupId", "previousId", "name", "category"} {
		if ids[k], err = str(fields, k); err != nil {
			return nil, err
		}
	}
	switch {
	case typ == router.TypeAlias && ids["userId"] == "":
		return nil, errors.New("alias has no userId")
	case typ == router.TypeAlias && ids["previousId"] == "":
		return nil, errors.New("alias has no previousId")
	case typ != router.TypeAlias && ids["userId"] == "" && ids["anonymousId"] == "":
		return nil, errors.New("message has neither userId nor anonymousId")
	case typ == router.TypeTrack && ids["event"] == "":
		return nil, errors.New("track has no event")
	case typ == router.TypeGroup && ids["groupId"] == "":
		return nil, errors.New("group has no groupId")
	}
	for _, k := range []string{"context", "integrations", "properties", "traits"} {
		if err := object(fields, k); err != nil {
			return nil, err
		}
	}
	if err := mergeDisabled(fields, disable); err != nil {
		return nil, err
	}

	// Timestamps: Segment takes the sent "timestamp" as originalTimestamp
	// and derives timestamp = receivedAt - (sentAt - originalTimestamp).
	ot, err := timeField(fields, "originalTimestamp")
	if err != nil {
		return nil, err
	}
	ts, err := timeField(fields, "timestamp")
	if err != nil {
		return nil, err
	}
	switch {
	case ot.IsZero() && ts.IsZero():
		at := m.ReceivedAt
		if at.IsZero() {
			return nil, errors.New("message has no timestamp, originalTimestamp or receivedAt")
		}
		ot, ts = at, at
	case ot.IsZero():
		ot = ts
	case ts.IsZero():
		ts = ot
	}
	w.originalTimestamp = originalString(fields, ot)
	w.offset = ts.Sub(ot)
	for _, k := range dropped {
		delete(fields, k)
	}
	return w, nil
}

// originalString returns the stored originalTimestamp's own text when it
// has one, else t in router.TimeLayout.
func originalString(fields map[string]json.RawMessage, t time.Time) string {
	var s string
	if raw, ok := fields["originalTimestamp"]; ok && json.Unmarshal(raw, &s) == nil && s != "" {
		return s
	}
	return router.FormatTime(t)
}

// encode returns the message's JSON as sent at now: its fields, with
// "timestamp" set to the stored originalTimestamp (which Segment records
// as originalTimestamp) and "sentAt" to now minus the offset the stored
// timestamp had from it, so that Segment derives the stored (corrected)
// timestamp again, up to the skew between Segment's clock and ours.
func (w *wire) encode(now time.Time) ([]byte, error) {
	w.fields["timestamp"] = mustJSON(w.originalTimestamp)
	w.fields["sentAt"] = mustJSON(router.FormatTime(now.Add(-w.offset)))
	return marshal(w.fields)
}

// marshal encodes fields as a JSON object with sorted keys, each value as
// it is (compacted, with no HTML escaping added).
func marshal(fields map[string]json.RawMessage) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(fields); err != nil {
		return nil, fmt.Errorf("encoding message: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// mustJSON encodes a string; encoding a string cannot fail.
func mustJSON(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// str returns the string field k; absent or null is "".
func str(fields map[string]json.RawMessage, k string) (string, error) {
	raw, ok := fields[k]
	if !ok || isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("field %s is a %s, not a string", k, jsonType(raw))
	}
	return s, nil
}

// object checks that field k, when present and not null, is an object.
func object(fields map[string]json.RawMessage, k string) error {
	raw, ok := fields[k]
	if !ok || isNull(raw) || jsonType(raw) == "object" {
		return nil
	}
	return fmt.Errorf("field %s is a %s, not an object", k, jsonType(raw))
}

// timeField parses the time field k; absent or null is the zero time.
func timeField(fields map[string]json.RawMessage, k string) (time.Time, error) {
	s, err := str(fields, k)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing %s: %w", k, err)
	}
	return t.UTC(), nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// jsonType names the JSON type of a raw value.
func jsonType(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// mergeDisabled adds every name of disable to the message's integrations
// as false unless the message names it itself (an absent or null
// integrations object counts as empty). Names are matched exactly, as
// Segment does.
func mergeDisabled(fields map[string]json.RawMessage, disable []string) error {
	if len(disable) == 0 {
		return nil
	}
	var in map[string]json.RawMessage
	if raw, ok := fields["integrations"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &in); err != nil {
			return fmt.Errorf("decoding integrations: %w", err)
		}
	}
	added := false
	for _, name := range disable {
		if _, named := in[name]; named {
			continue
		}
		if in == nil {
			in = make(map[string]json.RawMessage, len(disable))
		}
		in[name] = json.RawMessage("false")
		added = true
	}
	if !added {
		return nil
	}
	b, err := marshal(in)
	if err != nil {
		return err
	}
	fields["integrations"] = b
	return nil
}
