package file

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/eventrouter/eventrouter/router"
)

func msg(id, body string) router.Message {
	return router.Message{ID: id, Type: "track", Body: json.RawMessage(body)}
}

func newDest(t *testing.T, cfg Config) router.Destination {
	t.Helper()
	d, err := NewFactory().New(context.Background(), &cfg, router.Settings{Name: "local"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	if s == "" {
		return nil
	}
	if !strings.HasSuffix(s, "\n") {
		t.Fatalf("file does not end in a newline: %q", s)
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func TestAppendCreatesDirsAndKeepsExisting(t *testing.T) {
	for _, sync := range []bool{false, true} {
		t.Run(fmt.Sprintf("sync=%v", sync), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a", "b", "events.ndjson")
			d := newDest(t, Config{Path: path, Sync: sync})
			ctx := context.Background()
			if err := d.Send(ctx, []router.Message{msg("1", `{"messageId":"1"}`), msg("2", `{"messageId":"2","text":"ünïcode \"q\""}`)}); err != nil {
				t.Fatal(err)
			}
			if err := d.Close(ctx); err != nil {
				t.Fatal(err)
			}
			// Reopening appends rather than truncating.
			d = newDest(t, Config{Path: path, Sync: sync})
			if err := d.Send(ctx, []router.Message{msg("3", "{\n  \"messageId\": \"3\"\n}")}); err != nil {
				t.Fatal(err)
			}
			got := readLines(t, path)
			want := []string{`{"messageId":"1"}`, `{"messageId":"2","text":"ünïcode \"q\""}`, `{"messageId":"3"}`}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("lines\n%q\nwant\n%q", got, want)
			}
		})
	}
}

func TestInvalidBodyIsPermanentForThatMessageOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.ndjson")
	d := newDest(t, Config{Path: path})
	err := d.Send(context.Background(), []router.Message{msg("1", `{"a":1}`), msg("2", "{\n broken"), msg("3", ""), msg("4", `{"b":2}`)})
	var be *router.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 2 {
		t.Fatalf("error = %v", err)
	}
	for _, i := range []int{1, 2} {
		if k, _ := router.Classify(be.Failed[i]); k != router.KindPermanent {
			t.Fatalf("message %d classified %v", i, k)
		}
	}
	if got := readLines(t, path); fmt.Sprint(got) != fmt.Sprint([]string{`{"a":1}`, `{"b":2}`}) {
		t.Fatalf("lines %q", got)
	}
}

func TestDiskFullIsRetryable(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full on this system")
	}
	d := newDest(t, Config{Path: "/dev/full"})
	err := d.Send(context.Background(), []router.Message{msg("1", `{"a":1}`)})
	if err == nil {
		t.Fatal("writing to /dev/full succeeded")
	}
	if k, _ := router.Classify(err); k != router.KindRetryable {
		t.Fatalf("classified %v: %v", k, err)
	}
}

func TestConcurrentSendsDoNotInterleave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.ndjson")
	d := newDest(t, Config{Path: path})
	var wg sync.WaitGroup
	const goroutines, batches, size = 8, 20, 10
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				batch := make([]router.Message, size)
				for i := range batch {
					id := fmt.Sprintf("g%d-b%d-%d", g, b, i)
					batch[i] = msg(id, `{"messageId":"`+id+`","pad":"`+strings.Repeat("x", 500)+`"}`)
				}
				if err := d.Send(context.Background(), batch); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	seen := map[string]int{} // goroutine-batch -> next index expected
	n := 0
	for sc.Scan() {
		var m struct{ MessageID string }
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v", n, err)
		}
		var g, b, i int
		if _, err := fmt.Sscanf(m.MessageID, "g%d-b%d-%d", &g, &b, &i); err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("%d-%d", g, b)
		if seen[key] != i {
			t.Fatalf("batch %s interleaved: got index %d, want %d", key, i, seen[key])
		}
		seen[key]++
		n++
	}
	if n != goroutines*batches*size {
		t.Fatalf("got %d lines", n)
	}
}

func TestCancelCloseAndErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "e.ndjson")
	d := newDest(t, Config{Path: path})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Send(ctx, []router.Message{msg("1", `{}`)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send on cancelled ctx = %v", err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if err := d.Send(context.Background(), []router.Message{msg("1", `{}`)}); !errors.Is(err, errClosed) {
		t.Fatalf("Send after Close = %v", err)
	}
	if lines := readLines(t, path); len(lines) != 0 {
		t.Fatalf("lines %q", lines)
	}

	// The parent "directory" is a regular file: New fails.
	blocker := filepath.Join(dir, "blocker")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFactory().New(context.Background(), &Config{Path: filepath.Join(blocker, "x.ndjson")}, router.Settings{Name: "x"}); err == nil {
		t.Fatal("New succeeded under a regular file")
	}
	if _, err := NewFactory().New(context.Background(), &Config{}, router.Settings{}); err == nil || !strings.Contains(err.Error(), "path: required") {
		t.Fatalf("New without path = %v", err)
	}
	if _, err := NewFactory().New(context.Background(), 42, router.Settings{}); err == nil {
		t.Fatal("New accepted a foreign config")
	}
}
