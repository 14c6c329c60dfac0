// Package transform is a destination's declarative reshaping of the
// messages dispatch sends it: a list of rules (the config's "transform"
// key) and a suppression window ("suppress"), written in the expression
// language of the webhook source (router/sources/webhook) and compiled once,
// at load, each problem reported with its key path ("transform[1].set.
// properties.plan: unknown name foo (column 1)").
//
// # Rules
//
//	transform:
//	  - set: {properties.plan: upper(message.properties.plan)}
//	    when: message.type == "track"
//	  - rename: {traits.email_address: traits.email}
//	  - remove: [context.ip, properties.card]
//	  - drop: internal_user
//	    when: message.userId endsWith "@example.com"
//
// Each rule does one thing: set (field paths to expressions; a null value
// removes the field; intermediate objects are created), rename (field
// paths to their new paths; a missing field is left alone), remove (field
// paths) or drop (a reason, a lower-case name; it needs when). when, an
// expression giving a boolean, guards any rule. Rules run in order, each
// seeing the message as the ones before left it; the values of one set
// are computed before any is written. A field path is names separated by
// dots (properties.plan); the top-level type and messageId cannot be
// changed (destinations read the type, and dedupe by the messageId). After
// the rules, userId, anonymousId and (for track) event must still be
// strings, a track must still have an event, and a message must still have
// userId or anonymousId (an alias its userId).
//
// Expressions see the message as message (message.properties.plan; a
// missing field is null, and so is a field of null) and the source's name
// as source; the functions and limits are the webhook source's (see its
// package documentation and docs/sources-webhook.md): text, id, integer,
// object, lower, upper, trim, unix, unix_ms, parse_time, seconds, millis,
// query, sha256 and expr's builtins (now() excluded: a transform depends on
// the message only, so a replay gives the same result), at most
// [MaxNodes] nodes per expression and [MemoryBudget] per evaluation, no
// predicate inside another's closure. TestSameFunctionsAsWebhook keeps the
// two function lists the same.
//
// # What dispatch does with them
//
// Dispatch runs a destination's rules after its filters, on a copy: the
// stored message never changes, so a replay or a redrive after the config
// is fixed delivers the fixed output. A drop is counted as filtered with
// its reason (eventrouter_dispatch_filtered_total{reason="internal_user"})
// and shown as filtered in the debugger, as the filters' reasons are. A
// rule that fails on a message (an expression error, a result that is no
// longer a message) dead-letters the message, unchanged, with the rule's
// key path in the error: nothing is sent half-transformed, and the dead
// letter can be redriven once the rule is fixed.
//
// # Suppression
//
//	suppress: {key: 'message.userId + ":" + message.event', window: 24h}
//
// skips a message whose key was delivered to this destination within the
// window before (filtered with reason "suppressed"). The key is computed on
// the message as it would be sent (after the rules); null or an empty
// string means no key, and the message is not suppressed; an object or an
// array is an error (dead letter). A key counts as delivered when the
// destination accepted the message (its Send returned success for it):
// not when it was read, sent, retried or dead-lettered, so a message that
// failed does not suppress the next one. Two messages with one key in one
// batch are not sent together: the second waits for the first's outcome.
//
// The delivered keys live in the dedupe index's store (package
// router/eventlog/dedupe: the same pebble instance, memory bounded by its
// cache, under a prefix of their own per destination), written without
// fsync: they survive a restart of the process, not a crash of the
// machine, and a dedupe index that is rebuilt after corruption starts with
// no keys. They are swept once their window has passed.
//
// With several instances, each process remembers the keys it delivered:
// the suppression is exact per partition holder, and since messages are
// partitioned by user, a key made of the user's id (as suppression keys
// usually are) is seen by one process at a time. When partitions move
// (an instance joins, leaves or dies), the new holder does not know the
// keys the previous one delivered, and may deliver one more message per
// key within the window. A key that spans users (message.properties.
// campaign alone) is suppressed per process.
//
// # Cost
//
// The message is read lazily: only the fields the rules read or change
// are decoded, and the others are written back byte for byte (numbers
// keep their exact text; a changed object's keys are sorted, as ingest
// writes them), and the commonest expressions (a field, a field compared
// with a string or tested for a prefix or suffix, a function of a field or
// of a field with a constant for null, a constant) run without the VM.
// BenchmarkApply5Rules (a 600-byte track message; a guarded upper-casing
// set, a rename, a remove of two context fields, a set with a default and
// a drop that does not fire) measured 2.2 µs per event (2.4 µs of CPU, 12
// allocations) on an idle 2-core machine, where
// BenchmarkEncodingJSONRoundTrip (decoding the message into a map with
// encoding/json and encoding it back, which a transform reading the whole
// message would cost before any rule) measured 14–17 µs. The parsed
// objects, their members and the expressions' env come from an arena
// recycled from one Apply to the next.
package transform
