package eventlog

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventrouter/eventrouter/router/eventlog/dedupe"
	"github.com/nats-io/nats.go/jetstream"
)

// The follower reads the events stream in order, headers only, and puts
// every record's dedupe keys in the index, with the position read as the
// index's checkpoint. It is the index's only writer: what Append stores is
// held in memory (dedupe.Reservation.Stored) until the follower has read
// it back. Because it reads the whole log, it also learns the ids that
// other processes sharing the log store.

// followerBatch is the most records the follower puts in the index at once.
const followerBatch = 1000

// openIndex opens the dedupe index under DataDir and brings it up to date
// with the log before returning: a repair from the checkpoint (the tail
// written since the index's last durable point, after a crash) or a
// rebuild of the whole window (a new, deleted or unreadable index), with a
// progress line every few seconds. Then the follower keeps it up to date
// until Close.
func (l *Log) openIndex(ctx context.Context) error {
	ix, err := dedupe.Open(dedupe.Options{
		Dir:    filepath.Join(l.cfg.DataDir, "dedupe"),
		Window: l.cfg.DedupeWindow,
		Memory: int64(l.cfg.DedupeMemory),
		Logger: l.log,
	})
	if err != nil {
		return err
	}
	l.index = ix
	info, err := l.events.Info(ctx)
	if err != nil {
		return fmt.Errorf("reading the log's state: %w", err)
	}
	st := info.State
	occ := jetstream.OrderedConsumerConfig{HeadersOnly: true, DeliverPolicy: jetstream.DeliverAllPolicy}
	floor := time.Now().Add(-l.cfg.DedupeWindow)
	cp, ok := ix.Checkpoint()
	what := "repairing dedupe index from the log's tail"
	switch {
	case !ok || ix.Fresh() || cp > st.LastSeq || ix.Widened():
		// New, deleted, unreadable, the stream was recreated since, or
		// the window grew (what the shorter one dropped is needed
		// again): read the whole window.
		what = "rebuilding dedupe index from the log"
		occ.DeliverPolicy, occ.OptStartTime = jetstream.DeliverByStartTimePolicy, &floor
		if st.Msgs == 0 || st.LastTime.Before(floor) {
			if err := ix.Add(nil, st.LastSeq); err != nil {
				return err
			}
			cp = st.LastSeq
		} else {
			cp = 0
		}
	case cp+1 >= st.FirstSeq:
		occ.DeliverPolicy, occ.OptStartSeq = jetstream.DeliverByStartSequencePolicy, cp+1
	}
	f := &follower{l: l, ix: ix, occ: occ, target: st.LastSeq, caughtUp: make(chan struct{}), failed: make(chan struct{}), stop: make(chan struct{})}
	if cp >= st.LastSeq {
		f.once.Do(func() { close(f.caughtUp) })
	}
	l.follower = f
	f.wg.Go(f.run)
	if cp >= st.LastSeq {
		return nil
	}
	start := time.Now()
	total := st.LastSeq - max(cp, st.FirstSeq-1)
	l.log.Info(what, "records", total, "window", l.cfg.DedupeWindow)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-f.caughtUp:
			l.log.Info("dedupe index ready", "records_read", f.read.Load(), "seconds", time.Since(start).Seconds())
			return nil
		case <-tick.C:
			done := f.read.Load()
			l.log.Info(what, "done", done, "of", total, "percent", fmt.Sprintf("%.0f", 100*float64(done)/float64(max(total, 1))))
		case <-ctx.Done():
			return fmt.Errorf("bringing dedupe index up to date: %w", ctx.Err())
		case <-f.failed:
			return fmt.Errorf("bringing dedupe index up to date: %w", f.err)
		}
	}
}

