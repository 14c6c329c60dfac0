package dedupe

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
)

// Key identifies one (source, messageId) pair: the first 16 bytes of the
// SHA-256 of the source's length, the source and the id.
type Key [16]byte

// KeyOf returns the key of (source, id).
func KeyOf(source, id string) Key {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(source)))])
	h.Write([]byte(source))
	h.Write([]byte(id))
	var sum [sha256.Size]byte
	var k Key
	copy(k[:], h.Sum(sum[:0]))
	return k
}

// Entry is one key the index learns from the log, with the time its record
// was stored.
type Entry struct {
	Key Key
	At  time.Time
}

// Options configure an [Index].
type Options struct {
	// Dir is the directory of the store; created when missing.
	Dir string
	// Window is how long a key counts as seen after it was stored.
	// Required.
	Window time.Duration
	// Memory caps the index's memory: a quarter holds the newest keys
	// (see buffer.go), the rest is pebble's cache, out of which it
	// reserves its memtables; the cache holds bloom filters, indexes and
	// data blocks. Default [DefaultMemory].
	Memory int64
	// MaxPending caps the keys stored in the log but not yet read back by
	// the follower (see [Index.Reserve]). Default 1<<20 (about 100 MB of
	// heap at the worst).
	MaxPending int
	// Logger receives the store's messages. Default slog.Default().
	Logger *slog.Logger
}

// DefaultMemory is the default of Options.Memory.
const DefaultMemory = 32 << 20

// OutsideHeap returns how much of an index of the given memory budget
// lives outside the Go heap (pebble's block cache, allocated by cgo when
// the build has it; none in a build without cgo), for the process's soft
// memory limit to leave room for.
func OutsideHeap(memory int64) int64 {
	if !cacheOutsideHeap {
		return 0
	}
	if memory == 0 {
		memory = DefaultMemory
	}
	return cacheSize(memory)
}

// cacheSize is pebble's share of the budget; the rest holds the newest
// keys (buffer.go).
func cacheSize(memory int64) int64 { return memory - memory/4 }

// MinMemory is the smallest Options.Memory accepted.
const MinMemory = 8 << 20

// Key layout in the store.
const (
	prefixMeta = 0x00 // meta keys: checkpoint and generations
	prefixKey  = 0x01 // 0x01 | generation start (8 bytes, unix ns, big endian) | Key
)

var (
	metaCheckpoint = []byte{prefixMeta, 'c'}
	metaWindow     = []byte{prefixMeta, 'w'}
	metaGenPrefix  = []byte{prefixMeta, 'g'} // | start (8 bytes) -> end (8 bytes)
)

// generation is a span of time whose keys are stored under one prefix and
// dropped together.
type generation struct {
	start, end int64 // unix nanoseconds, [start, end)
}

// Index remembers keys on disk for a window, with bounded memory. It is
// safe for concurrent use.
type Index struct {
	db     *pebble.DB
	cache  interface{ Unref() }
	log    *slog.Logger
	window time.Duration
	span   time.Duration // length of a new generation: window/2
	fresh  bool          // created empty (missing, or rebuilt after corruption)
	wider  bool          // opened with a longer window than it was written with

	genMu sync.RWMutex
	gens  []generation // by start, ascending

	pos   atomic.Uint64 // checkpoint: every record up to it is in the store
	hasCP atomic.Bool   // a checkpoint was recorded (pos may be 0: an empty log)

	mu         sync.Mutex
	pending    map[Key]*slot
	awaiting   []awaited     // stored slots waiting for the follower
	drained    chan struct{} // closed and replaced when pending shrinks
	maxPending int

	hits, misses atomic.Uint64

	// The newest keys (see buffer.go).
	dir        string
	bufMu      sync.RWMutex
	buf        map[Key]int64 // added, not in the store yet: key -> unix ns
	frozen     map[Key]int64 // being written to the store
	flushKeys  int
	flushMu    sync.Mutex
	lastFlush  time.Time // writer only
	durable    uint64    // checkpoint recorded in the store; writer only
	hasDurable bool      // a checkpoint is recorded in the store; writer only
	ingests    int       // writer only
	writerOpts sstable.WriterOptions

	stop chan struct{}
	wg   sync.WaitGroup

	// closeMu guards the store against use after Close: every use holds
	// it for reading.
	closeMu     sync.RWMutex
	closed      bool
	compactions sync.WaitGroup
}

// ErrClosed is returned by an Index used after Close.
var ErrClosed = errors.New("dedupe index closed")

