package growsurf

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// ErrMalformed means a webhook body is not JSON or not a JSON object;
// ingest answers 400.
var ErrMalformed = errors.New("malformed growsurf webhook")

// The reason codes of [Result.Unmapped], stored with the raw body in the
// rejected stream.
const (
	// ReasonUnmappedEvent: a real GrowSurf event with no default mapping
	// (PARTICIPANT_FRAUD_STATUS_UPDATED, CAMPAIGN_ENDED and the affiliate
	// events NEW_COMMISSION_ADDED, COMMISSION_ADJUSTED, NEW_PAYOUT_ISSUED).
	ReasonUnmappedEvent = "growsurf_unmapped_event"
	// ReasonUnknownEvent: an event type GrowSurf is not known to send (or
	// no event field at all).
	ReasonUnknownEvent = "growsurf_unknown_event"
	// ReasonRewardNotApproved: a reward pending manual approval
	// (reward.approved false); the approved delivery that follows maps.
	ReasonRewardNotApproved = "growsurf_reward_not_approved"
	// ReasonInvalidPayload: a mapped event lacking a field the mapping
	// needs (vector T6), such as the email of a
	// participant when the identifier is email. A retry would not fix it.
	ReasonInvalidPayload = "growsurf_invalid_payload"
)

// The GrowSurf event types: the seven real ones and the four legacy
// names of GrowSurf's integration guide.
const (
	EventNewParticipantAdded           = "NEW_PARTICIPANT_ADDED"
	EventParticipantReachedAGoal       = "PARTICIPANT_REACHED_A_GOAL"
	EventParticipantFraudStatusUpdated = "PARTICIPANT_FRAUD_STATUS_UPDATED"
	EventCampaignEnded                 = "CAMPAIGN_ENDED"
	EventNewCommissionAdded            = "NEW_COMMISSION_ADDED"
	EventCommissionAdjusted            = "COMMISSION_ADJUSTED"
	EventNewPayoutIssued               = "NEW_PAYOUT_ISSUED"

	LegacyParticipantCreated        = "PARTICIPANT_CREATED"
	LegacyParticipantReferred       = "PARTICIPANT_REFERRED"
	LegacyCampaignReferralConverted = "CAMPAIGN_REFERRAL_CONVERTED"
	LegacyParticipantReachedReward  = "PARTICIPANT_REACHED_REWARD"
)

// IntegrationName is the value of context.integration.name in every
// message the source emits.
const IntegrationName = "growsurf"

// maxIDLength is the longest messageId kept readable; longer ones are
// hashed (Segment's limit).
const maxIDLength = 100

// Result is what one GrowSurf delivery becomes.
type Result struct {
	// DeliveryKey identifies this GrowSurf delivery for the 14-day dedupe
	// memory: deterministic from GrowSurf's natural ids, equal
	// for GrowSurf's retries of the same event. It contains ':' and
	// payload-supplied ids; hash or encode it where keys are restricted
	// (JetStream KV keys are).
	DeliveryKey string
	// Event is the webhook's event type as received (e.g.
	// "NEW_PARTICIPANT_ADDED", or the legacy "PARTICIPANT_REFERRED").
	Event string
	// Legacy is true when the body has the integration guide's shape
	// ({event, participant, referrer}) rather than GrowSurf's envelope.
	Legacy bool
	// Messages are the Segment messages, identify before track for the
	// same person, each a complete normalised router.Message.
	Messages []router.Message
	// Unmapped is non-empty when the delivery maps to no message: one of
	// the Reason* codes. Messages is then empty and ingest keeps the raw
	// body in the rejected stream with this reason.
	Unmapped string
	// Detail explains Unmapped for people, e.g. "data.email: missing".
	Detail string
}

type object = map[string]any

