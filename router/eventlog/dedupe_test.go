package eventlog

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// logBuffer collects a log's output for assertions on its progress lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func batch(prefix string, n int) []router.Message {
	out := make([]router.Message, n)
	for i := range out {
		out[i] = msg("web", fmt.Sprintf("%s-%d", prefix, i), fmt.Sprintf("u%d", i%7))
	}
	return out
}

func appendWant(t *testing.T, l *Log, msgs []router.Message, wantDups int) {
	t.Helper()
	dups, err := l.Append(context.Background(), msgs)
	if err != nil || dups != wantDups {
		t.Fatalf("Append of %d = %d duplicates, %v; want %d", len(msgs), dups, err, wantDups)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDedupeIndexRepairAndRebuild covers what the log does with its dedupe
// index at start: an index behind the log (what a kill -9 leaves: the last
// writes lost) is repaired from the checkpoint; a deleted one and an
// unreadable one are rebuilt from the log, with progress in the log output,
// and never treated as empty.
func TestDedupeIndexRepairAndRebuild(t *testing.T) {
	tests := []struct {
		name     string
		damage   func(t *testing.T, dir, stale string)
		wantLine string
	}{
		{"behind the log", func(t *testing.T, dir, stale string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			copyDir(t, stale, dir)
		}, "repairing dedupe index from the log's tail"},
		{"deleted", func(t *testing.T, dir, _ string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}, "rebuilding dedupe index from the log"},
		{"unreadable", func(t *testing.T, dir, _ string) {
			files, _ := filepath.Glob(filepath.Join(dir, "*"))
			for _, f := range files {
				if err := os.WriteFile(f, []byte("not a store"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}, "rebuilding dedupe index from the log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			index := filepath.Join(data, "dedupe")
			stale := filepath.Join(t.TempDir(), "stale")
			l := openLog(t, Config{DataDir: data, Partitions: 4})
			appendWant(t, l, batch("early", 50), 0)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			copyDir(t, index, stale) // the index as it was after "early"

			l = openLog(t, Config{DataDir: data, Partitions: 4})
			appendWant(t, l, batch("late", 50), 0)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, index, stale)

			var out logBuffer
			l = openLog(t, Config{DataDir: data, Partitions: 4, Logger: slog.New(slog.NewTextHandler(&out, nil))})
			if !strings.Contains(out.String(), tt.wantLine) || !strings.Contains(out.String(), "dedupe index ready") {
				t.Errorf("log output lacks %q and the ready line:\n%s", tt.wantLine, out.String())
			}
			// Both requests retried: every message is a duplicate; a new
			// one is not.
			appendWant(t, l, batch("late", 50), 50)
			appendWant(t, l, batch("early", 50), 50)
			appendWant(t, l, batch("new", 3), 0)
			if info, err := l.Info(context.Background()); err != nil || info.Messages == 0 {
				t.Fatalf("info %+v, %v", info, err)
			}
		})
	}
}

// TestDedupeWindowChangeAtRestart: a shorter window lets an id older than
// it through at once; a longer one again recognises ids stored within it
// (the index reads the log again for what the shorter window dropped).
func TestDedupeWindowChangeAtRestart(t *testing.T) {
	data := t.TempDir()
	l := openLog(t, Config{DataDir: data, Partitions: 2, DedupeWindow: time.Hour})
	appendWant(t, l, batch("w", 5), 0)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond)

	// The retries come in another order, so that JetStream's own short
	// duplicate window on records (which keeps entries until its next
	// purge) plays no part: the index decides.
	l = openLog(t, Config{DataDir: data, Partitions: 2, DedupeWindow: time.Second})
	reversed := batch("w", 5)
	slices.Reverse(reversed)
	appendWant(t, l, reversed, 0)      // older than a second: stored again
	appendWant(t, l, batch("w", 5), 5) // but just stored: a duplicate
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	var out logBuffer
	l = openLog(t, Config{DataDir: data, Partitions: 2, DedupeWindow: time.Hour, Logger: slog.New(slog.NewTextHandler(&out, nil))})
	if !strings.Contains(out.String(), "rebuilding dedupe index from the log") {
		t.Errorf("a longer window did not read the log again:\n%s", out.String())
	}
	appendWant(t, l, batch("w", 5), 5)
}

// TestDedupeAcrossInstances: two processes share one NATS, each with its
// own index. The identical retry of a request to the other process is
// dropped by JetStream's duplicate window on the record, even before that
// process has read it; once its follower has read the original, any
// request with those ids is deduplicated there too.
func TestDedupeAcrossInstances(t *testing.T) {
	a := openLog(t, Config{Listen: "127.0.0.1:0", Partitions: 4})
	b := openLog(t, Config{URL: a.ClientURL(), Partitions: 4})
	first := batch("x", 20)
	appendWant(t, a, first, 0)
	appendWant(t, b, first, 20)

	second := batch("y", 10)
	appendWant(t, a, second, 0)
	// Wait for b's follower to read a's records.
	info, err := a.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if cp, _ := b.index.Checkpoint(); cp >= info.FirstSeq+info.Messages-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b's follower did not read a's records")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Another composition (a subset plus new ids): no record matches, the
	// index does.
	mixed := append(batch("y", 3), batch("z", 4)...)
	appendWant(t, b, mixed, 3)
	appendWant(t, a, batch("z", 4), 4)
}

// TestConcurrentAppendsOfOneID: many requests carrying the same ids at once
// store each id once.
func TestConcurrentAppendsOfOneID(t *testing.T) {
	l := openLog(t, Config{Partitions: 4})
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := 0
	for range 8 {
		wg.Go(func() {
			dups, err := l.Append(context.Background(), batch("same", 40))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			stored += 40 - dups
			mu.Unlock()
		})
	}
	wg.Wait()
	if stored != 40 {
		t.Fatalf("%d messages stored for 40 distinct ids", stored)
	}
	got := 0
	for p := range 4 {
		got += len(readAll(t, l, fmt.Sprint("r", p), p))
	}
	if got != 40 {
		t.Fatalf("the log holds %d messages, want 40", got)
	}
}
