//go:build linux && cgo

package memlimit

// #include <stdlib.h>
// #ifdef __GLIBC__
// #include <malloc.h>
// static int eventrouter_malloc_trim(void) { malloc_trim(0); return 1; }
// #else
// static int eventrouter_malloc_trim(void) { return 0; }
// #endif
import "C"

// TrimCHeap returns the C allocator's free pages to the operating system
// (glibc's malloc_trim(0)) and reports whether it could: false without
// glibc.
func TrimCHeap() bool { return C.eventrouter_malloc_trim() != 0 }
