package memlimit

import (
	"context"
	"time"
)

// TrimCHeapEvery is how often [KeepCHeapTrimmed] returns the C allocator's
// free memory to the operating system.
const TrimCHeapEvery = 10 * time.Second

// KeepCHeapTrimmed returns the free memory of the C allocator (glibc's
// malloc arenas) to the operating system every interval until ctx is done.
// It returns at once where there is nothing to trim: a build without cgo,
// or a C library other than glibc (see [TrimCHeap]).
//
// Why: with cgo, the dedupe index's block cache (pebble's manually managed
// memory) is allocated with C malloc, block by block, and freed as blocks
// are evicted and compactions finish. glibc keeps freed chunks in the arena
// of the thread that freed them (up to eight arenas per core) and gives a
// page back only when the top of an arena is free, so the process's RSS
// grows by the arenas' fragmentation, about 1.5 MB a minute at 4,000
// events/s in the soak, though the cache itself stays within its budget.
// malloc_trim(0) hands every whole free page of every arena back
// (madvise(MADV_DONTNEED)); it takes well under a millisecond here.
func KeepCHeapTrimmed(ctx context.Context, interval time.Duration) {
	if !TrimCHeap() {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			TrimCHeap()
		}
	}
}
