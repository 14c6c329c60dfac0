// Package memlimit chooses the Go runtime's soft memory limit (the
// GOMEMLIMIT of package runtime, set with runtime/debug.SetMemoryLimit) and
// applies it.
//
// [Decide] is pure: it takes the configured limit, the GOMEMLIMIT
// environment variable and a file system in which it reads the process's
// cgroup, and returns the [Limit] to use and where it comes from, in this
// order of precedence:
//
//  1. the configured limit (the config's memory_limit), which may be [Off];
//  2. GOMEMLIMIT, when set: the runtime read it at start, and [Apply] leaves
//     the runtime's value alone;
//  3. [CgroupPercent] (90 %) of the memory limit of the cgroup the process
//     runs in, when it has one (cgroup v2 memory.max, cgroup v1
//     memory.limit_in_bytes; see [CgroupLimit]), less the memory the
//     process is configured to use outside the Go heap (Input.OutsideHeap:
//     the dedupe index's cache), but not below half of it;
//  4. [Default], 180 MiB, sized so that the whole process stays under
//     300 MB at full ingest with the shipped defaults.
//
// The limit is soft: near it the garbage collector runs more often to keep
// the heap under it (spending at most about half of the CPU doing so); it
// never makes the process fail. Memory that cgo code allocates outside the
// Go runtime (DuckDB's, the dedupe index's cache) is not counted, which is
// why a cgroup's limit is only 90 % taken, less the part of it known from
// the config.
//
// [Setup] is what the server does at start: decide from the process's
// environment and cgroup, apply, and log the limit and where it came from.
// [KeepCHeapTrimmed] returns the C allocator's free memory to the operating
// system periodically (see there why; with cgo, on glibc). [Gauge] exports
// the limit as a Prometheus metric.
package memlimit