// Convert turns one webhook body into Segment messages for the source named
// source, received at receivedAt. A body that is not JSON or not an object
// is an error wrapping [ErrMalformed]; every other body yields a Result,
// with Unmapped set when nothing maps. s should have passed
// [Settings.Validate]; empty or unknown values take their defaults.
func Convert(body []byte, source string, s Settings, receivedAt time.Time) (Result, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return Result{}, fmt.Errorf("decoding growsurf webhook: %w: %v", ErrMalformed, err)
	}
	var extra any
	if err := dec.Decode(&extra); err != io.EOF {
		return Result{}, fmt.Errorf("decoding growsurf webhook: %w: data after the JSON value", ErrMalformed)
	}
	m, ok := root.(object)
	if !ok {
		return Result{}, fmt.Errorf("decoding growsurf webhook: %w: not a JSON object", ErrMalformed)
	}
	c := converter{
		s:          s.resolve(),
		source:     source,
		receivedAt: receivedAt,
		received:   router.FormatTime(receivedAt),
		body:       body,
		root:       m,
	}
	return c.convert(), nil
}

// converter holds one Convert call's state.
type converter struct {
	s          resolved
	source     string
	receivedAt time.Time
	received   string
	body       []byte
	root       object
	legacy     bool
	cid        string // campaign id, "-" when unknown
	res        Result
}

// invalid is a payload problem: the path of the missing or unusable field.
type invalid string

func (c *converter) convert() Result {
	ev, _ := c.root["event"].(string)
	c.res.Event = ev
	container, hasData := c.root["data"].(object)
	if !hasData {
		container = c.root
		c.legacy = true
	}
	c.res.Legacy = c.legacy
	c.cid = campaignID(container, ev)

	var problem invalid
	switch ev {
	case EventNewParticipantAdded, LegacyParticipantCreated, LegacyParticipantReferred:
		problem = c.join(container)
	case EventParticipantReachedAGoal, LegacyParticipantReachedReward:
		problem = c.reward(container)
	case LegacyCampaignReferralConverted:
		problem = c.converted(container)
	case EventCampaignEnded:
		endedAt, ok := millis(container["endedAt"])
		if ok {
			c.res.DeliveryKey = c.key(ev, strconv.FormatInt(endedAt, 10))
		}
		c.unmapped(ReasonUnmappedEvent, "no mapping for "+ev)
	case EventParticipantFraudStatusUpdated, EventNewCommissionAdded, EventCommissionAdjusted, EventNewPayoutIssued:
		c.unmapped(ReasonUnmappedEvent, "no mapping for "+ev)
	default:
		if ev == "" {
			c.unmapped(ReasonUnknownEvent, "event: missing or not a string")
		} else {
			c.unmapped(ReasonUnknownEvent, "unknown event type "+strconv.Quote(ev))
		}
	}
	if problem != "" {
		c.res.Messages = nil
		c.unmapped(ReasonInvalidPayload, string(problem))
	}
	if c.res.DeliveryKey == "" {
		c.res.DeliveryKey = c.hashKey()
	}
	identifiesFirst(c.res.Messages)
	return c.res
}

// identifiesFirst moves each identify that follows a track of the same
// userId to just before that person's first track, keeping everything else
// in order. It only acts when two roles of one delivery resolve to the
// same person, as in a self-referral (referrer and referee share an email).
func identifiesFirst(msgs []router.Message) {
	for i := 0; i < len(msgs); i++ {
		if msgs[i].Type != router.TypeIdentify {
			continue
		}
		first := -1
		for j := 0; j < i; j++ {
			if msgs[j].Type == router.TypeTrack && msgs[j].UserID == msgs[i].UserID {
				first = j
				break
			}
		}
		if first < 0 {
			continue
		}
		m := msgs[i]
		copy(msgs[first+1:i+1], msgs[first:i])
		msgs[first] = m
	}
}

func (c *converter) unmapped(reason, detail string) {
	c.res.Unmapped = reason
	c.res.Detail = detail
}

// key builds "growsurf:<cid>:<parts...>".
func (c *converter) key(parts ...string) string {
	return "growsurf:" + c.cid + ":" + strings.Join(parts, ":")
}

// hashKey is the DeliveryKey of a delivery without natural ids: the event
// (or "unknown") and the SHA-256 of the raw body, so that byte-identical
// retries share it.
func (c *converter) hashKey() string {
	kind := "unknown"
	if c.res.Unmapped != ReasonUnknownEvent && c.res.Event != "" {
		kind = c.res.Event
	}
	sum := sha256.Sum256(c.body)
	return c.key(kind, "sha256", hex.EncodeToString(sum[:16]))
}