// use takes the store for one operation; done must be called after.
func (ix *Index) use() (done func(), err error) {
	ix.closeMu.RLock()
	if ix.closed {
		ix.closeMu.RUnlock()
		return nil, ErrClosed
	}
	return ix.closeMu.RUnlock, nil
}

// slot is a key reserved by one Append (in flight), or stored in the log
// and not yet in the store (awaiting the follower).
type slot struct {
	owner  *Reservation
	done   chan struct{} // closed when the slot is stored or released
	stored bool
}

type awaited struct {
	key Key
	seq uint64
	s   *slot
}

// ErrBehind is returned by [Index.Reserve] when too many stored keys wait
// for the follower (it is behind the log) and ctx ended before it caught up.
var ErrBehind = errors.New("dedupe index is behind the log")

// Open opens the index in opts.Dir, creating it when missing. A store that
// cannot be opened (corrupt, or written by an incompatible version) is moved
// aside to Dir.corrupt-<unix time>, logged, and replaced by an empty one;
// [Index.Fresh] then reports true, so that the caller rebuilds it from the
// log instead of trusting an empty index.
func Open(opts Options) (*Index, error) {
	if opts.Window <= 0 {
		return nil, errors.New("opening dedupe index: window must be positive")
	}
	if opts.Memory == 0 {
		opts.Memory = DefaultMemory
	}
	if opts.Memory < MinMemory {
		return nil, fmt.Errorf("opening dedupe index: memory %d is below the minimum of %d bytes", opts.Memory, MinMemory)
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 1 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ix := &Index{
		log:        opts.Logger,
		window:     opts.Window,
		span:       max(opts.Window/2, time.Second),
		pending:    make(map[Key]*slot),
		drained:    make(chan struct{}),
		maxPending: opts.MaxPending,
		stop:       make(chan struct{}),
		dir:        opts.Dir,
		buf:        make(map[Key]int64),
		flushKeys:  int(opts.Memory / 4 / (2 * bufferBytesPerKey)),
		lastFlush:  time.Now(),
	}
	_, statErr := os.Stat(opts.Dir)
	ix.fresh = errors.Is(statErr, os.ErrNotExist)
	db, cache, po, err := openStore(opts)
	if err != nil {
		aside := opts.Dir + ".corrupt-" + strconv.FormatInt(time.Now().Unix(), 10)
		ix.log.Error("dedupe index unreadable: moving it aside and rebuilding it from the log", "dir", opts.Dir, "moved_to", aside, "err", err)
		if rerr := os.Rename(opts.Dir, aside); rerr != nil {
			return nil, fmt.Errorf("opening dedupe index: %w (and moving it aside: %w)", err, rerr)
		}
		ix.fresh = true
		if db, cache, po, err = openStore(opts); err != nil {
			return nil, fmt.Errorf("opening dedupe index: %w", err)
		}
	}
	ix.db, ix.cache = db, cache
	removeIngestLeftovers(opts.Dir)
	ix.writerOpts = po.MakeWriterOptions(0, db.TableFormat())
	if err := ix.load(); err != nil {
		_ = db.Close()
		cache.Unref()
		return nil, fmt.Errorf("opening dedupe index: %w", err)
	}
	if _, ok := ix.Checkpoint(); !ok {
		// Created but never checkpointed (a crash during the first
		// rebuild): as good as new.
		ix.fresh = true
	}
	if err := db.Set(metaWindow, binary.BigEndian.AppendUint64(nil, uint64(ix.window)), pebble.Sync); err != nil {
		_ = db.Close()
		cache.Unref()
		return nil, fmt.Errorf("opening dedupe index: recording the window: %w", err)
	}
	ix.expire(time.Now())
	ix.wg.Go(ix.expireLoop)
	ix.wg.Go(ix.sweepLoop) // suppress.go
	return ix, nil
}

// openStore opens pebble with the memory budget of opts.
func openStore(opts Options) (*pebble.DB, interface{ Unref() }, *pebble.Options, error) {
	// Pebble reserves its memtables out of the block cache, so the cache
	// size is the whole budget. The memtable is small (2 MiB of the
	// default 64): every lookup of a new id seeks it, and a seek in a
	// skiplist of random keys costs a cache miss per level. Profiled at
	// full batch ingest (35,000–53,000 ids/s), the index's CPU per id (seeks
	// and inserts) fell from 5.8 µs with 8 MiB memtables to 3.5 µs with
	// 2 MiB ones; flushing more often costs little.
	// Below 1 MiB, flushes and compactions of tiny tables cost more than
	// the seeks save; above 4 MiB the seeks grow again.
	//
	// Since the keys go in as ingested tables (buffer.go), the memtable
	// holds only meta and suppression keys: 1 MiB.
	memtable := uint64(1 << 20)
	cache := pebble.NewCache(cacheSize(opts.Memory))
	po := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                memtable,
		MemTableStopWritesThreshold: 2,
		MaxOpenFiles:                256,
		Logger:                      pebbleLogger{opts.Logger.With("component", "dedupe")},
	}
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		// Keys are hashes and values times: nothing to gain from
		// compressing blocks but the CPU it costs.
		po.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
	}
	db, err := pebble.Open(opts.Dir, po)
	if err != nil {
		cache.Unref()
		return nil, nil, nil, err
	}
	return db, cache, po, nil
}

