package admin

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/eventlog"
)

// appendingReingester passes every entry and stores it in the real log,
// as ingest.Handler.Reingest does; cancelAfter, when set, is called right
// after the store (the client of POST /admin/quarantine/replay going away,
// e.g. Ctrl-C on `eventrouter quarantine replay`).
type appendingReingester struct {
	l           *eventlog.Log
	cancelAfter func()
}

func (a *appendingReingester) Reingest(ctx context.Context, q router.Quarantined, dryRun bool) (bool, []router.Violation, error) {
	if _, err := a.l.Append(ctx, []router.Message{q.Message}); err != nil {
		return false, nil, err
	}
	if a.cancelAfter != nil {
		a.cancelAfter()
	}
	return true, nil, nil
}

// TestReplayCancelledAfterStoreDoesNotDuplicate: a replay cancelled
// between storing an entry and deleting it from the quarantine must still
// delete it; otherwise the next replay after the log's dedupe window
// stores it a second time.
func TestReplayCancelledAfterStoreDoesNotDuplicate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := eventlog.Open(ctx, eventlog.Config{DataDir: t.TempDir(), Partitions: 1, DedupeWindow: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	m := msg(1, time.Now())
	if err := l.Quarantine(ctx, []router.Quarantined{{Message: m, Reason: router.ReasonBlocked}}); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithCancel(ctx)
	_, err = ReplayQuarantine(rctx, l, &appendingReingester{l: l, cancelAfter: rcancel}, ReplaySelection{}, nil)
	t.Logf("first replay: %v", err)
	left, err := l.Quarantined(ctx, "", "", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("the entry was stored in the log but is still quarantined (%d left)", len(left))
	}
	time.Sleep(1500 * time.Millisecond) // past the dedupe window
	if _, err := ReplayQuarantine(ctx, l, &appendingReingester{l: l}, ReplaySelection{}, nil); err != nil {
		t.Fatal(err)
	}
	info, err := l.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Messages != 1 {
		t.Fatalf("the log holds %d copies of the one quarantined message, want 1", info.Messages)
	}
}