// path names a field for Detail in the shape the body has.
func (c *converter) path(p string) string {
	if c.legacy {
		return p
	}
	return "data." + p
}

// join maps NEW_PARTICIPANT_ADDED and the legacy PARTICIPANT_CREATED and
// PARTICIPANT_REFERRED: the participant's identify and
// referral_program_joined; when referred, the referrer's identify and
// referral_made (and referral_converted with the signup trigger).
func (c *converter) join(container object) invalid {
	p, prefix := container, ""
	if nested, ok := container["participant"].(object); ok {
		p, prefix = nested, "participant."
	} else if c.legacy {
		return invalid("participant: missing or not an object")
	}
	refObj, refPath := referrerObject(container, p, prefix)
	if prob := c.checkJoined(p, prefix); prob != "" {
		return prob
	}
	pid := participantID(p)
	uid, fb, prob := c.userID(p, prefix)
	if prob != "" {
		return prob
	}
	var ref referrer
	if refObj != nil {
		if ref, prob = c.readReferrer(refObj, refPath); prob != "" {
			return prob
		}
	}

	created, hasCreated := millis(p["createdAt"])
	at := c.occurred(created, hasCreated)
	if !hasCreated {
		// Legacy payloads only: fall back to the envelope's createdAt.
		env, hasEnv := millis(c.root["createdAt"])
		at = c.occurred(env, hasEnv)
	}
	camp := campaign(container, p)
	code := referralCode(p)

	joinKey := c.key("participant_joined", pid)
	c.res.DeliveryKey = c.key(c.res.Event, pid)
	c.identify(joinKey, uid, fb, c.joinedTraits(p, ref.obj, code, created, hasCreated), at)
	c.track(joinKey, uid, fb, c.s.events[EventReferralProgramJoined], joinedProps(p, ref, camp, pid, code), at)
	if refObj == nil {
		return ""
	}
	if c.res.Event == LegacyParticipantReferred {
		c.res.DeliveryKey = c.key(c.res.Event, ref.id, pid)
	}
	c.referralMade(p, ref, camp, pid, created, hasCreated, at)
	return ""
}

// referrer is a participant's referrer, as join maps it.
type referrer struct {
	obj      object
	id       string // its GrowSurf participant id
	userID   string
	fellBack bool // userID is not the configured identifier (see userID)
}

// referrerObject finds the participant p's referrer: beside it in the
// container, else inside it; refPath is where, for problems.
func referrerObject(container, p object, prefix string) (ref object, refPath string) {
	if r, ok := container["referrer"].(object); ok {
		return r, "referrer"
	}
	if r, ok := p["referrer"].(object); ok {
		return r, prefix + "referrer"
	}
	return nil, "referrer"
}

// checkJoined says what the participant p (at prefix) lacks: outside
// legacy payloads, every field the mapping needs (id, email, shareUrl,
// createdAt, the campaign's id and the envelope's createdAt); always, an
// id and an email.
func (c *converter) checkJoined(p object, prefix string) invalid {
	if !c.legacy {
		for _, f := range []string{"id", "email", "shareUrl"} {
			if str(p[f]) == "" {
				return invalid(c.path(prefix+f) + ": missing")
			}
		}
		if _, ok := millis(p["createdAt"]); !ok {
			return invalid(c.path(prefix+"createdAt") + ": missing or not a unix time in milliseconds")
		}
		if c.cid == "-" {
			return invalid(c.path("campaign.id") + ": missing")
		}
		if _, ok := millis(c.root["createdAt"]); !ok {
			return invalid("createdAt: missing or not a unix time in milliseconds")
		}
	}
	if participantID(p) == "" {
		return invalid(c.path(prefix+"id") + ": missing")
	}
	if str(p["email"]) == "" {
		return invalid(c.path(prefix+"email") + ": missing")
	}
	return ""
}