// load reads the checkpoint and the generations.
func (ix *Index) load() error {
	v, closer, err := ix.db.Get(metaCheckpoint)
	switch {
	case err == nil:
		if len(v) != 8 {
			closer.Close()
			return fmt.Errorf("reading checkpoint: %d bytes", len(v))
		}
		ix.pos.Store(binary.BigEndian.Uint64(v))
		ix.durable, ix.hasDurable = ix.pos.Load(), true
		ix.hasCP.Store(true)
		closer.Close()
	case !errors.Is(err, pebble.ErrNotFound):
		return fmt.Errorf("reading checkpoint: %w", err)
	}
	v, closer, err = ix.db.Get(metaWindow)
	switch {
	case err == nil:
		if len(v) == 8 && time.Duration(binary.BigEndian.Uint64(v)) < ix.window {
			ix.wider = true
		}
		closer.Close()
	case !errors.Is(err, pebble.ErrNotFound):
		return fmt.Errorf("reading window: %w", err)
	}
	it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: metaGenPrefix, UpperBound: []byte{prefixMeta, 'g' + 1}})
	if err != nil {
		return fmt.Errorf("reading generations: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) != len(metaGenPrefix)+8 || len(v) != 8 {
			return fmt.Errorf("reading generations: malformed entry %x", k)
		}
		ix.gens = append(ix.gens, generation{
			start: int64(binary.BigEndian.Uint64(k[len(metaGenPrefix):])),
			end:   int64(binary.BigEndian.Uint64(v)),
		})
	}
	return it.Error()
}

// Fresh reports whether the index was created empty by Open (it did not
// exist, could not be read, or was never checkpointed): the caller must
// rebuild it from the log.
func (ix *Index) Fresh() bool { return ix.fresh }

// Widened reports whether the index was last written with a shorter window
// than it was opened with: ids older than the old window were dropped, so
// the caller reads the new window's part of the log again.
func (ix *Index) Widened() bool { return ix.wider }

// Window returns the window the index was opened with.
func (ix *Index) Window() time.Duration { return ix.window }

// Checkpoint returns the log position up to which every record's keys are
// in the store, and false when none was recorded yet.
func (ix *Index) Checkpoint() (uint64, bool) {
	return ix.pos.Load(), ix.hasCP.Load()
}

// Contains reports whether k was stored within the window before now, in
// the store or as a stored key awaiting the follower.
func (ix *Index) Contains(k Key, now time.Time) (bool, error) {
	ix.mu.Lock()
	s := ix.pending[k]
	ix.mu.Unlock()
	if s != nil && s.stored {
		return true, nil
	}
	ix.bufMu.RLock()
	buffered := ix.bufferedAt(k, now.Add(-ix.window).UnixNano())
	ix.bufMu.RUnlock()
	if buffered {
		return true, nil
	}
	return ix.lookup(k, now)
}

// lookup asks the store, newest generation first.
func (ix *Index) lookup(k Key, now time.Time) (bool, error) {
	seen, err := ix.lookupAll([]Key{k}, []int{0}, nil, now)
	if err != nil {
		return false, err
	}
	return seen[0], nil
}