// follower keeps the index up to date with the events stream.
type follower struct {
	l        *Log
	ix       *dedupe.Index
	occ      jetstream.OrderedConsumerConfig
	target   uint64        // the stream's last sequence at start
	caughtUp chan struct{} // closed once target is in the index
	once     sync.Once
	failed   chan struct{} // closed with err when the index cannot be written
	err      error
	stop     chan struct{}
	wg       sync.WaitGroup
	read     atomic.Uint64 // records read

	mu   sync.Mutex
	iter jetstream.MessagesContext
}

// run reads the stream until stop, recreating its consumer after errors.
func (f *follower) run() {
	var failOnce sync.Once
	for {
		err := f.follow()
		select {
		case <-f.stop:
			return
		default:
		}
		if werr := (*indexWriteError)(nil); errors.As(err, &werr) {
			failOnce.Do(func() { f.err = err; close(f.failed) })
			f.l.log.Error("dedupe index cannot be written; ingest answers 503 once too many ids wait for it", "err", err)
		} else {
			f.l.log.Warn("reading the log for the dedupe index", "err", err)
		}
		select {
		case <-f.stop:
			return
		case <-time.After(time.Second):
		}
	}
}

type indexWriteError struct{ err error }

func (e *indexWriteError) Error() string { return e.err.Error() }
func (e *indexWriteError) Unwrap() error { return e.err }

// follow reads from the position after the checkpoint until an error or
// stop.
func (f *follower) follow() error {
	occ := f.occ
	if cp, ok := f.ix.Checkpoint(); ok && f.read.Load() > 0 {
		// Again after an error: from where the index stands.
		occ.DeliverPolicy, occ.OptStartSeq, occ.OptStartTime = jetstream.DeliverByStartSequencePolicy, cp+1, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	cons, err := f.l.js.OrderedConsumer(ctx, f.l.eventsStream(), occ)
	cancel()
	if err != nil {
		return fmt.Errorf("creating consumer: %w", err)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(2 * followerBatch))
	if err != nil {
		return fmt.Errorf("reading messages: %w", err)
	}
	f.mu.Lock()
	f.iter = iter
	f.mu.Unlock()
	select {
	case <-f.stop:
		iter.Stop()
	default:
	}
	defer iter.Stop()

	type item struct {
		seq  uint64
		at   time.Time
		keys []dedupe.Key
	}
	ch := make(chan item, 2*followerBatch)
	errc := make(chan error, 1)
	go func() {
		defer close(ch)
		for {
			msg, err := iter.Next()
			if err != nil {
				if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					errc <- err
				}
				return
			}
			md, err := msg.Metadata()
			if err != nil {
				errc <- fmt.Errorf("reading message metadata: %w", err)
				return
			}
			keys, err := recordKeys(msg.Headers())
			if err != nil {
				f.l.log.Warn("unreadable record in the log; its ids are not indexed", "seq", md.Sequence.Stream, "err", err)
			}
			ch <- item{seq: md.Sequence.Stream, at: md.Timestamp, keys: keys}
		}
	}()
	entries := make([]dedupe.Entry, 0, 8*followerBatch)
	for {
		it, ok := <-ch
		if !ok {
			select {
			case err := <-errc:
				return err
			default:
				return errors.New("stopped")
			}
		}
		entries = entries[:0]
		last := it.seq
		n := 0
		for {
			for _, k := range it.keys {
				entries = append(entries, dedupe.Entry{Key: k, At: it.at})
			}
			last = it.seq
			n++
			if n == followerBatch {
				break
			}
			var more bool
			select {
			case it, more = <-ch:
			default:
			}
			if !more {
				break
			}
		}
		if err := f.ix.Add(entries, last); err != nil {
			return &indexWriteError{err}
		}
		f.read.Add(uint64(n))
		if last >= f.target {
			f.once.Do(func() { close(f.caughtUp) })
		}
	}
}

// close stops the follower and waits for it.
func (f *follower) close() {
	close(f.stop)
	f.mu.Lock()
	if f.iter != nil {
		f.iter.Stop()
	}
	f.mu.Unlock()
	f.wg.Wait()
}