// readReferrer reads the ids of the referrer r (at refPath).
func (c *converter) readReferrer(r object, refPath string) (referrer, invalid) {
	ref := referrer{obj: r, id: participantID(r)}
	if ref.id == "" {
		return referrer{}, invalid(c.path(refPath+".id") + ": missing")
	}
	var prob invalid
	if ref.userID, ref.fellBack, prob = c.userID(r, refPath+"."); prob != "" {
		return referrer{}, prob
	}
	return ref, ""
}

// joinedTraits are the participant p's traits on joining (with its
// referrer's email when referred, ref non-nil).
func (c *converter) joinedTraits(p, ref object, code string, created int64, hasCreated bool) object {
	tr := c.s.traits
	traits := object{}
	setStr(traits, tr[TraitEmail], p["email"])
	setStr(traits, tr[TraitFirstName], p["firstName"])
	setStr(traits, tr[TraitLastName], p["lastName"])
	setStr(traits, tr[TraitReferralCode], code)
	setStr(traits, tr[TraitReferralLink], p["shareUrl"])
	traits[tr[TraitReferralStatus]] = "active"
	setCount(traits, tr[TraitTotalReferrals], p["referralCount"])
	if ref != nil {
		setStr(traits, tr[TraitReferredBy], ref["email"])
	}
	if hasCreated {
		traits[tr[TraitReferralProgramJoinDate]] = unixSeconds(created)
	}
	return traits
}

// joinedProps are the properties of referral_program_joined.
func joinedProps(p object, ref referrer, camp object, pid, code string) object {
	props := object{}
	setStr(props, "campaign_id", camp["id"])
	setStr(props, "campaign_name", camp["name"])
	setStr(props, "growsurf_participant_id", pid)
	setStr(props, "referral_code", code)
	setStr(props, "referral_link", p["shareUrl"])
	setStr(props, "referral_source", p["referralSource"])
	if ref.obj != nil {
		setStr(props, "referred_by", ref.obj["email"])
		setStr(props, "referrer_participant_id", ref.id)
	}
	return props
}

// referralMade sends the referrer's side of the participant p's joining
// (pid): its identify and referral_made, and referral_converted with the
// signup trigger.
func (c *converter) referralMade(p object, ref referrer, camp object, pid string, created int64, hasCreated bool, at time.Time) {
	tr := c.s.traits
	rtraits := object{}
	if c.s.identifier != IdentifierEmail {
		setStr(rtraits, tr[TraitEmail], ref.obj["email"])
	}
	setCount(rtraits, tr[TraitTotalReferrals], ref.obj["referralCount"])
	if hasCreated {
		rtraits[tr[TraitLastReferralDate]] = unixSeconds(created)
	}
	made := object{}
	setStr(made, "campaign_id", camp["id"])
	setStr(made, "campaign_name", camp["name"])
	setStr(made, "referee_participant_id", pid)
	setStr(made, "referee_email", p["email"])
	setStr(made, "referee_first_name", p["firstName"])
	setCount(made, "total_referrals", ref.obj["referralCount"])

	madeKey := c.key("referral_made", ref.id, pid)
	c.identify(madeKey, ref.userID, ref.fellBack, rtraits, at)
	c.track(madeKey, ref.userID, ref.fellBack, c.s.events[EventReferralMade], made, at)
	if c.s.trigger == TriggerSignup {
		c.track(c.key("referral_converted", ref.id, pid), ref.userID, ref.fellBack, c.s.events[EventReferralConverted], made, at)
	}
}

