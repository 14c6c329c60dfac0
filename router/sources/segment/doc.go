// Package segment is the source type "segment": a source of the Segment
// Tracking API, which the official Segment libraries, analytics.js and
// pixels send to, authenticated by its write keys. Its block in the config
// file takes write_keys and rate_limit besides the keys of every source
// (type, disabled, enforcement); see [Config].
//
// The Tracking API itself (its routes, body limits, batches, pixels,
// normalisation, answers) stays ingest's own handling rather than a set of
// routes this package mounts: it is shared by every source of this type,
// authenticated per request by the write key, and tied to ingest's request
// pipeline (limits, CORS, the unauthenticated sample, rate limits) in a
// way a per-source route is not. A segment source is therefore a
// router.TrackingAPISource that mounts no webhook routes: it tells ingest
// its write keys and rate limit, and ingest serves them. Choosing so keeps
// the contract of router.Source small (the routes a source mounts) and the
// Tracking API, the path every official client takes, as fast as it was.
package segment
