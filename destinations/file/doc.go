// Package file is the "file" destination: it appends every message to a
// local file as newline-delimited JSON (NDJSON), one message per line, for
// local debugging and simple archiving.
//
// Each line is the normalised Segment message (router.Message.Body); a body
// that spans several lines is compacted onto one. A batch is written with a
// single write call, so batches from concurrent Sends never interleave. See
// README.md for the settings.
package file