// lookupAll asks the store about keys[i] for each i of order (which sorts
// them) where want is nil or want[i], and reports which were stored within
// the window before now. It reads each live generation, newest first, with
// one iterator positioned by prefix seeks in key order: one iterator per
// request instead of one point read per key, and the bloom filters of every
// level consulted (a point read skips the last level's, which holds nearly
// every key of a full window), so a key never seen, the common case, costs
// a filter probe per file instead of a data block.
func (ix *Index) lookupAll(keys []Key, order []int, want []bool, now time.Time) ([]bool, error) {
	release, err := ix.use()
	if err != nil {
		return nil, err
	}
	defer release()
	seen := make([]bool, len(keys))
	floor := now.Add(-ix.window).UnixNano()
	// The newest keys are in memory (buffer.go); the store is asked
	// about the rest.
	left := 0
	ix.bufMu.RLock()
	for _, i := range order {
		if want != nil && !want[i] {
			continue
		}
		if ix.bufferedAt(keys[i], floor) {
			seen[i] = true
		} else {
			left++
		}
	}
	ix.bufMu.RUnlock()
	var buf [1 + 8 + len(Key{})]byte
	var lower, upper [9]byte
	ix.genMu.RLock()
	defer ix.genMu.RUnlock()
	for gi := len(ix.gens) - 1; gi >= 0 && left > 0; gi-- {
		g := ix.gens[gi]
		if g.end <= floor {
			break
		}
		buf[0] = prefixKey
		binary.BigEndian.PutUint64(buf[1:9], uint64(g.start))
		// The generation's keys: [prefix start, prefix start+1).
		lower[0], upper[0] = prefixKey, prefixKey
		binary.BigEndian.PutUint64(lower[1:9], uint64(g.start))
		binary.BigEndian.PutUint64(upper[1:9], uint64(g.start)+1)
		it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: lower[:9], UpperBound: upper[:9], UseL6Filters: true})
		if err != nil {
			return nil, fmt.Errorf("looking up message ids: %w", err)
		}
		for _, i := range order {
			if seen[i] || (want != nil && !want[i]) {
				continue
			}
			copy(buf[9:], keys[i][:])
			if !it.SeekPrefixGE(buf[:]) {
				continue
			}
			v := it.Value()
			if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) >= floor {
				seen[i] = true
				left--
			}
		}
		err = it.Close()
		if err != nil {
			return nil, fmt.Errorf("looking up message ids: %w", err)
		}
	}
	var hits, asked uint64
	for _, i := range order {
		if want == nil || want[i] {
			asked++
			if seen[i] {
				hits++
			}
		}
	}
	ix.hits.Add(hits)
	ix.misses.Add(asked - hits)
	return seen, nil
}

// Reservation holds the keys one Append is storing: until they are marked
// stored or released, another Reserve of the same key waits for the outcome
// instead of storing it a second time.
type Reservation struct {
	ix   *Index
	keys []Key
	held []bool // held[i]: keys[i] is reserved by this reservation
}

// Reserve reserves keys for storing and reports which are duplicates:
// stored within the window (in the store, or stored by a concurrent Append
// and not yet read back), or an earlier element of keys. A key reserved by
// another Append still in flight is waited for: if that one stores it, it
// is a duplicate here; if it fails, this one reserves it. Keys are taken in
// sorted order, so two Appends never wait for each other.
//
// The caller stores the non-duplicates, marks what it stored with
// [Reservation.Stored] and then calls [Reservation.Close], which releases
// the rest. Reserve fails with ctx's error, or [ErrBehind] when the
// follower lags too far and does not catch up before ctx ends.
func (ix *Index) Reserve(ctx context.Context, keys []Key) ([]bool, *Reservation, error) {
	if err := ix.waitPending(ctx); err != nil {
		return nil, nil, err
	}
	now := time.Now()
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return bytes.Compare(keys[a][:], keys[b][:]) })
	dup := make([]bool, len(keys))
	r := &Reservation{ix: ix, keys: keys, held: make([]bool, len(keys))}
	for _, i := range order {
		k := keys[i]
		for {
			ix.mu.Lock()
			s := ix.pending[k]
			if s == nil {
				ix.pending[k] = &slot{owner: r, done: make(chan struct{})}
				ix.mu.Unlock()
				r.held[i] = true
				break
			}
			if s.stored || s.owner == r {
				ix.mu.Unlock()
				dup[i] = true
				break
			}
			done := s.done
			ix.mu.Unlock()
			select {
			case <-done:
			case <-ctx.Done():
				r.Close()
				return nil, nil, ctx.Err()
			}
		}
	}
	seen, err := ix.lookupAll(keys, order, r.held, now)
	if err != nil {
		r.Close()
		return nil, nil, err
	}
	for i, s := range seen {
		if s {
			dup[i] = true
			r.release(i)
		}
	}
	return dup, r, nil
}

