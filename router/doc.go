// Package router is eventrouter's domain: the Segment message as it flows
// through the system ([Message], [Rejected]), the destination contract
// ([Destination], [Factory], [Registry]) and the error kinds with which a
// destination classifies the outcome of one delivery attempt ([Permanent],
// [RetryAfter], [BatchError]).
//
// The package imports nothing from the project and only the standard library,
// so every other package can depend on it.
package router
