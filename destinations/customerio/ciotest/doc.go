// Package ciotest is a fake of Customer.io's Track API v1 for tests: an
// httptest server that checks requests the way Customer.io does
// and records what it accepted.
//
// It checks HTTP Basic auth (site id : API key, standard or URL-safe
// base64), routes and JSON bodies of the endpoints
// (PUT /api/v1/customers/{id}, POST /api/v1/customers/{id}/events,
// POST /api/v1/events, POST /api/v1/merge_customers,
// GET /api/v1/accounts/region), enforces Customer.io's data limits with 400
// and Customer.io's error body {"meta":{"errors":[...]}}, ignores an event
// whose id it has seen before (answering 200, like Customer.io), and keeps
// the people (merged attributes), their events and every request.
//
// Failures are scripted: [Server.FailNext] queues answers with a given
// status, and [Server.SetRateLimit] answers 429 with Retry-After above a
// rate. The fake is stricter than Customer.io in two ways, to catch
// mapping mistakes: event bodies may hold only the documented keys, and an
// event timestamp above 10^11 (milliseconds, not seconds) is refused.
package ciotest