// waitPending waits while the keys awaiting the follower exceed the cap.
func (ix *Index) waitPending(ctx context.Context) error {
	for {
		ix.mu.Lock()
		n, drained := len(ix.pending), ix.drained
		ix.mu.Unlock()
		if n < ix.maxPending {
			return nil
		}
		select {
		case <-drained:
		case <-ctx.Done():
			return fmt.Errorf("%w: %d keys wait to be indexed", ErrBehind, n)
		}
	}
}

// release gives up keys[i].
func (r *Reservation) release(i int) {
	ix := r.ix
	ix.mu.Lock()
	if s := ix.pending[r.keys[i]]; s != nil && s.owner == r && !s.stored {
		delete(ix.pending, r.keys[i])
		close(s.done)
	}
	ix.mu.Unlock()
	r.held[i] = false
}

// Stored marks the reserved keys at indexes idx as stored in the log at
// position seq: they are duplicates for everyone from now on, and stay in
// memory until the follower has put the record at seq in the store.
func (r *Reservation) Stored(idx []int, seq uint64) {
	ix := r.ix
	caughtUp := ix.hasCP.Load() && seq <= ix.pos.Load()
	ix.mu.Lock()
	for _, i := range idx {
		if !r.held[i] {
			continue
		}
		r.held[i] = false
		k := r.keys[i]
		s := ix.pending[k]
		if s == nil || s.owner != r {
			continue
		}
		s.stored = true
		close(s.done)
		if caughtUp {
			delete(ix.pending, k)
			continue
		}
		ix.awaiting = append(ix.awaiting, awaited{key: k, seq: seq, s: s})
	}
	ix.mu.Unlock()
}

// Close releases every key still held (not marked stored).
func (r *Reservation) Close() {
	for i, h := range r.held {
		if h {
			r.release(i)
		}
	}
}

// Add records entries, by the time their record was stored (those already
// out of the window are skipped), and checkpoint as the position up to
// which the log has been read. The keys are found by lookups at once; they
// reach the store in the next flush (buffer.go), which also records the
// checkpoint there: after a crash the store holds what was flushed,
// checkpoint included, so a repair from the log's tail after the
// checkpoint restores the rest. Called by one goroutine (the follower).
func (ix *Index) Add(entries []Entry, checkpoint uint64) error {
	release, err := ix.use()
	if err != nil {
		return err
	}
	defer release()
	now := time.Now()
	n := ix.buffer(entries, now.Add(-ix.window).UnixNano())
	if checkpoint > ix.pos.Load() || !ix.hasCP.Load() {
		ix.pos.Store(checkpoint)
		ix.hasCP.Store(true)
		ix.sweep(checkpoint)
	}
	if ix.flushDue(n, now) || !ix.hasDurable {
		return ix.flush()
	}
	return nil
}

// generationFor returns the generation that holds time at, among the
// existing ones and those about to be created (extra); created reports a
// new one, which starts at at rounded down to the span and ends one span
// later, cut short where a later generation starts.
func (ix *Index) generationFor(at int64, extra []generation) (g generation, created bool) {
	ix.genMu.RLock()
	for i := len(ix.gens) - 1; i >= 0; i-- {
		if g := ix.gens[i]; g.start <= at && at < g.end {
			ix.genMu.RUnlock()
			return g, false
		}
	}
	gens := ix.gens
	ix.genMu.RUnlock()
	for _, g := range extra {
		if g.start <= at && at < g.end {
			return g, false
		}
	}
	// Aligned to the span, clear of its neighbours (which may have
	// another span, when the window changed, or be later ones during a
	// rebuild): none of them holds at, so the result is never empty.
	span := int64(ix.span)
	g = generation{start: at - at%span}
	g.end = g.start + span
	for _, o := range append(slices.Clip(gens), extra...) {
		if o.end <= at {
			g.start = max(g.start, o.end)
		} else if o.start > at {
			g.end = min(g.end, o.start)
		}
	}
	return g, true
}

func genKey(start int64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), metaGenPrefix...), uint64(start))
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sweep forgets the stored keys that the follower has put in the store.
func (ix *Index) sweep(pos uint64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	kept := ix.awaiting[:0]
	for _, a := range ix.awaiting {
		if a.seq > pos {
			kept = append(kept, a)
			continue
		}
		if ix.pending[a.key] == a.s {
			delete(ix.pending, a.key)
		}
	}
	clear(ix.awaiting[len(kept):])
	ix.awaiting = kept
	close(ix.drained)
	ix.drained = make(chan struct{})
}

