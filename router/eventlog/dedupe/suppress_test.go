package dedupe

import (
	"testing"
	"time"
)

// TestSuppressionKeys: keys are per destination, counted within their
// window, kept across a reopen, apart from the ids (an expiry of the ids'
// generations leaves them), and swept once their window has passed.
func TestSuppressionKeys(t *testing.T) {
	dir := t.TempDir()
	ix := open(t, dir, time.Minute)
	now := time.Now()
	if err := ix.RememberDelivered("cio", []string{"ann:joined", "bob:joined"}, now.Add(-2*time.Hour), 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := ix.RememberDelivered("cio", []string{"old"}, now.Add(-2*time.Hour), time.Hour); err != nil {
		t.Fatal(err)
	}
	check := func(ix *Index, dest, key string, window time.Duration, want bool) {
		t.Helper()
		got, err := ix.DeliveredWithin(dest, key, window, now)
		if err != nil || got != want {
			t.Errorf("DeliveredWithin(%s, %s, %s) = %v, %v; want %v", dest, key, window, got, err, want)
		}
	}
	check(ix, "cio", "ann:joined", 24*time.Hour, true)
	check(ix, "cio", "ann:joined", time.Hour, false) // a shorter window counts at once
	check(ix, "hook", "ann:joined", 24*time.Hour, false)
	check(ix, "cio", "carl:joined", 24*time.Hour, false)
	ix.expire(now.Add(48 * time.Hour)) // the ids' expiry does not touch them
	check(ix, "cio", "bob:joined", 24*time.Hour, true)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}

	ix = open(t, dir, time.Minute)
	t.Cleanup(func() { _ = ix.Close() })
	check(ix, "cio", "bob:joined", 24*time.Hour, true)
	n, err := ix.sweepSuppressed(now)
	if err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v; want the one key whose window passed", n, err)
	}
	check(ix, "cio", "old", 10*time.Hour, false)
	if n, err := ix.sweepSuppressed(now.Add(23 * time.Hour)); err != nil || n != 2 {
		t.Fatalf("sweep = %d, %v; want 2", n, err)
	}
	check(ix, "cio", "bob:joined", 24*time.Hour, false)
}
