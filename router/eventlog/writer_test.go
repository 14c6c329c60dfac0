package eventlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/eventrouter/eventrouter/router"
	"github.com/nats-io/nats.go/jetstream"
)

// TestConcurrentAppendsShareRecords has 16 clients append small batches
// to one partition at once: the partition's writer packs them into shared
// records (far fewer records than Appends), every message is stored once,
// and each client's messages are read back in the order it sent them.
func TestConcurrentAppendsShareRecords(t *testing.T) {
	l := openLog(t, Config{Partitions: 1})
	const clients, appends, per = 16, 25, 4
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Go(func() {
			for a := range appends {
				batch := make([]router.Message, per)
				for i := range batch {
					batch[i] = msg("web", fmt.Sprintf("c%02d-%04d", c, a*per+i), fmt.Sprintf("user-%d-%d", c, i))
				}
				if dups, err := l.Append(context.Background(), batch); err != nil || dups != 0 {
					errs <- fmt.Errorf("client %d append %d = %d, %w", c, a, dups, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := readAll(t, l, "r", 0)
	if len(got) != clients*appends*per {
		t.Fatalf("read %d messages, want %d", len(got), clients*appends*per)
	}
	seen := map[string]bool{}
	last := map[string]string{}
	for _, d := range got {
		id := d.Message.ID
		if seen[id] {
			t.Fatalf("%s stored twice", id)
		}
		seen[id] = true
		client := id[:3]
		if prev, ok := last[client]; ok && id < prev {
			t.Fatalf("client %s: %s read after %s", client, id, prev)
		}
		last[client] = id
	}
	info, err := l.events.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	records := info.State.Msgs
	t.Logf("%d Appends of %d messages stored in %d records", clients*appends, per, records)
	if records >= clients*appends {
		t.Errorf("%d records for %d concurrent Appends: none shared a record", records, clients*appends)
	}
}

// TestWriterTake checks how a writer packs its queue: whole pieces up to
// the record limits, in order, skipping the pieces of Appends that failed
// or gave up.
func TestWriterTake(t *testing.T) {
	newOp := func() *appendOp { return &appendOp{done: make(chan struct{})} }
	pieceOf := func(op *appendOp, n, size int) *piece {
		p := &piece{op: op, size: size}
		for i := range n {
			p.idx = append(p.idx, i)
		}
		op.pending++
		return p
	}
	w := &partitionWriter{}

	a, b, c := newOp(), newOp(), newOp()
	w.queue = []*piece{pieceOf(a, 1000, 1000), pieceOf(b, 1000, 1000), pieceOf(c, 100, 100)}
	if got := w.take(); len(got) != 2 || got[0].op != a || got[1].op != b {
		t.Fatalf("first record: %d pieces, want a's and b's", len(got))
	}
	if got := w.take(); len(got) != 1 || got[0].op != c {
		t.Fatalf("second record: %d pieces, want c's (a, b and c exceed %d messages)", len(got), maxRecordCount)
	}
	if got := w.take(); got != nil || w.queue != nil {
		t.Fatalf("empty queue: took %d pieces, %d left", len(got), len(w.queue))
	}

	// By size: two pieces of 300 KiB do not share a record.
	d, e := newOp(), newOp()
	w.queue = []*piece{pieceOf(d, 1, 300<<10), pieceOf(e, 1, 300<<10)}
	if got := w.take(); len(got) != 1 || got[0].op != d {
		t.Fatalf("by size: first record has %d pieces, want d's alone", len(got))
	}
	w.take()

	// An Append whose record failed loses its later pieces; one that gave
	// up, all its waiting pieces.
	failed, gaveUp, ok := newOp(), newOp(), newOp()
	first := pieceOf(failed, 1, 10)
	w.queue = []*piece{pieceOf(failed, 1, 10), pieceOf(gaveUp, 1, 10), pieceOf(ok, 1, 10)}
	failed.answer(first, nil, errors.New("no quorum"))
	if fin, _ := gaveUp.abandon(); fin {
		t.Fatal("abandon of a waiting Append reported it finished")
	}
	if got := w.take(); len(got) != 1 || got[0].op != ok {
		t.Fatalf("took %d pieces, want only the live Append's", len(got))
	}
	if fin, err := failed.abandon(); !fin || err == nil {
		t.Fatalf("failed Append: finished %t, err %v; want its record's error", fin, err)
	}
}

// TestAppendAnswerAfterAbandon checks that an answer arriving after its
// Append gave up (its deadline passed) changes nothing: the reservation is
// no longer touched and the outcome stays "gave up".
func TestAppendAnswerAfterAbandon(t *testing.T) {
	op := &appendOp{done: make(chan struct{})}
	p := &piece{op: op, idx: []int{0}}
	op.pending = 1
	if fin, _ := op.abandon(); fin {
		t.Fatal("abandon reported finished")
	}
	// op.res is nil: answer would panic if it used it.
	op.answer(p, &jetstream.PubAck{Sequence: 7}, nil)
	if fin, err := op.abandon(); !fin || err != nil {
		t.Fatalf("after a late answer: finished %t, err %v", fin, err)
	}
}
