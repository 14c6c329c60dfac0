//go:build cgo

package dedupe

// cacheOutsideHeap: with cgo, pebble allocates its block cache with the C
// allocator, outside the Go heap.
const cacheOutsideHeap = true