// converted maps the legacy CAMPAIGN_REFERRAL_CONVERTED (which GrowSurf
// itself never sends): referral_converted on the referrer of
// the participant, with the properties of referral_made.
func (c *converter) converted(container object) invalid {
	p, prefix := container, ""
	if nested, ok := container["participant"].(object); ok {
		p, prefix = nested, "participant."
	} else if c.legacy {
		return invalid("participant: missing or not an object")
	}
	referrer, refPath := object(nil), "referrer"
	if r, ok := container["referrer"].(object); ok {
		referrer = r
	} else if r, ok := p["referrer"].(object); ok {
		referrer, refPath = r, prefix+"referrer"
	}
	if referrer == nil {
		return invalid(c.path(refPath) + ": missing or not an object")
	}
	pid := participantID(p)
	if pid == "" {
		return invalid(c.path(prefix+"id") + ": missing")
	}
	rid := participantID(referrer)
	if rid == "" {
		return invalid(c.path(refPath+".id") + ": missing")
	}
	ruid, rfb, prob := c.userID(referrer, refPath+".")
	if prob != "" {
		return prob
	}
	env, hasEnv := millis(c.root["createdAt"])
	at := c.occurred(env, hasEnv)
	camp := campaign(container, p)
	props := object{}
	setStr(props, "campaign_id", camp["id"])
	setStr(props, "campaign_name", camp["name"])
	setStr(props, "referee_participant_id", pid)
	setStr(props, "referee_email", p["email"])
	setStr(props, "referee_first_name", p["firstName"])
	setCount(props, "total_referrals", referrer["referralCount"])
	if c.s.identifier != IdentifierEmail {
		if email := str(referrer["email"]); email != "" {
			c.identify(c.key("referral_converted", rid, pid), ruid, rfb, object{c.s.traits[TraitEmail]: email}, at)
		}
	}
	c.res.DeliveryKey = c.key(c.res.Event, rid, pid)
	c.track(c.key("referral_converted", rid, pid), ruid, rfb, c.s.events[EventReferralConverted], props, at)
	return ""
}

// reward maps PARTICIPANT_REACHED_A_GOAL and the legacy
// PARTICIPANT_REACHED_REWARD: for an approved reward, the participant's
// identify (total_referrals) and referral_reward_earned.
func (c *converter) reward(container object) invalid {
	rw, ok := container["reward"].(object)
	if !ok {
		return invalid(c.path("reward") + ": missing or not an object")
	}
	approved, hasApproved := rw["approved"].(bool)
	if hasApproved && !approved {
		if id := str(rw["id"]); id != "" {
			c.res.DeliveryKey = c.key(c.res.Event, id, "pending")
		}
		c.unmapped(ReasonRewardNotApproved, "reward "+strconv.Quote(str(rw["id"]))+" is pending approval")
		return ""
	}
	p, ok := container["participant"].(object)
	if !ok {
		return invalid(c.path("participant") + ": missing or not an object")
	}
	isReferrer, hasIsReferrer := rw["isReferrer"].(bool)
	if !c.legacy {
		switch {
		case !hasApproved:
			return invalid(c.path("reward.approved") + ": missing or not a boolean")
		case !hasIsReferrer:
			return invalid(c.path("reward.isReferrer") + ": missing or not a boolean")
		case str(p["id"]) == "":
			return invalid(c.path("participant.id") + ": missing")
		case str(p["email"]) == "":
			return invalid(c.path("participant.email") + ": missing")
		case c.cid == "-":
			return invalid(c.path("campaign.id") + ": missing")
		}
	}
	rewardID := str(rw["id"])
	if rewardID == "" {
		return invalid(c.path("reward.id") + ": missing")
	}
	pid := participantID(p)
	if pid == "" {
		return invalid(c.path("participant.id") + ": missing")
	}
	uid, fb, prob := c.userID(p, "participant.")
	if prob != "" {
		return prob
	}
	if !hasIsReferrer {
		// Legacy payloads may leave it out: infer it from the reward's ids.
		switch pid {
		case str(rw["referrerId"]):
			isReferrer, hasIsReferrer = true, true
		case str(rw["referredId"]):
			isReferrer, hasIsReferrer = false, true
		}
	}

	at, hasAt := millis(rw["approvedAt"])
	if !hasAt {
		at, hasAt = millis(c.root["createdAt"])
	}
	ts := c.occurred(at, hasAt)
	camp := campaign(container, p)

	traits := object{}
	if c.s.identifier != IdentifierEmail {
		setStr(traits, c.s.traits[TraitEmail], p["email"])
	}
	setCount(traits, c.s.traits[TraitTotalReferrals], p["referralCount"])

	props := object{}
	setStr(props, "campaign_id", camp["id"])
	setStr(props, "campaign_name", camp["name"])
	setStr(props, "participant_reward_id", rewardID)
	setStr(props, "campaign_reward_id", rw["rewardId"])
	setStr(props, "reward_title", rw["title"])
	setStr(props, "reward_description", rw["description"])
	setStr(props, "reward_type", rw["type"])
	setStr(props, "coupon_code", rw["couponCode"])
	if hasIsReferrer {
		props["is_referrer"] = isReferrer
		if isReferrer {
			other, _ := p["referee"].(object)
			setStr(props, "referee_participant_id", firstStr(other["id"], rw["referredId"]))
			setStr(props, "referee_email", other["email"])
		} else {
			other, _ := p["referrer"].(object)
			setStr(props, "referrer_participant_id", firstStr(other["id"], rw["referrerId"]))
			setStr(props, "referrer_email", other["email"])
		}
	}

	key := c.key("reward_earned", rewardID)
	c.res.DeliveryKey = c.key(c.res.Event, rewardID, "approved")
	c.identify(key, uid, fb, traits, ts)
	c.track(key, uid, fb, c.s.events[EventReferralRewardEarned], props, ts)
	return ""
}

