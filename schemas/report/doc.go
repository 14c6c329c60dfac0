// Package report prints what the tracking-plan checks found, for people
// and for machines: lint and fixture findings ([Findings]) and the
// classified changes between two plans ([Diff]), as text, as JSON, or as
// GitHub Actions workflow commands (annotations with file, line and
// column) plus a markdown step summary appended to the file that
// GITHUB_STEP_SUMMARY names. [Fails] is the exit policy of a diff.
//
// It sits beside schemas, which finds the problems, because formatting is
// a separate concern from checking: the commands of cmd/eventrouter parse
// flags, load the plans and choose the exit code; this package owns every
// line they print, so its output is tested here (and in the commands'
// golden files) without building the binary.
package report
