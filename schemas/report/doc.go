// Package report prints what the tracking-plan checks found, for people
// and for machines: lint and fixture findings ([Findings]) and the
// classified changes between two plans ([Diff]), as text, as JSON, or as
// GitHub Actions workflow commands (annotations with file, line and
// column) plus a markdown step summary appended to the file that
// GITHUB_STEP_SUMMARY names. [Fails] is the exit policy of a diff, and
// [Run] is a whole check as `eventrouter plan lint|test|diff` runs it: it
// loads the plans (a diff's base from a directory or a git ref), reports,
// and returns the exit code.
//
// It sits beside schemas, which finds the problems, because formatting is
// a separate concern from checking: the commands of cmd/eventrouter parse
// flags and call [Run]; this package owns every line they print and their
// exit codes, so both are tested here (and in the commands' golden files)
// without building the binary.
package report
