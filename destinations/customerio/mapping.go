package customerio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strconv"
	"strings"
	"time"

	customerio "github.com/customerio/go-customerio/v3"

	"github.com/eventrouter/eventrouter/router"
)

// opKind is the Customer.io call a message becomes.
type opKind int

const (
	opSkip opKind = iota
	opIdentify
	opTrack
	opTrackAnonymous
	opMerge
)

// op is one message mapped to one Customer.io call.
type op struct {
	kind      opKind
	what      string // "identify", "track", ... for errors
	person    string // the path identifier of identify and track
	anonID    string // TrackAnonymous's anonymous_id
	name      string // event name
	attrs     map[string]any
	data      map[string]any
	eventID   string
	eventType customerio.TrackType // "" for plain events
	at        time.Time
	primary   customerio.Identifier
	secondary customerio.Identifier
}

// segment is the part of a normalised Segment message the mapping reads.
type segment struct {
	Type              string         `json:"type"`
	MessageID         string         `json:"messageId"`
	UserID            any            `json:"userId"`
	AnonymousID       any            `json:"anonymousId"`
	PreviousID        any            `json:"previousId"`
	GroupID           any            `json:"groupId"`
	Event             string         `json:"event"`
	Name              string         `json:"name"`
	Traits            map[string]any `json:"traits"`
	Properties        map[string]any `json:"properties"`
	Context           map[string]any `json:"context"`
	Timestamp         string         `json:"timestamp"`
	OriginalTimestamp string         `json:"originalTimestamp"`
}

// mapper turns messages into ops for one config.
type mapper struct {
	identifier  string
	group       string
	groupPrefix string
}

// mapMessage maps m to its Customer.io call. An error is permanent: the
// message cannot be delivered as it is (not decodable, no addressable
// person, over a data limit).
func (mp mapper) mapMessage(m router.Message) (op, error) {
	var s segment
	dec := json.NewDecoder(bytes.NewReader(m.Body))
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		return op{}, fmt.Errorf("decoding message %s: %w", m.ID, err)
	}
	if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
		return op{}, fmt.Errorf("decoding message %s: data after the JSON value", m.ID)
	}
	if s.Type == "" {
		s.Type = m.Type
	}
	if s.MessageID == "" {
		s.MessageID = m.ID
	}
	userID, anonID := idString(s.UserID), idString(s.AnonymousID)
	at := messageTime(s, m.ReceivedAt)

	var o op
	var err error
	switch s.Type {
	case router.TypeIdentify:
		o, err = mp.identify(s, userID, anonID)
	case router.TypeTrack:
		o, err = mp.event(s, userID, anonID, s.Event, "", s.Properties)
	case router.TypePage:
		o, err = mp.event(s, userID, anonID, pageName(s), customerio.TrackTypePage, pageData(s))
	case router.TypeScreen:
		o, err = mp.event(s, userID, anonID, firstNonEmpty(s.Name, str(s.Properties["name"]), "screen"), customerio.TrackTypeScreen, s.Properties)
	case router.TypeGroup:
		o, err = mp.groupOp(s, userID)
	case router.TypeAlias:
		o, err = mp.alias(s, userID, anonID)
	default:
		return op{}, fmt.Errorf("mapping message %s: unknown type %q", m.ID, s.Type)
	}
	if err != nil {
		return op{}, fmt.Errorf("mapping %s %s: %w", s.Type, m.ID, err)
	}
	o.at = at
	if o.kind == opTrack || o.kind == opTrackAnonymous {
		o.eventID = EventID(EventKey(s.MessageID), at)
	}
	if err := checkLimits(o); err != nil {
		return op{}, fmt.Errorf("checking customer.io data limits of %s %s: %w", s.Type, m.ID, err)
	}
	return o, nil
}

func (mp mapper) identify(s segment, userID, anonID string) (op, error) {
	person, err := mp.person(s, userID, true)
	if err != nil {
		return op{}, err
	}
	attrs := attributes(s.Traits, "")
	if userID != "" && anonID != "" {
		// Lets Customer.io attach the anonymous events of anonID to the
		// person.
		if _, ok := attrs["anonymous_id"]; !ok {
			attrs["anonymous_id"] = anonID
		}
	}
	return op{kind: opIdentify, what: "identify", person: person, attrs: attrs}, nil
}

func (mp mapper) event(s segment, userID, anonID, name string, typ customerio.TrackType, data map[string]any) (op, error) {
	if name == "" {
		return op{}, errors.New("event: missing (Customer.io needs an event name)")
	}
	if data == nil {
		data = map[string]any{}
	}
	o := op{kind: opTrack, what: s.Type, name: name, data: data, eventType: typ}
	person, err := mp.person(s, userID, false)
	if err == nil {
		o.person = person
		return o, nil
	}
	if userID == "" && anonID != "" {
		o.kind, o.anonID = opTrackAnonymous, anonID
		return o, nil
	}
	return op{}, err
}

