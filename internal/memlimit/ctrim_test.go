package memlimit

import (
	"context"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestTrimCHeap(t *testing.T) {
	got := TrimCHeap()
	if runtime.GOOS != "linux" || !cgoEnabled {
		if got {
			t.Fatal("TrimCHeap reported trimming without cgo on Linux")
		}
		return
	}
	if out, _ := exec.Command("ldd", "--version").CombinedOutput(); !strings.Contains(strings.ToLower(string(out)), "glibc") && !strings.Contains(string(out), "GNU libc") {
		t.Skipf("not glibc (ldd --version: %.60q): nothing to trim", out)
	}
	if !got {
		t.Fatal("TrimCHeap did not trim with cgo on glibc")
	}
}

func TestKeepCHeapTrimmedStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { KeepCHeapTrimmed(ctx, time.Millisecond); close(done) }()
	time.Sleep(20 * time.Millisecond) // a few trims
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("KeepCHeapTrimmed did not return after its context was done")
	}
}
