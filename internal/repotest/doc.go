// Package repotest holds tests of the repository as a whole rather than of
// one package: that the tracked files cite no document the repository does
// not hold, and that the packages import one another only as the
// architecture allows (imports point inward; only cmd/eventrouter knows
// every component; see TestImportGraph, whose log prints the graph). It
// has no code of its own; its tests read the files that `git ls-files`
// lists, so they run only in a git checkout, and ask `go list` for the
// import graph.
package repotest
