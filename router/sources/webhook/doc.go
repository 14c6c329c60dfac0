// Package webhook is the declarative webhook source: any JSON webhook
// becomes Segment messages by rules written in the config, with no Go code
// per sender. [Compile] checks a source's [Settings] and compiles every
// expression once, at load, reporting each problem with its key path
// ([FieldError]); [Source.Verify] checks a delivery's signature on the raw
// body; [Source.Convert] turns (headers, body, receivedAt) into a [Result]:
// normalised [router.Message]s, or the reason the delivery maps to none,
// which ingest keeps with the raw body in the rejected stream, as it keeps
// GrowSurf's unmapped events. The package is pure, like the growsurf
// source it is modelled on.
//
// [NewFactory] makes it the source type "webhook" (listed in
// sources.Builtin): a source block of the config file decodes strictly into
// [Settings] (its [DefaultConfig]), whose Validate compiles the rules so
// that `eventrouter check` reports each problem with its key path, which
// the loader turns into a file and line; New compiles them again and
// mounts one route on Settings.Path. Ingest verifies, converts, dedupes by
// [Result.DeliveryKey] and keeps unmapped deliveries, as for every webhook
// route. The metric label of a delivery is the name of the rule that
// matched (bounded by the config), "none" when none did.
//
// Shipped mappings, each from the tool's public webhook documentation,
// are in examples/ (rewardful.yaml, tolt.yaml, affonso.yaml, and
// growsurf.yaml as a proof); TestShippedMappings runs each on its
// fixtures in testdata/<tool>/, signed as the tool signs, against golden
// results (-update rewrites them).
//
// # Rules
//
//	path: /webhooks/rewardful
//	signature: {header: X-Rewardful-Signature, secret: ${REWARDFUL_SECRET}}
//	delivery_id: body.event.id
//	vars:
//	  - {name: email, value: lower(text(body.object.customer.email))}
//	rules:
//	  - name: converted
//	    when: body.event.type == "referral.converted"
//	    emit:
//	      - type: identify
//	        userId: vars.email
//	        traits: {referral_source: '"rewardful"', affiliate_id: body.object.affiliate.id}
//	      - type: track
//	        userId: vars.email
//	        event: '"referral_converted"'
//	        timestamp: parse_time(body.object.became_conversion_at)
//	  - name: ignored
//	    when: body.event.type startsWith "affiliate_link."
//	    reject: not_mapped
//
// Rules are tried in order and the first whose when is true decides: its
// emits become messages, in order (an emit's own when skips it), or its
// reject keeps the delivery as rejected with that reason and the detail
// expression's text. A delivery no rule matches is rejected with
// no_rule_matched. Nothing is half-converted: if any emit fails, the whole
// delivery is rejected (expression_failed for a run-time error,
// invalid_message for a message Segment would refuse), with the key path
// in Detail, e.g. "rules[0].emit[1].properties.amount: invalid operation:
// string / int (column 25)".
//
// In an emit, type is a literal; every other field is an expression:
// messageId, userId, anonymousId, event (track), name and category (page,
// screen), groupId (group), previousId (alias), timestamp, and traits
// (identify, group), properties (track, page, screen), context and
// integrations, each either one expression giving an object or a YAML
// mapping of expressions. A field whose expression yields null is left
// out; ids may be strings (trimmed) or numbers (their decimal form).
// Compile refuses a field the type does not have, a missing event,
// groupId, previousId or identity, and an unknown type.
//
// # Messages
//
// Each message Body is what ingest stores for a server-side message: a JSON
// object with sorted keys and no HTML escaping, holding the emitted fields,
// context.integration.name (the source's integration setting, by default
// its name, as the growsurf source writes "growsurf"), timestamp and
// originalTimestamp (the emit's timestamp, else receivedAt), receivedAt,
// channel "server" and version 2; traits or properties default to {}.
//
// Idempotency: [Result.DeliveryKey] is the delivery_id expression's value
// (a rule's own delivery_id overrides the source's), else
// "sha256:<32 hex of SHA-256(body)>", so that byte-identical retries are
// recognised. A messageId the emit does not give is
// "<delivery key>:<rule name>:<emit index>" (the rule's name defaults to
// "rules[<i>]": name rules so that reordering them keeps redeliveries'
// ids); a messageId longer than Segment's 100 characters becomes
// "sha256:<32 hex of SHA-256(id)>". Two messages of one delivery with the
// same messageId make it invalid_message (one would be dropped as a
// duplicate).
//
// # The expression language
//
// Expressions are github.com/expr-lang/expr (v1.17). They see:
//
//	body          the delivery's JSON; integers that fit are int, other numbers float64
//	headers       the request headers, lower-case names, first values: headers["svix-id"]
//	received_at   when the delivery arrived (a time)
//	vars          the source's vars, evaluated in order before the rules
//
// A named field is null when missing, and so is any field of null, of an
// array or of a string: body.data.customer.email is null when customer is
// absent, with no need for "?.". Indexing an array out of range is an
// error (use first(), last() or ?? for optional elements). Besides expr's
// operators (arithmetic, comparison, and/or/not, in, matches, startsWith,
// contains, ?: and ?? for defaults, let x = ...; ...) and builtins (len,
// first, last, keys, values, int, float, string, round, floor, abs, split,
// join, replace, toJSON, fromJSON, map, filter, all, any, count, sum,
// duration, date, ...), these functions are defined:
//
//	text(v)            v trimmed if a non-empty string, else null
//	id(v)              a non-empty trimmed string, or a number's decimal form, else null
//	integer(v)         an integral number, or a string holding one, as an int, else null
//	object(v)          v if an object, else null
//	lower/upper/trim(s) the string function; null in, null out
//	unix(n), unix_ms(n) a time from unix seconds or milliseconds (numbers or numeric strings), null when unusable
//	parse_time(s)      a time from RFC 3339 (any fractional precision), null when unparseable
//	seconds(t), millis(t) a time as unix seconds or milliseconds (int)
//	query(url, key)    a URL's query parameter, null when absent
//	sha256(s)          the hex SHA-256 of a string
//
// Times in messages are written in [router.TimeLayout]. The builtin now()
// is disabled: a conversion depends on the delivery only, so that a replay
// gives the same messages.
//
// # Why expr, and its limits
//
// expr and CEL (github.com/google/cel-go) were both candidates. expr was
// chosen for mapping JSON: dynamic bodies need no declared types
// (CEL wants every variable declared and treats JSON numbers as doubles
// that do not mix with int literals, so body.amount / 100 fails and needs
// double(100)); it has ?? and ?: for defaults, let, string literals in
// either quote, and Go functions plug in as plain funcs; CEL's has() and
// its cost estimator are stronger, but its error messages and syntax for
// defaults are heavier for people writing mappings. Safety: expressions
// cannot reach the environment, the clock, files or the network (only the
// functions above and expr's builtins); an expression has at most
// [MaxNodes] syntax nodes; an evaluation may allocate at most
// [MemoryBudget] units (ranges, arrays, maps, repeat()) before it fails
// with expression_failed; there are no loops but the predicates over
// arrays, and Compile refuses a predicate inside another's closure, so an
// evaluation's cost grows at most linearly with the body (ingest caps the
// body at 1 MiB). String concatenation is not counted by the budget; the
// expressions are the operator's config, checked in review, while bodies
// are the untrusted part, which FuzzConvert exercises.
//
// # Speed
//
// Converting costs about 2 µs of CPU per message (BenchmarkConvert10Rules:
// 10 rules choosing by body.event, the last matching, an identify and a
// track of 4 traits/properties each; the first version, with
// encoding/json and the VM for every expression, took about 18 µs). What
// made it fast, and why each step keeps the results:
//
//   - The body is read by a hand-written decoder (json.go) rather than
//     encoding/json plus a pass converting json.Number: it accepts what
//     json.Valid accepts and gives the same values (FuzzDecodeBody checks
//     it against encoding/json), shares the field names the expressions
//     read instead of allocating them, and reuses the maps of the previous
//     conversion's body, which nothing refers to once Convert returns.
//   - Messages are written straight to a reused buffer in encoding/json's
//     byte format (sorted keys, its float format and escapes;
//     FuzzAppendValue checks it), traits and properties as they are
//     evaluated, instead of building maps and marshalling them; the bodies
//     of a delivery's messages share one allocation.
//   - The commonest expressions skip expr's VM: constants, paths
//     (body.data.customer.email), a path compared with a string
//     (body.event == "x"), one of the functions above applied to a path,
//     and a path divided by a number. Each gives exactly what the VM gives
//     (TestFastPaths); on an error the VM runs, for its message. Other
//     expressions run on a VM kept for the next conversion.
//   - A run of three or more consecutive rules whose whens all compare
//     the same path with string literals is indexed: the path is read once
//     and a map gives the one rule that can match (see ruleGroup for why
//     this is the same as trying them in order).
//
// The limits above (MaxNodes, MemoryBudget, the predicate nesting check)
// apply unchanged: every expression still compiles through expr, and
// whatever is not one of the shapes above runs on the VM with its budget.
//
// # Signatures
//
// [Signature] configures one of three schemes: "body" (an HMAC of the raw
// body in one header, hex or base64, with an optional prefix: Rewardful,
// GitHub), "ts.body" (a header of "key=value" parts with a timestamp and
// signatures of "<ts>.<body>": Stripe with t/v1 in seconds, GrowSurf with
// ts/v in milliseconds), and "standard-webhooks" (Svix, and so Tolt:
// webhook-id, webhook-timestamp, webhook-signature of
// "<id>.<ts>.<body>", base64 secret after "whsec_"); algorithm hmac-sha256
// (default) or hmac-sha1, or "token" for a sender that can only add a
// fixed header. Timestamps are checked against a tolerance (default 5
// minutes) after the signature. A source without a signature must say
// allow_unsigned: true.
//
// # GrowSurf as a proof
//
// examples/growsurf.yaml re-expresses the built-in growsurf source's
// default mapping as rules; TestGrowSurfEquivalence runs it on every
// GrowSurf test vector and finds the same messages, byte for byte, the
// same rejection reasons and details, and the same delivery keys where
// GrowSurf derives them from natural ids. What differs: a JSON body that
// is not an object is malformed (400) for the growsurf source and goes to
// the rules here; the delivery key of a delivery GrowSurf keys by its hash
// has another form ("sha256:..." rather than
// "growsurf:<cid>:<EVENT>:sha256:..."), as expressions do not see the raw
// bytes; numbers used as ids keep their decimal form here (1.50 becomes
// "1.5") where growsurf keeps the literal. The identifier and name
// settings of the built-in source map to edits of the file (the example
// has a var for the referral trigger).
package webhook