// userID resolves a participant's userId per the identifier setting.
// fellBack is set when app_user_id fell back to the email.
func (c *converter) userID(p object, prefix string) (id string, fellBack bool, prob invalid) {
	switch c.s.identifier {
	case IdentifierGrowSurfID:
		if id = participantID(p); id == "" {
			return "", false, invalid(c.path(prefix+"id") + ": missing")
		}
		return id, false, ""
	case IdentifierAppUserID:
		if md, ok := p["metadata"].(object); ok {
			if id = scalar(md[c.s.appUserIDKey]); id != "" {
				return id, false, ""
			}
		}
		fellBack = true
	}
	if id = str(p["email"]); id == "" {
		return "", false, invalid(c.path(prefix+"email") + ": missing")
	}
	return id, fellBack, ""
}

// occurred is the message time: ms when known, else receivedAt.
func (c *converter) occurred(ms int64, ok bool) time.Time {
	if !ok {
		return c.receivedAt
	}
	return time.UnixMilli(ms).UTC()
}

func (c *converter) identify(key, userID string, fellBack bool, traits object, at time.Time) {
	if len(traits) == 0 {
		return
	}
	m := c.base(router.TypeIdentify, messageID(key, "identify"), userID, fellBack, at)
	m["traits"] = traits
	c.emit(m, router.TypeIdentify, userID, "")
}

func (c *converter) track(key, userID string, fellBack bool, event string, props object, at time.Time) {
	m := c.base(router.TypeTrack, messageID(key, "track"), userID, fellBack, at)
	m["event"] = event
	m["properties"] = props
	c.emit(m, router.TypeTrack, userID, event)
}

// base builds the fields every message has, as ingest normalises a
// server-side message with a timestamp and no sentAt:
// timestamp = originalTimestamp = the GrowSurf time.
func (c *converter) base(typ, id, userID string, fellBack bool, at time.Time) object {
	ts := router.FormatTime(at)
	m := object{
		"type":              typ,
		"messageId":         id,
		"userId":            userID,
		"context":           object{"integration": object{"name": IntegrationName}},
		"timestamp":         ts,
		"originalTimestamp": ts,
		"receivedAt":        c.received,
		"channel":           "server",
		"version":           json.Number("2"),
	}
	if fellBack {
		m["_ingest"] = object{"notes": []any{object{
			"code":  "growsurf_identifier_fallback",
			"field": "userId",
			"value": "metadata." + c.s.appUserIDKey,
		}}}
	}
	return m
}

func (c *converter) emit(m object, typ, userID, event string) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		// Every value is a string, bool, json.Number from the decoder or a
		// map of those, so encoding cannot fail.
		panic("growsurf: encoding message: " + err.Error())
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
	c.res.Messages = append(c.res.Messages, router.Message{
		ID:         m["messageId"].(string),
		Source:     c.source,
		Type:       typ,
		UserID:     userID,
		Event:      event,
		ReceivedAt: c.receivedAt,
		Body:       json.RawMessage(body),
	})
}

