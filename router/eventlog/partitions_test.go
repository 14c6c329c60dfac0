package eventlog

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// TestFewerPartitionsWithUndelivered: a log reopened with fewer partitions
// refuses to open while a destination has not delivered the messages of a
// partition past the new count, and says which count to go back to; once
// they are delivered, it opens.
func TestFewerPartitionsWithUndelivered(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	l := openLog(t, Config{DataDir: data, Partitions: 4})
	var msgs []router.Message
	for i := range 40 {
		msgs = append(msgs, msg("web", fmt.Sprintf("m%02d", i), fmt.Sprintf("user%d", i)))
	}
	appendWant(t, l, msgs, 0)
	onLast := 0
	for i := range msgs {
		if router.Partition(msgs[i].PartitionKey(), 4) == 3 {
			onLast++
		}
	}
	if onLast == 0 {
		t.Fatal("no message on partition 3")
	}
	if _, err := l.Reader(ctx, router.ReaderConfig{Destination: "hook", Partition: 3, FromStart: true}); err != nil {
		t.Fatalf("Reader: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := Open(octx, Config{DataDir: data, Partitions: 2, Logger: testLogger()})
	if err == nil || !strings.Contains(err.Error(), "set queue.partitions to 4 or more") ||
		!strings.Contains(err.Error(), "hook-p3 (partition 3, pending records: 1)") {
		t.Fatalf("Open with 2 partitions = %v, want an error naming hook-p3's record and 4 partitions", err)
	}

	l = openLog(t, Config{DataDir: data, Partitions: 4})
	if got := readAll(t, l, "hook", 3); len(got) != onLast {
		t.Fatalf("delivered %d of partition 3, want %d", len(got), onLast)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	openLog(t, Config{DataDir: data, Partitions: 2})
}