func (mp mapper) groupOp(s segment, userID string) (op, error) {
	if mp.group == GroupSkip {
		return op{kind: opSkip}, nil
	}
	person, err := mp.person(s, userID, false)
	if err != nil {
		return op{}, err
	}
	attrs := attributes(s.Traits, mp.groupPrefix)
	if gid := idString(s.GroupID); gid != "" {
		attrs[mp.groupPrefix+"id"] = gid
	}
	return op{kind: opIdentify, what: "group", person: person, attrs: attrs}, nil
}

func (mp mapper) alias(s segment, userID, anonID string) (op, error) {
	prev := idString(s.PreviousID)
	switch {
	case userID == "":
		return op{}, errors.New("userId: missing (the person to merge into)")
	case prev == "":
		return op{}, errors.New("previousId: missing (the person to merge)")
	case prev == userID:
		return op{kind: opSkip}, nil
	case prev == anonID:
		return op{}, fmt.Errorf("previousId is the message's anonymousId: Customer.io cannot merge an anonymous profile; identify the person with that anonymous id instead")
	}
	typ := customerio.IdentifierTypeID
	if mp.identifier == IdentifierEmail {
		typ = customerio.IdentifierTypeEmail
		for _, p := range []struct{ field, v string }{{"userId", userID}, {"previousId", prev}} {
			if !isEmail(p.v) {
				return op{}, fmt.Errorf("%s is not an email address and identifier is email: Customer.io can merge only people it can address", p.field)
			}
		}
	}
	return op{
		kind:      opMerge,
		what:      "alias",
		primary:   customerio.Identifier{Type: typ, Value: userID},
		secondary: customerio.Identifier{Type: typ, Value: prev},
	}, nil
}

// person finds the path identifier of the person a message is about.
// traitsEmail tells whether traits.email is the person's (identify) rather
// than a group's.
func (mp mapper) person(s segment, userID string, traitsEmail bool) (string, error) {
	if mp.identifier == IdentifierID {
		if userID == "" {
			return "", errors.New("userId: missing (identifier is id, and Customer.io addresses people by id)")
		}
		return userID, nil
	}
	if traitsEmail {
		if e := str(s.Traits["email"]); e != "" {
			return e, nil
		}
	}
	if ct, ok := s.Context["traits"].(map[string]any); ok {
		if e := str(ct["email"]); e != "" {
			return e, nil
		}
	}
	if isEmail(userID) {
		return userID, nil
	}
	if traitsEmail {
		return "", errors.New("no email address in traits.email, context.traits.email or userId (identifier is email)")
	}
	return "", errors.New("no email address in context.traits.email or userId (identifier is email)")
}

// attributes turns traits into Customer.io attributes: names prefixed,
// null values left out (an absent value is never sent as ""), ISO-8601
// timestamps as unix seconds, Segment's createdAt as created_at.
func attributes(traits map[string]any, prefix string) map[string]any {
	out := make(map[string]any, len(traits)+1)
	for k, v := range traits {
		if v == nil {
			continue
		}
		if prefix == "" && k == "createdAt" {
			if _, ok := traits["created_at"]; ok {
				continue
			}
			k = "created_at"
		}
		if s, ok := v.(string); ok {
			if secs, ok := isoSeconds(s); ok {
				v = json.Number(strconv.FormatInt(secs, 10))
			}
		}
		out[prefix+k] = v
	}
	return out
}

// isoSeconds parses an RFC 3339 timestamp with a time of day.
func isoSeconds(s string) (int64, bool) {
	if len(s) < 20 || len(s) > 40 || s[4] != '-' || (s[10] != 'T' && s[10] != 't') {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, false
	}
	return t.Unix(), true
}

// messageTime is when the message happened: timestamp, else
// originalTimestamp, else when it was received.
func messageTime(s segment, received time.Time) time.Time {
	for _, v := range []string{s.Timestamp, s.OriginalTimestamp} {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t
		}
	}
	if received.IsZero() {
		return time.Now()
	}
	return received
}

// pageName is a page event's name: the page URL (properties.url, else
// context.page.url), else the page name, else "page".
func pageName(s segment) string {
	var ctxURL string
	if p, ok := s.Context["page"].(map[string]any); ok {
		ctxURL = str(p["url"])
	}
	return firstNonEmpty(str(s.Properties["url"]), ctxURL, s.Name, "page")
}

// pageData is a page's properties, with the page name as data.name when
// the properties lack it.
func pageData(s segment) map[string]any {
	if s.Name == "" {
		return s.Properties
	}
	if _, ok := s.Properties["name"]; ok {
		return s.Properties
	}
	out := make(map[string]any, len(s.Properties)+1)
	for k, v := range s.Properties {
		out[k] = v
	}
	out["name"] = s.Name
	return out
}

// idString reads an identity field: a string, or a number written as is.
func idString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return ""
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// isEmail reports whether s is a bare email address.
func isEmail(s string) bool {
	if s == "" || strings.ContainsAny(s, " <>\"") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}
