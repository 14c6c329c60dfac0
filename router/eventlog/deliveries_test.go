package eventlog

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

func TestDeliveryKey(t *testing.T) {
	token := regexp.MustCompile(`^[0-9a-f]{64}$`)
	tests := []struct {
		name        string
		source, key string
	}{
		{"plain", "referrals", "growsurf:c1:participant_joined:p1"},
		{"dots and spaces", "referrals", "a.b c*>"},
		{"empty key", "referrals", ""},
		{"long key", "referrals", string(make([]byte, 4096))},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := deliveryKey(tt.source, tt.key)
			if !token.MatchString(k) {
				t.Fatalf("deliveryKey = %q, not a 64-digit hex token", k)
			}
			if prev, dup := seen[k]; dup {
				t.Fatalf("same key as case %q", prev)
			}
			seen[k] = tt.name
		})
	}
	// The NUL separator keeps (source, key) pairs apart.
	if deliveryKey("ab", "c") == deliveryKey("a", "bc") {
		t.Error(`("ab", "c") and ("a", "bc") share a key`)
	}
}

func TestSeenRemember(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLog(t, Config{DataDir: dir, Partitions: 1})
	seen := func(l *Log, source, key string) bool {
		t.Helper()
		ok, err := l.Seen(ctx, source, key)
		if err != nil {
			t.Fatalf("Seen(%q, %q): %v", source, key, err)
		}
		return ok
	}
	if seen(l, "referrals", "k1") {
		t.Fatal("a new key is seen")
	}
	if err := l.Remember(ctx, "referrals", "k1"); err != nil {
		t.Fatal(err)
	}
	if !seen(l, "referrals", "k1") {
		t.Fatal("a remembered key is not seen")
	}
	if seen(l, "other", "k1") || seen(l, "referrals", "k2") {
		t.Fatal("another source or key is seen")
	}
	// Remembering twice is harmless.
	if err := l.Remember(ctx, "referrals", "k1"); err != nil {
		t.Fatal(err)
	}
	st, err := l.deliveries.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Bucket() != "EVENTROUTER_deliveries" || st.TTL() != DefaultDeliveryDedupeWindow {
		t.Fatalf("bucket %s with TTL %s, want EVENTROUTER_deliveries with %s", st.Bucket(), st.TTL(), DefaultDeliveryDedupeWindow)
	}

	// The memory survives a restart on the same data directory, and a new
	// window applies to the existing bucket.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openLog(t, Config{DataDir: dir, Partitions: 1, DeliveryDedupeWindow: 30 * 24 * time.Hour})
	if !seen(l2, "referrals", "k1") {
		t.Fatal("a remembered key is forgotten after a restart")
	}
	if st, err = l2.deliveries.Status(ctx); err != nil || st.TTL() != 30*24*time.Hour {
		t.Fatalf("after reopening with a 30-day window: TTL %v, %v", st.TTL(), err)
	}

	// Closed: unavailable, not "not seen".
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l2.Seen(ctx, "referrals", "k1"); !errors.Is(err, router.ErrUnavailable) {
		t.Fatalf("Seen on a closed log = %v, want router.ErrUnavailable", err)
	}
	if err := l2.Remember(ctx, "referrals", "k3"); !errors.Is(err, router.ErrUnavailable) {
		t.Fatalf("Remember on a closed log = %v, want router.ErrUnavailable", err)
	}
}

func TestDeliveryWindowExpires(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, Config{Partitions: 1, DeliveryDedupeWindow: time.Second})
	if err := l.Remember(ctx, "referrals", "k1"); err != nil {
		t.Fatal(err)
	}
	if ok, err := l.Seen(ctx, "referrals", "k1"); err != nil || !ok {
		t.Fatalf("Seen right after Remember = %v, %v", ok, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := l.Seen(ctx, "referrals", "k1")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the key is still seen 10s after a 1s window")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDeliveryWindowNegative(t *testing.T) {
	if _, err := Open(context.Background(), Config{DataDir: t.TempDir(), DeliveryDedupeWindow: -time.Hour}); err == nil {
		t.Fatal("Open accepted a negative delivery dedupe window")
	}
}