// expireLoop drops expired generations every minute (or every quarter
// span, when shorter).
func (ix *Index) expireLoop() {
	t := time.NewTicker(min(time.Minute, max(ix.span/4, time.Second)))
	defer t.Stop()
	for {
		select {
		case <-ix.stop:
			return
		case now := <-t.C:
			ix.expire(now)
		}
	}
}

// expire drops every generation that ended before the window: one range
// deletion per generation, which compaction turns into dropped files
// without reading them. Nothing is scanned.
func (ix *Index) expire(now time.Time) {
	floor := now.Add(-ix.window).UnixNano()
	ix.genMu.RLock()
	var old []generation
	for _, g := range ix.gens {
		if g.end <= floor {
			old = append(old, g)
		}
	}
	ix.genMu.RUnlock()
	release, err := ix.use()
	if err != nil {
		return
	}
	defer release()
	for _, g := range old {
		lo := binary.BigEndian.AppendUint64([]byte{prefixKey}, uint64(g.start))
		hi := binary.BigEndian.AppendUint64([]byte{prefixKey}, uint64(g.start+1))
		b := ix.db.NewBatch()
		err := b.DeleteRange(lo, hi, nil)
		if err == nil {
			err = b.Delete(genKey(g.start), nil)
		}
		if err == nil {
			err = b.Commit(pebble.NoSync)
		}
		b.Close()
		if err != nil {
			ix.log.Warn("dropping expired dedupe generation", "err", err)
			return
		}
		ix.genMu.Lock()
		ix.gens = slices.DeleteFunc(ix.gens, func(o generation) bool { return o == g })
		ix.genMu.Unlock()
		ix.log.Debug("dedupe generation dropped", "start", time.Unix(0, g.start).UTC(), "end", time.Unix(0, g.end).UTC())
		ix.compactions.Go(func() {
			// Reclaim the space now rather than at the next compaction
			// that happens to touch the range: tables wholly inside it
			// are deleted without being read.
			if err := ix.db.Compact(context.Background(), lo, hi, false); err != nil && !errors.Is(err, pebble.ErrClosed) {
				ix.log.Debug("compacting dropped dedupe generation", "err", err)
			}
		})
	}
}

// Stats are the index's figures for metrics and the admin API.
type Stats struct {
	// DiskBytes is the store's size on disk.
	DiskBytes uint64
	// MemoryBytes is the memory the index holds now: the store's cache
	// (block cache and the memtables reserved out of it) and the buffered
	// keys, at most about Options.Memory.
	MemoryBytes uint64
	// Pending counts keys stored in the log and not yet in the store, or
	// reserved by an Append in flight.
	Pending int
	// Buffered counts keys the index holds in memory, not yet written to
	// the store (see buffer.go).
	Buffered int
	// Generations is the number of live generations.
	Generations int
	// Checkpoint is [Index.Checkpoint].
	Checkpoint uint64
	// Hits and Misses count store lookups that found a key in the window
	// and those that did not.
	Hits, Misses uint64
}

// Stats returns the index's figures.
func (ix *Index) Stats() Stats {
	release, err := ix.use()
	if err != nil {
		return Stats{}
	}
	m := ix.db.Metrics()
	release()
	ix.mu.Lock()
	n := len(ix.pending)
	ix.mu.Unlock()
	ix.bufMu.RLock()
	buffered := len(ix.buf) + len(ix.frozen)
	ix.bufMu.RUnlock()
	ix.genMu.RLock()
	g := len(ix.gens)
	ix.genMu.RUnlock()
	return Stats{
		DiskBytes:   m.DiskSpaceUsage(),
		MemoryBytes: uint64(m.BlockCache.Size) + m.MemTable.Size + uint64(buffered*bufferBytesPerKey),
		Pending:     n,
		Buffered:    buffered,
		Generations: g,
		Checkpoint:  ix.pos.Load(),
		Hits:        ix.hits.Load(),
		Misses:      ix.misses.Load(),
	}
}

// Close stops the expiry and closes the store.
func (ix *Index) Close() error {
	ix.closeMu.Lock()
	if ix.closed {
		ix.closeMu.Unlock()
		return nil
	}
	ix.closed = true
	ix.closeMu.Unlock()
	close(ix.stop)
	ix.wg.Wait()
	ferr := ix.flush()
	ix.compactions.Wait()
	err := errors.Join(ferr, ix.db.Close())
	ix.cache.Unref()
	if err != nil {
		return fmt.Errorf("closing dedupe index: %w", err)
	}
	return nil
}

// pebbleLogger routes pebble's messages to slog (informational ones at
// debug level).
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...))
}
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...))
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "fatal", true)
	os.Exit(1)
}
