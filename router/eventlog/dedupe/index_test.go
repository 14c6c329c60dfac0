package dedupe

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func open(t *testing.T, dir string, window time.Duration) *Index {
	t.Helper()
	ix, err := Open(Options{Dir: dir, Window: window, Memory: MinMemory, Logger: quiet()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return ix
}

func keys(prefix string, n int) []Key {
	out := make([]Key, n)
	for i := range out {
		out[i] = KeyOf("src", fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}

func entries(ks []Key, at time.Time) []Entry {
	out := make([]Entry, len(ks))
	for i, k := range ks {
		out[i] = Entry{Key: k, At: at}
	}
	return out
}

func contains(t *testing.T, ix *Index, k Key) bool {
	t.Helper()
	ok, err := ix.Contains(k, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestKeyOfSeparatesSourceAndID(t *testing.T) {
	if KeyOf("ab", "c") == KeyOf("a", "bc") {
		t.Fatal("(ab, c) and (a, bc) share a key")
	}
	if KeyOf("a", "b") != KeyOf("a", "b") {
		t.Fatal("KeyOf is not deterministic")
	}
}

func TestReserveStoredAndFollower(t *testing.T) {
	ix := open(t, t.TempDir(), time.Hour)
	defer ix.Close()
	if !ix.Fresh() {
		t.Error("a new index is not Fresh")
	}
	ctx := context.Background()
	ks := keys("a", 3)
	// A repeat inside one request is a duplicate of the first occurrence.
	dup, res, err := ix.Reserve(ctx, []Key{ks[0], ks[1], ks[0]})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(dup) != "[false false true]" {
		t.Fatalf("dup = %v, want [false false true]", dup)
	}
	res.Stored([]int{0, 1}, 7)
	res.Close()
	// Stored, not yet read back by the follower: still a duplicate.
	if !contains(t, ix, ks[0]) || contains(t, ix, ks[2]) {
		t.Fatal("stored keys not found before the follower, or an unknown key found")
	}
	if s := ix.Stats(); s.Pending != 2 {
		t.Fatalf("pending = %d, want 2", s.Pending)
	}
	// The follower reads the record back: the keys move to the store.
	if err := ix.Add(entries(ks[:2], time.Now()), 7); err != nil {
		t.Fatal(err)
	}
	if s := ix.Stats(); s.Pending != 0 || s.Checkpoint != 7 {
		t.Fatalf("after Add: pending %d checkpoint %d, want 0 and 7", s.Pending, s.Checkpoint)
	}
	dup, res, err = ix.Reserve(ctx, ks)
	if err != nil {
		t.Fatal(err)
	}
	res.Close()
	if fmt.Sprint(dup) != "[true true false]" {
		t.Fatalf("dup = %v, want [true true false]", dup)
	}
	// A released key (its store failed) is free again.
	dup, res, err = ix.Reserve(ctx, ks[2:])
	if err != nil || dup[0] {
		t.Fatalf("released key: dup %v, %v", dup, err)
	}
	res.Close()
}

func TestReserveWaitsForTheOtherAppend(t *testing.T) {
	ix := open(t, t.TempDir(), time.Hour)
	defer ix.Close()
	ctx := context.Background()
	ks := keys("w", 4)
	for _, stores := range []bool{true, false} {
		t.Run(fmt.Sprintf("first stores=%v", stores), func(t *testing.T) {
			ks := keys(fmt.Sprint("w", stores), 2)
			_, first, err := ix.Reserve(ctx, ks)
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan []bool)
			go func() {
				// The same keys in the other order: sorted reservation
				// means no deadlock.
				dup, r, err := ix.Reserve(ctx, []Key{ks[1], ks[0]})
				if err != nil {
					t.Error(err)
				}
				r.Close()
				got <- dup
			}()
			select {
			case dup := <-got:
				t.Fatalf("second Reserve did not wait: %v", dup)
			case <-time.After(100 * time.Millisecond):
			}
			if stores {
				first.Stored([]int{0, 1}, 1)
			}
			first.Close()
			dup := <-got
			if dup[0] != stores || dup[1] != stores {
				t.Fatalf("second Reserve dup = %v, want both %v", dup, stores)
			}
		})
	}
	// Cancelled while waiting.
	_, first, _ := ix.Reserve(ctx, ks)
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, _, err := ix.Reserve(cctx, ks[:1]); err == nil {
		t.Fatal("Reserve of a held key returned without waiting past ctx")
	}
	first.Close()
}

func TestConcurrentReserveStoresEachKeyOnce(t *testing.T) {
	ix := open(t, t.TempDir(), time.Hour)
	defer ix.Close()
	ks := keys("c", 200)
	var mu sync.Mutex
	stored := make(map[Key]int)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			// Every goroutine tries overlapping windows of the keys, in
			// different orders.
			for round := range 20 {
				lo := (g*7 + round*13) % 150
				batch := append([]Key(nil), ks[lo:lo+50]...)
				if g%2 == 1 {
					for i, j := 0, len(batch)-1; i < j; i, j = i+1, j-1 {
						batch[i], batch[j] = batch[j], batch[i]
					}
				}
				dup, r, err := ix.Reserve(context.Background(), batch)
				if err != nil {
					t.Error(err)
					return
				}
				var idx []int
				mu.Lock()
				for i, d := range dup {
					if !d {
						stored[batch[i]]++
						idx = append(idx, i)
					}
				}
				mu.Unlock()
				r.Stored(idx, uint64(g*100+round+1))
				r.Close()
			}
		})
	}
	wg.Wait()
	for k, n := range stored {
		if n != 1 {
			t.Fatalf("key %x stored %d times", k, n)
		}
	}
}

func TestWindowAndGenerations(t *testing.T) {
	dir := t.TempDir()
	window := 4 * time.Second
	ix := open(t, dir, window)
	now := time.Now()
	old, recent := keys("old", 10), keys("recent", 10)
	if err := ix.Add(entries(old, now.Add(-3*time.Second)), 1); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(entries(recent, now), 2); err != nil {
		t.Fatal(err)
	}
	// Entries older than the window are not even written.
	if err := ix.Add(entries(keys("ancient", 5), now.Add(-time.Hour)), 3); err != nil {
		t.Fatal(err)
	}
	if contains(t, ix, keys("ancient", 1)[0]) {
		t.Fatal("an entry older than the window was remembered")
	}
	if !contains(t, ix, old[0]) || !contains(t, ix, recent[9]) {
		t.Fatal("entries within the window not found")
	}
	// Two seconds on, the old ones are out of the window (by their time),
	// the recent ones in.
	later := now.Add(2*time.Second + 100*time.Millisecond)
	if ok, _ := ix.Contains(old[0], later); ok {
		t.Fatal("an entry past the window still counts")
	}
	if ok, _ := ix.Contains(recent[0], later); !ok {
		t.Fatal("a recent entry was forgotten")
	}
	gens := ix.Stats().Generations
	if gens < 1 || gens > 3 {
		t.Fatalf("%d generations for 4s of entries with a 2s span", gens)
	}
	// Expiry drops whole generations once they end before the window.
	ix.expire(now.Add(10 * time.Second))
	if g := ix.Stats().Generations; g != 0 {
		t.Fatalf("%d generations left after every one expired", g)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened with a longer window: nothing expired is resurrected, the
	// checkpoint survives.
	ix = open(t, dir, time.Hour)
	defer ix.Close()
	if cp, ok := ix.Checkpoint(); !ok || cp != 3 {
		t.Fatalf("checkpoint after reopen = %d, %v; want 3", cp, ok)
	}
	if ix.Fresh() {
		t.Fatal("a reopened index is Fresh")
	}
	if !ix.Widened() {
		t.Fatal("reopened with a longer window, Widened is false")
	}
}

func TestReopenKeepsKeysAndCheckpoint(t *testing.T) {
	dir := t.TempDir()
	ix := open(t, dir, time.Hour)
	ks := keys("k", 1000)
	if err := ix.Add(entries(ks, time.Now()), 42); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix = open(t, dir, time.Hour)
	defer ix.Close()
	if cp, ok := ix.Checkpoint(); !ok || cp != 42 || ix.Fresh() {
		t.Fatalf("checkpoint %d %v, fresh %v", cp, ok, ix.Fresh())
	}
	for _, k := range ks {
		if !contains(t, ix, k) {
			t.Fatal("a key was lost across reopening")
		}
	}
}

func TestUnreadableIndexIsMovedAsideAndFresh(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dedupe")
	ix := open(t, dir, time.Hour)
	if err := ix.Add(entries(keys("x", 10), time.Now()), 5); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	// Garble every file of the store.
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		if err := os.WriteFile(f, []byte("garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ix = open(t, dir, time.Hour)
	defer ix.Close()
	if !ix.Fresh() {
		t.Fatal("an index rebuilt after corruption is not Fresh")
	}
	if _, ok := ix.Checkpoint(); ok {
		t.Fatal("a rebuilt index has a checkpoint")
	}
	aside, _ := filepath.Glob(dir + ".corrupt-*")
	if len(aside) != 1 {
		t.Fatalf("corrupt store not moved aside: %v", aside)
	}
}

func TestMemoryStaysWithinBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts 300,000 keys")
	}
	ix := open(t, t.TempDir(), time.Hour)
	defer ix.Close()
	now := time.Now()
	for b := range 300 {
		ks := make([]Key, 1000)
		for i := range ks {
			ks[i] = KeyOf("m", fmt.Sprint(b, "-", i))
		}
		if err := ix.Add(entries(ks, now), uint64(b+1)); err != nil {
			t.Fatal(err)
		}
	}
	// Look every key up again, so that the cache fills with what it
	// reads, and two requests' worth of new ones.
	var all []Key
	for b := range 302 {
		for i := range 1000 {
			all = append(all, KeyOf("m", fmt.Sprint(b, "-", i)))
		}
	}
	order := make([]int, len(all))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(all[a][:], all[b][:]) })
	seen, err := ix.lookupAll(all, order, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range seen {
		if s != (i < 300_000) {
			t.Fatalf("key %d: seen %v", i, s)
		}
	}
	s := ix.Stats()
	if s.MemoryBytes == 0 {
		t.Fatal("no memory use reported")
	}
	if s.MemoryBytes > MinMemory {
		t.Fatalf("index holds %d bytes of memory, over its budget of %d", s.MemoryBytes, MinMemory)
	}
	if s.DiskBytes == 0 {
		t.Fatal("no disk use reported")
	}
	t.Logf("300,000 keys: %d bytes of memory, %d on disk", s.MemoryBytes, s.DiskBytes)
}

// crash closes the store as kill -9 would leave it: without flushing the
// buffered keys.
func crash(t *testing.T, ix *Index) {
	t.Helper()
	ix.closeMu.Lock()
	ix.closed = true
	ix.closeMu.Unlock()
	close(ix.stop)
	ix.wg.Wait()
	ix.compactions.Wait()
	if err := ix.db.Close(); err != nil {
		t.Fatal(err)
	}
	ix.cache.Unref()
}

// TestBufferedKeysAndCrash checks the newest keys' path: found at once
// from memory, in the store once flushed; after a crash the checkpoint
// names the last flush (the log's tail after it is read again), and a
// flush by size makes keys and checkpoint durable.
func TestBufferedKeysAndCrash(t *testing.T) {
	dir := t.TempDir()
	ix := open(t, dir, time.Hour)
	now := time.Now()
	first, second := keys("first", 100), keys("second", 100)
	if err := ix.Add(entries(first, now), 10); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(entries(second, now), 20); err != nil {
		t.Fatal(err)
	}
	if s := ix.Stats(); s.Buffered != 100 {
		t.Fatalf("%d keys buffered, want the second 100 (the first Add flushes: no checkpoint yet)", s.Buffered)
	}
	if !contains(t, ix, first[0]) || !contains(t, ix, second[99]) {
		t.Fatal("added keys not found")
	}
	if cp, _ := ix.Checkpoint(); cp != 20 {
		t.Fatalf("checkpoint in memory %d, want 20", cp)
	}
	crash(t, ix)

	ix = open(t, dir, time.Hour)
	if cp, ok := ix.Checkpoint(); !ok || cp != 10 || ix.Fresh() {
		t.Fatalf("after a crash: checkpoint %d %v, fresh %v; want 10 (the last flush)", cp, ok, ix.Fresh())
	}
	if !contains(t, ix, first[50]) {
		t.Fatal("a flushed key was lost in a crash")
	}
	if contains(t, ix, second[50]) {
		t.Fatal("a key added after the last flush survived a crash: the checkpoint would skip its repair")
	}
	// The repair: the log's tail after the checkpoint is added again,
	// then enough keys to flush by size.
	if err := ix.Add(entries(second, now), 20); err != nil {
		t.Fatal(err)
	}
	many := keys("many", ix.flushKeys)
	if err := ix.Add(entries(many, now), 30); err != nil {
		t.Fatal(err)
	}
	if s := ix.Stats(); s.Buffered != 0 {
		t.Fatalf("%d keys buffered after %d were added (the flush size)", s.Buffered, ix.flushKeys)
	}
	crash(t, ix)

	ix = open(t, dir, time.Hour)
	defer ix.Close()
	if cp, _ := ix.Checkpoint(); cp != 30 {
		t.Fatalf("checkpoint after a flush by size and a crash: %d, want 30", cp)
	}
	for _, k := range []Key{first[0], second[0], many[0], many[len(many)-1]} {
		if !contains(t, ix, k) {
			t.Fatal("a flushed key was lost")
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "dedupe-ingest-*")); len(left) != 0 {
		t.Fatalf("ingested tables left behind: %v", left)
	}
}
