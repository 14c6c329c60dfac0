// Package repotest holds tests of the repository as a whole rather than of
// one package: that the tracked files cite no document the repository does
// not hold. It has no code of its own; its tests read the files that
// `git ls-files` lists, so they run only in a git checkout.
package repotest
