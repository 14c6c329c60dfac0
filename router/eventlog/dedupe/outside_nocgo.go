//go:build !cgo

package dedupe

// cacheOutsideHeap: without cgo, pebble's block cache is Go memory.
const cacheOutsideHeap = false
