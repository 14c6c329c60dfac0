package eventlog

import (
	"context"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// TestRequeueIdentity checks the identity of what Requeue stores: the
// same dead letter queued twice (two redrives at once, or one repeated
// after its removal failed) is queued once; the same message dead-lettered
// again after a redrive is a new dead letter, which can be redriven again;
// a replay of the same history twice queues it twice (on purpose).
func TestRequeueIdentity(t *testing.T) {
	l := openLog(t, Config{Partitions: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := msg("app", "a", "u1")
	rd, err := l.RedriveReader(ctx, "hook", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// fetch reads and acknowledges what the redrive cursor holds.
	fetch := func() []router.Delivery {
		t.Helper()
		ds, err := rd.Fetch(ctx, 10, 300*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if err := rd.Ack(ctx, ds); err != nil {
			t.Fatal(err)
		}
		return ds
	}
	tests := []struct {
		name  string
		calls [][]router.Delivery
		want  int
	}{
		{"one dead letter twice", [][]router.Delivery{
			{{Message: m, Seq: 5, DeadLetterID: 1}},
			{{Message: m, Seq: 5, DeadLetterID: 1}},
		}, 1},
		{"the same message dead-lettered again", [][]router.Delivery{
			{{Message: m, Seq: 5, DeadLetterID: 2}},
		}, 1},
		{"a replay twice", [][]router.Delivery{
			{{Message: m, Seq: 5}},
			{{Message: m, Seq: 5}},
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, ds := range tt.calls {
				if err := l.Requeue(ctx, "hook", ds); err != nil {
					t.Fatal(err)
				}
			}
			if got := len(fetch()); got != tt.want {
				t.Fatalf("queued %d, want %d", got, tt.want)
			}
		})
	}
}

// TestRemoveDeadLettersTwice: removing a dead letter that is already gone
// (a concurrent redrive removed it) is not an error, and is not counted.
func TestRemoveDeadLettersTwice(t *testing.T) {
	l := openLog(t, Config{Partitions: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, id := range []string{"a", "b"} {
		if err := l.DeadLetter(ctx, router.DeadLetter{Destination: "hook", Message: msg("app", id, "u1"), Seq: uint64(i + 1), LastError: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []uint64
	if err := l.ScanDeadLetters(ctx, "hook", func(dl router.DeadLetter) bool { ids = append(ids, dl.ID); return true }); err != nil || len(ids) != 2 {
		t.Fatalf("dead letters %v, %v", ids, err)
	}
	if n, err := l.RemoveDeadLetters(ctx, ids[:1]); err != nil || n != 1 {
		t.Fatalf("first removal: %d, %v", n, err)
	}
	if n, err := l.RemoveDeadLetters(ctx, ids); err != nil || n != 1 {
		t.Fatalf("removal of one gone and one present dead letter: removed %d, %v; want 1, no error", n, err)
	}
	if n, err := l.RemoveDeadLetters(ctx, ids); err != nil || n != 0 {
		t.Fatalf("removal of gone dead letters: removed %d, %v; want 0, no error", n, err)
	}
}
