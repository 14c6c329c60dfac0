// Package schemas loads, checks, validates against and diffs a tracking
// plan kept as JSON Schema files in a directory, as Segment Protocols does.
// It imports nothing from the rest of eventrouter: ingest enforcement, the
// `eventrouter plan` commands and the GitHub Action all call this package,
// so CI and production run the same validator.
//
// # Layout
//
// A plan is one directory (this package's own directory holds the default
// referral-program plan):
//
//	plan.yaml                        id, name, description, sources, labels, enforcement
//	common.schema.json               x-segment-type COMMON: every message of every type
//	identify.schema.json             IDENTIFY: traits under properties.traits
//	group.schema.json                GROUP: group traits under properties.traits
//	events/<snake_event>.schema.json TRACK, x-segment-key = exact event name
//	pages/<snake_name>.schema.json   PAGE, key = exact page name (null: every page)
//	screens/<snake_name>.schema.json SCREEN, likewise
//	fixtures/<kind>/[<snake_name>/]{valid,invalid}/*.json   example messages for CI,
//	  with an optional sibling <name>.expect.json {"violationField": …, "violationType": …}
//
// Each schema is draft-07 and validates the whole message, with three
// extension keywords: x-segment-type, x-segment-key and x-segment-version
// (a positive integer, bumped on every change).
//
// # API
//
// Load reads and compiles a plan once, whole or nothing: a *LoadError lists
// every problem with its file, line and JSON pointer. (*Plan).Validate runs
// the common rule and then the message's rule on a decoded message and
// returns []Violation in the shape of Segment's (Unplanned, UnplannedProperty,
// UnplannedTrait, Required, Type, Enum, Pattern, Format, other keywords by
// name, Common… for the common rule). A property or trait is planned when
// its rule (or the common rule) declares it under properties.properties /
// properties.traits (name or patternProperties). Validate does not modify
// the message; applying enforcement (omit, block, annotations) is the
// caller's job, using Plan.Enforcement. Each schema is compiled once; a
// rule within a common draft-07 subset also gets an allocation-free
// pre-check that clears valid messages, so only messages with violations
// pay for the general validator.
//
// Lint checks a plan directory for pull requests: the
// meta-schema, x-segment keywords, unique keys per type, file name =
// SnakeCase(key), and property names that would collide in one warehouse
// column or hit a reserved column. TestFixtures runs the
// fixtures. Diff classifies the changes between two plans as
// breaking, non-breaking or error (item 5) and names each change's
// downstream effect on warehouse columns and Customer.io segments.
//
// Locate resolves a JSON pointer to a line and column in a file's raw bytes
// (the deepest existing ancestor when it does not resolve); Plan.Position
// does so in a loaded rule, and Change.Pointer and FieldPointer give the
// pointer of a diff change, so CI can annotate the changed line.
//
// SnakeCase is github.com/segmentio/go-snakecase's Snakecase (through
// internal/snakecase, the warehouse destination's naming), which Segment
// uses for warehouse table and column names; EventTable and ColumnName add
// the warehouse's post-processing (leading digit, reserved names, length).
package schemas