// messageID is "<key>:<suffix>", or, when that would exceed
// 100 characters, "growsurf:sha256:<32 hex of SHA-256(key)>:<suffix>".
func messageID(key, suffix string) string {
	id := key + ":" + suffix
	if len(id) <= maxIDLength {
		return id
	}
	sum := sha256.Sum256([]byte(key))
	return "growsurf:sha256:" + hex.EncodeToString(sum[:16]) + ":" + suffix
}

// campaignID finds the campaign id: data.campaign.id (or the legacy
// top-level campaign), the campaign itself for CAMPAIGN_ENDED, else "-".
func campaignID(container object, ev string) string {
	if camp, ok := container["campaign"].(object); ok {
		if id := scalar(camp["id"]); id != "" {
			return id
		}
	}
	if p, ok := container["participant"].(object); ok {
		if camp, ok := p["campaign"].(object); ok {
			if id := scalar(camp["id"]); id != "" {
				return id
			}
		}
	}
	if ev == EventCampaignEnded {
		if id := scalar(container["id"]); id != "" {
			return id
		}
	}
	return "-"
}

// campaign returns the campaign object of a delivery (possibly empty).
func campaign(container, p object) object {
	if camp, ok := container["campaign"].(object); ok {
		return camp
	}
	if camp, ok := p["campaign"].(object); ok {
		return camp
	}
	return object{}
}

// participantID is the participant's id, else the grsf code of its
// shareUrl (which is the id unless a vanity key was set).
func participantID(p object) string {
	if id := scalar(p["id"]); id != "" {
		return id
	}
	return grsf(str(p["shareUrl"]))
}

// referralCode is the grsf query value of shareUrl, falling back to the
// participant id (GrowSurf has no referralCode field).
func referralCode(p object) string {
	if code := grsf(str(p["shareUrl"])); code != "" {
		return code
	}
	return scalar(p["id"])
}

func grsf(shareURL string) string {
	if shareURL == "" {
		return ""
	}
	u, err := url.Parse(shareURL)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(u.Query().Get("grsf"))
}

// str is v as a trimmed string, "" for anything else.
func str(v any) string {
	s, _ := v.(string)
	return strings.TrimSpace(s)
}

// scalar is a string, or a number in its decimal form, as ingest coerces
// ids; "" for anything else.
func scalar(v any) string {
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v)
	case json.Number:
		return v.String()
	}
	return ""
}

func firstStr(vs ...any) string {
	for _, v := range vs {
		if s := scalar(v); s != "" {
			return s
		}
	}
	return ""
}

// setStr sets m[k] to v when v is a non-empty string (never send "",
// omit null).
func setStr(m object, k string, v any) {
	if s := str(v); s != "" {
		m[k] = s
	}
}

// setCount sets m[k] to v as a JSON integer when v is an integer, or a
// string holding one (GrowSurf's value, never adjusted).
func setCount(m object, k string, v any) {
	var lit string
	switch v := v.(type) {
	case json.Number:
		lit = v.String()
	case string:
		lit = strings.TrimSpace(v)
	default:
		return
	}
	if n, err := strconv.ParseInt(lit, 10, 64); err == nil {
		m[k] = json.Number(strconv.FormatInt(n, 10))
		return
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err == nil && f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		m[k] = json.Number(strconv.FormatInt(int64(f), 10))
	}
}

// Bounds of a usable unix time in milliseconds: 1970 to the end of 9999.
const maxMillis = 253402300799999

// millis reads a unix time in milliseconds (a JSON number, integral).
func millis(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	ms, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(n.String(), 64)
		if ferr != nil || f != math.Trunc(f) || f < 0 || f > maxMillis {
			return 0, false
		}
		ms = int64(f)
	}
	if ms < 0 || ms > maxMillis {
		return 0, false
	}
	return ms, true
}

// unixSeconds is ms / 1000, floored, as a JSON integer.
func unixSeconds(ms int64) json.Number {
	return json.Number(strconv.FormatInt(ms/1000, 10))
}
