package dedupe

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// The newest keys: in memory, then one table at a time.
//
// [Index.Add] does not write keys through pebble's memtable. It puts them
// in an in-memory map (the buffer), where lookups find them with one hash
// probe, and when the buffer holds flushKeys keys (or is older than
// flushEvery) writes them, sorted, as one sstable that pebble ingests
// whole. Profiled at full batch ingest, the memtable was most of the
// index's cost: every lookup of a new id seeked two skiplists of random
// keys (a cache miss per level), every insert did the same, and every
// flush walked them again; those were about a fifth of the process's CPU.
// A hash map answers the newest keys for a fraction of that, and writing
// a sorted table is a sequential write. The memtable is left with the
// meta keys and suppression keys.
//
// The durable checkpoint moves with the tables: a flush ingests the table
// (pebble syncs it and its manifest entry) and then records the position
// up to which the log was read when the buffer was taken. After a crash
// the buffer is gone and the checkpoint names the last table, so the
// repair from the log's tail (see the package documentation) puts those
// keys back; at most flushKeys keys, read back at ~100,000 a second. Close
// flushes, so a clean restart repairs nothing.

// flushEvery bounds how long keys stay in the buffer only (and so how much
// of the log a repair after a crash reads again at a low rate).
const flushEvery = 10 * time.Second

// bufferBytesPerKey is what one buffered key costs in a Go map (16-byte
// key, 8-byte value, the map's control bytes and load factor), rounded up.
const bufferBytesPerKey = 48

// bufferedAt reports whether k is in the buffer (or the part of it being
// written) with a time at or after floor. Caller holds ix.bufMu.
func (ix *Index) bufferedAt(k Key, floor int64) bool {
	if at, ok := ix.buf[k]; ok && at >= floor {
		return true
	}
	if at, ok := ix.frozen[k]; ok && at >= floor {
		return true
	}
	return false
}

// buffer adds entries to the buffer (those already out of the window are
// skipped) and reports how many keys it holds.
func (ix *Index) buffer(entries []Entry, floor int64) int {
	ix.bufMu.Lock()
	defer ix.bufMu.Unlock()
	for _, e := range entries {
		at := e.At.UnixNano()
		if at < floor {
			continue
		}
		if old, ok := ix.buf[e.Key]; !ok || at > old {
			ix.buf[e.Key] = at
		}
	}
	return len(ix.buf)
}

// flushDue reports whether the buffer of n keys should be written now.
func (ix *Index) flushDue(n int, now time.Time) bool {
	return n >= ix.flushKeys || (n > 0 && now.Sub(ix.lastFlush) >= flushEvery)
}

// flush writes the buffer to the store as one ingested table and records
// the checkpoint it covers. Called by the index's one writer (Add's
// caller), or by Close once that writer stopped.
func (ix *Index) flush() error {
	ix.flushMu.Lock()
	defer ix.flushMu.Unlock()
	ix.bufMu.Lock()
	frozen := ix.buf
	ix.frozen = frozen
	ix.buf = make(map[Key]int64, len(frozen))
	pos, hasCP := ix.pos.Load(), ix.hasCP.Load()
	ix.bufMu.Unlock()
	now := time.Now()
	err := ix.write(frozen, pos, hasCP, now)
	ix.bufMu.Lock()
	if err != nil {
		// Keep the keys visible and try again at the next flush.
		for k, at := range frozen {
			if old, ok := ix.buf[k]; !ok || at > old {
				ix.buf[k] = at
			}
		}
	}
	ix.frozen = nil
	ix.bufMu.Unlock()
	if err != nil {
		return fmt.Errorf("indexing message ids: %w", err)
	}
	ix.lastFlush = now
	return nil
}

// write stores keys: the generations they open, then the keys as one
// ingested table, then the checkpoint pos.
func (ix *Index) write(keys map[Key]int64, pos uint64, hasCP bool, now time.Time) error {
	floor := now.Add(-ix.window).UnixNano()
	type row struct {
		key [1 + 8 + len(Key{})]byte
		at  int64
	}
	rows := make([]row, 0, len(keys))
	var newGens []generation
	for k, at := range keys {
		if at < floor {
			continue
		}
		g, created := ix.generationFor(at, newGens)
		if created {
			newGens = append(newGens, g)
		}
		var r row
		r.key[0] = prefixKey
		binary.BigEndian.PutUint64(r.key[1:9], uint64(g.start))
		copy(r.key[9:], k[:])
		r.at = at
		rows = append(rows, r)
	}
	if len(newGens) > 0 {
		// Before the table: a generation the table's keys are under is
		// known after any crash (the batch reaches pebble's log first).
		b := ix.db.NewBatch()
		for _, g := range newGens {
			if err := b.Set(genKey(g.start), binary.BigEndian.AppendUint64(nil, uint64(g.end)), nil); err != nil {
				b.Close()
				return err
			}
		}
		err := b.Commit(pebble.NoSync)
		b.Close()
		if err != nil {
			return err
		}
		ix.genMu.Lock()
		ix.gens = append(ix.gens, newGens...)
		slices.SortFunc(ix.gens, func(a, b generation) int { return cmpInt64(a.start, b.start) })
		ix.genMu.Unlock()
	}
	if len(rows) > 0 {
		slices.SortFunc(rows, func(a, b row) int { return bytes.Compare(a.key[:], b.key[:]) })
		if err := ix.ingest(len(rows), func(w *sstable.Writer) error {
			var val [8]byte
			for i := range rows {
				binary.BigEndian.PutUint64(val[:], uint64(rows[i].at))
				if err := w.Set(rows[i].key[:], val[:]); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if hasCP && (!ix.hasDurable || pos > ix.durable) {
		var val [8]byte
		binary.BigEndian.PutUint64(val[:], pos)
		if err := ix.db.Set(metaCheckpoint, val[:], pebble.NoSync); err != nil {
			return err
		}
		ix.durable, ix.hasDurable = pos, true
	}
	return nil
}

// removeIngestLeftovers removes tables a crash left half-written.
func removeIngestLeftovers(dir string) {
	left, _ := filepath.Glob(filepath.Join(dir, "dedupe-ingest-*.tmp"))
	for _, f := range left {
		_ = os.Remove(f)
	}
}

// ingest writes one table with fill into the store's directory and has
// pebble ingest it (it links the file in, syncs it and records it in its
// manifest; the table lands in the highest level it overlaps nothing of,
// usually L0).
func (ix *Index) ingest(n int, fill func(*sstable.Writer) error) error {
	ix.ingests++
	path := filepath.Join(ix.dir, fmt.Sprintf("dedupe-ingest-%d.tmp", ix.ingests))
	f, err := vfs.Default.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), ix.writerOpts)
	if err := fill(w); err != nil {
		_ = w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := ix.db.Ingest(context.Background(), []string{path}); err != nil {
		return fmt.Errorf("ingesting %d keys: %w", n, err)
	}
	return nil
}
