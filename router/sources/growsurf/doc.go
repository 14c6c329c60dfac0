// Package growsurf turns GrowSurf referral-program webhooks into Segment
// identify and track messages. It is
// pure: [VerifySignature] checks a delivery's signature, [Convert] maps its
// body to normalised [router.Message]s. [NewFactory] makes it the source
// type "growsurf" (a router.SourceFactory, listed by sources.Builtin): its
// block in the config file is a [Config], and the source it builds mounts
// a route on Config.Path (and on [LegacyPath] when asked) whose webhook
// verifies and converts; ingest hosts that route, stores the messages in
// the log and keeps what does not map in the rejected stream.
//
// # Mapping
//
// GrowSurf's real webhooks are an envelope {"event", "createdAt" (unix
// ms), "data"} with one of seven event types. With the default
// [Mapping]:
//
//	NEW_PARTICIPANT_ADDED           identify + referral_program_joined on the participant (data);
//	  with data.referrer set          + identify (total_referrals, last_referral_date)
//	                                    + referral_made on the referrer;
//	  and referral_trigger: signup    + referral_converted on the referrer
//	PARTICIPANT_REACHED_A_GOAL      reward.approved true: identify (total_referrals)
//	                                  + referral_reward_earned on data.participant;
//	                                reward.approved false: nothing (growsurf_reward_not_approved)
//	PARTICIPANT_FRAUD_STATUS_UPDATED, CAMPAIGN_ENDED, NEW_COMMISSION_ADDED,
//	COMMISSION_ADJUSTED, NEW_PAYOUT_ISSUED
//	                                nothing (growsurf_unmapped_event)
//	any other event                 nothing (growsurf_unknown_event)
//
// GrowSurf sends no webhook when a referral is credited:
// referral_converted normally comes from the product backend through
// /v1/track.
//
// The participant's identify carries these traits: email,
// first_name and last_name (left out when null or empty), referral_code
// (the grsf query value of shareUrl, else the participant id; GrowSurf
// has no referralCode field), referral_link (shareUrl), referral_status
// ("active"), total_referrals (referralCount as a JSON integer, never
// adjusted), referred_by (the referrer's email, only when referred) and
// referral_program_join_date (createdAt in unix seconds). Track properties
// are GrowSurf's fields, flat, with absent values left out. Every name in
// the Segment output can be changed through [Mapping] (YAML "mapping:
// {events: ..., traits: ...}"); property names are fixed.
//
// Within a delivery a person's identify always precedes that person's
// tracks, so that Customer.io has the attributes when a campaign triggers.
//
// # Identity
//
// [Settings.Identifier] picks the userId: the email as received
// (default), the app user id from metadata[app_user_id_key] (falling back
// to the email, noted in the message's "_ingest" notes as
// growsurf_identifier_fallback), or GrowSurf's participant id. The new
// participant's identify always has the email trait; the referrer's and
// the reward earner's identifies carry only what changed (vectors T2, T3), plus
// the email when userId is not the email. A participant without an email,
// or a referrer whose identity cannot be resolved, makes the delivery
// growsurf_invalid_payload (vector T6): 200 to GrowSurf, raw body kept.
// With the real envelope the fields GrowSurf always sends are
// required as well (data.id, email, shareUrl, createdAt, campaign.id and
// the envelope createdAt for NEW_PARTICIPANT_ADDED; participant id and
// email, reward id, approved and isReferrer, campaign.id for
// PARTICIPANT_REACHED_A_GOAL).
//
// # The integration guide's shape
//
// GrowSurf's marketing guides relay events with a handler reading
// {event, participant, referrer} and the names PARTICIPANT_CREATED,
// PARTICIPANT_REFERRED, CAMPAIGN_REFERRAL_CONVERTED and
// PARTICIPANT_REACHED_REWARD, which GrowSurf never sends. A body
// without a "data" object is read in that shape (participant, referrer,
// reward and campaign at the top level; [Result.Legacy] is set):
// PARTICIPANT_CREATED and PARTICIPANT_REFERRED map like
// NEW_PARTICIPANT_ADDED (referral_made whenever a referrer is present, so
// both produce the same messageIds), PARTICIPANT_REACHED_REWARD like
// PARTICIPANT_REACHED_A_GOAL (a missing approved counts as approved, a
// missing isReferrer is inferred from reward.referrerId/referredId), and
// CAMPAIGN_REFERRAL_CONVERTED becomes referral_converted on the referrer
// with referral_made's properties, at the envelope's createdAt. Fields are
// optional in this shape except what keys and identities need: the
// participant's id (or a shareUrl with grsf), the email of a joining
// participant, the identifier's field, and the reward id. Legacy names
// inside the real envelope are accepted too.
//
// # Signature
//
// A secret configured on the GrowSurf webhook makes every delivery carry
// "GrowSurf-Signature: ts=<unix ms>,v=<hex>", the HMAC-SHA256 of
// "<ts>.<raw body>". [VerifySignature] checks it on the raw
// bytes before anything is parsed, with hmac.Equal, then checks ts
// against a tolerance: [DefaultTolerance] is 7 days because GrowSurf
// retries failed deliveries for several days and may keep the first
// attempt's ts; replays inside the window are made harmless by the dedupe
// below. A ts more than [MaxFutureSkew] ahead is always refused.
//
// # Idempotency
//
// GrowSurf has no delivery id and retries for days, so keys come from its
// natural ids, never from the envelope's createdAt. With <cid>
// the campaign id ("-" when a legacy body has none):
//
//	participant joined   growsurf:<cid>:participant_joined:<participant id>
//	referral made        growsurf:<cid>:referral_made:<referrer id>:<participant id>
//	referral converted   growsurf:<cid>:referral_converted:<referrer id>:<participant id>
//	reward earned        growsurf:<cid>:reward_earned:<reward.id>
//
// A message's messageId (its [router.Message.ID]) is "<key>:identify" or
// "<key>:track", so a Customer.io destination recovers the key by removing
// the suffix and derives its event id (a ULID of the message
// time and SHA-256 of the key). A messageId longer than 100 characters
// becomes "growsurf:sha256:<32 hex of SHA-256(key)>:<suffix>".
//
// [Result.DeliveryKey] identifies the delivery for ingest's 14-day dedupe
// memory: "growsurf:<cid>:<EVENT>:<ids>" — the participant id for a join
// (referrer and participant ids for the legacy PARTICIPANT_REFERRED and
// CAMPAIGN_REFERRAL_CONVERTED), the reward id plus "approved" or "pending"
// for a reward, endedAt for CAMPAIGN_ENDED. Deliveries without natural ids
// (fraud status, affiliate and unknown events, invalid payloads) use
// "growsurf:<cid>:<EVENT or unknown>:sha256:<32 hex of SHA-256(body)>", so
// that byte-identical retries are recognised and nothing distinct is
// dropped.
//
// # Messages
//
// Each Body is what ingest stores for a server-side message: a JSON object
// with sorted keys and no HTML escaping, holding type, messageId, userId,
// traits or event and properties, context {"integration": {"name":
// "growsurf"}}, timestamp and originalTimestamp (the GrowSurf time: the
// participant's createdAt for a join, reward.approvedAt for a reward, each
// falling back to the envelope's createdAt, then to receivedAt),
// receivedAt, channel "server" and version 2, times in [router.TimeLayout].
package growsurf
