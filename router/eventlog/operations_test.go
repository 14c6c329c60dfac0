package eventlog

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// TestRedriveCycle follows dead letters through a redrive: listed without
// bodies, read in full, queued on the destination's redrive cursor (with
// their original position), removed; a message that fails again after the
// redrive is stored as a new dead letter, not dropped as a repeat.
func TestRedriveCycle(t *testing.T) {
	l := openLog(t, Config{Partitions: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, id := range []string{"a", "b", "c"} {
		if err := l.DeadLetter(ctx, router.DeadLetter{Destination: "hook", Message: msg("app", id, "u1"), Seq: uint64(10 + i), Attempts: 3, FirstFailure: t0, LastError: "400 bad " + id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.DeadLetter(ctx, router.DeadLetter{Destination: "other", Message: msg("app", "z", "u1"), Seq: 1, LastError: "x"}); err != nil {
		t.Fatal(err)
	}
	counts, err := l.DeadLetterCounts(ctx, []string{"hook", "other", "none"})
	if err != nil || counts["hook"] != 3 || counts["other"] != 1 || counts["none"] != 0 {
		t.Fatalf("counts %v, %v", counts, err)
	}
	var listed []router.DeadLetter
	if err := l.ScanDeadLetters(ctx, "hook", func(dl router.DeadLetter) bool { listed = append(listed, dl); return true }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 3 || listed[1].Message.ID != "b" || listed[1].Seq != 11 || listed[1].ID == 0 || len(listed[1].Message.Body) != 0 {
		t.Fatalf("listed %+v", listed)
	}
	full, err := l.DeadLetterByID(ctx, listed[1].ID)
	if err != nil || string(full.Message.Body) != string(msg("app", "b", "u1").Body) || full.LastError != "400 bad b" {
		t.Fatalf("by id: %+v, %v", full, err)
	}
	if err := l.Requeue(ctx, "hook", []router.Delivery{{Message: full.Message, Seq: full.Seq}}); err != nil {
		t.Fatal(err)
	}
	if n, err := l.RemoveDeadLetters(ctx, []uint64{full.ID}); err != nil || n != 1 {
		t.Fatalf("removing dead letter %d: removed %d, %v", full.ID, n, err)
	}
	if _, err := l.DeadLetterByID(ctx, full.ID); !errors.Is(err, router.ErrNotFound) {
		t.Fatalf("removed dead letter: %v", err)
	}

	rd, err := l.RedriveReader(ctx, "hook", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := rd.Fetch(ctx, 10, 500*time.Millisecond)
	if err != nil || len(ds) != 1 {
		t.Fatalf("fetched %d, %v", len(ds), err)
	}
	d := ds[0]
	if d.Message.ID != "b" || d.Seq != 11 || d.Redrive == 0 || d.Partition != router.Partition("u1", 2) {
		t.Fatalf("redriven delivery %+v", d)
	}
	// It fails again: a second dead letter for the same (destination, seq).
	if err := l.DeadLetter(ctx, router.DeadLetter{Destination: "hook", Message: d.Message, Seq: d.Seq, Redrive: d.Redrive, LastError: "400 again"}); err != nil {
		t.Fatal(err)
	}
	if err := rd.Ack(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if counts, _ := l.DeadLetterCounts(ctx, []string{"hook"}); counts["hook"] != 3 {
		t.Fatalf("after failing again: %d dead letters, want 3", counts["hook"])
	}
	if p, err := rd.Pending(ctx); err != nil || p.Waiting+p.InFlight != 0 {
		t.Fatalf("redrive cursor still has %+v, %v", p, err)
	}
}

// TestBacklogAndScan reads a destination's backlog and scans history by
// time.
func TestBacklogAndScan(t *testing.T) {
	l := openLog(t, Config{Partitions: 2, Retention: DefaultRetention})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The cursors exist before the messages, like dispatch's.
	for p := range 2 {
		if _, err := l.Reader(ctx, router.ReaderConfig{Destination: "hook", Partition: p}); err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now()
	if _, err := l.Append(ctx, []router.Message{msg("app", "1", "u1"), msg("app", "2", "u2"), msg("app", "3", "u3")}); err != nil {
		t.Fatal(err)
	}
	mid := time.Now()
	time.Sleep(20 * time.Millisecond)
	if _, err := l.Append(ctx, []router.Message{msg("app", "4", "u1")}); err != nil {
		t.Fatal(err)
	}
	b, err := l.Backlog(ctx, "hook")
	// Pending counts records: u1 and u2 share partition 0 (one record),
	// u3 is in partition 1, and the second Append is a record of its own.
	if err != nil || b.Pending != 3 || b.Oldest.Before(before.Add(-time.Second)) || b.Oldest.After(mid) {
		t.Fatalf("backlog %+v, %v", b, err)
	}
	if b, err := l.Backlog(ctx, "never-started"); err != nil || b.Pending != 0 {
		t.Fatalf("backlog of a destination without cursors: %+v, %v", b, err)
	}
	info, err := l.Info(ctx)
	if info.DedupeDiskBytes == 0 || info.DedupeMemoryLimit != 32<<20 || info.DedupeWindow != DefaultDedupeWindow {
		t.Errorf("dedupe figures in info: %+v", info)
	}
	if err != nil || info.Messages != 3 || info.Bytes == 0 || info.Retention != DefaultRetention || info.FirstSeq != 1 {
		t.Fatalf("info %+v, %v", info, err)
	}
	tests := []struct {
		name         string
		since, until time.Time
		want         []string
	}{
		// One Append stores a record per partition, u1's and u3's
		// messages (partition 0) in one and u2's (partition 1) in the
		// other; each partition's writer publishes its own, so the two
		// records are in either order.
		{"everything", time.Time{}, time.Time{}, []string{"1324", "2134"}},
		{"until the middle", before.Add(-time.Second), mid, []string{"132", "213"}},
		{"from the middle", mid.Add(10 * time.Millisecond), time.Time{}, []string{"4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			var lastDone, lastTotal uint64
			err := l.ScanEvents(ctx, tt.since, tt.until, func(d router.Delivery, done, total uint64) error {
				got += d.Message.ID
				lastDone, lastTotal = done, total
				return nil
			})
			if err != nil || !slices.Contains(tt.want, got) || lastDone > lastTotal {
				t.Fatalf("scanned %q (%d of %d), %v; want %q", got, lastDone, lastTotal, err, tt.want)
			}
		})
	}
}
