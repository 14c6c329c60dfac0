//go:build !linux || !cgo

package memlimit

// TrimCHeap reports false: without cgo on Linux there is no C heap of
// glibc's to trim.
func TrimCHeap() bool { return false }
