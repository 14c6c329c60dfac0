package eventlog

import (
	"context"
	"fmt"
	"sync"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/eventlog/dedupe"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Group commit: concurrent Appends share records.
//
// Each partition has one writer goroutine with one record in flight at a
// time. An Append hands each partition's share of its messages (a piece,
// already cut at the record limits) to that partition's writer and waits;
// the writer packs every piece waiting when the previous record was
// acknowledged into the next record, up to the record limits, publishes
// it, and answers each piece's Append with the acknowledgement. While one
// record is on its way, the next one gathers: under load a record holds
// the messages of many requests (records of a single /v1/track grow from
// one message to tens), so JetStream stores, indexes, caches, delivers and
// acknowledges far fewer, larger records, which also compress better.
// A lone request pays one hand-over to the writer goroutine.
//
// Order: a partition's messages of one Append are one piece, or several
// consecutive pieces when they exceed a record; the writer publishes in
// queue order and one record at a time, so they are stored in the order
// given. When a record fails, every Append with a piece in it fails (503)
// and its later pieces are dropped from the queue unpublished, so nothing
// of that Append is stored after a gap; the client's retry finds what was
// stored as duplicates. An Append whose deadline passes gives up its pieces
// still waiting the same way.
//
// Durability is unchanged: an Append returns only once JetStream has
// acknowledged every record holding one of its messages.

// piece is one Append's messages for one partition that go into one record.
type piece struct {
	op   *appendOp
	idx  []int // indexes into op.msgs, in order
	size int   // encoded size of those messages
}

// appendOp is one Append call waiting for its pieces.
type appendOp struct {
	msgs []router.Message
	keys []dedupe.Key
	res  *dedupe.Reservation

	mu         sync.Mutex
	pending    int  // pieces not answered yet
	finished   bool // answered (all stored, or failed), or abandoned by Append
	err        error
	duplicates int // caught by JetStream's duplicate window
	done       chan struct{}
}

// alive reports whether op still wants its pieces published.
func (op *appendOp) alive() bool {
	op.mu.Lock()
	defer op.mu.Unlock()
	return !op.finished
}

// answer records the outcome of the record that held p.
func (op *appendOp) answer(p *piece, ack *jetstream.PubAck, err error) {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.finished {
		return
	}
	if err != nil {
		op.err = err
		op.finished = true
		close(op.done)
		return
	}
	op.res.Stored(p.idx, ack.Sequence)
	if ack.Duplicate {
		// The same record was stored a moment ago (the retry of a
		// publish whose acknowledgement was lost, or a retry on another
		// process composed the same way): JetStream's short duplicate
		// window caught it.
		op.duplicates += len(p.idx)
	}
	op.pending--
	if op.pending == 0 {
		op.finished = true
		close(op.done)
	}
}

// abandon stops op: pieces not yet published are dropped, answers that
// come later are ignored. It returns op's outcome if it had one.
func (op *appendOp) abandon() (finished bool, err error) {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.finished {
		return true, op.err
	}
	op.finished = true
	close(op.done)
	return false, nil
}

// partitionWriter packs the pieces of one partition into records.
type partitionWriter struct {
	l       *Log
	subject string

	mu    sync.Mutex
	queue []*piece
	wake  chan struct{} // capacity 1: pieces were queued

	bufs recordBuffers // run's only
}

// startWriters starts one writer per partition; they stop when the log is
// closed.
func (l *Log) startWriters() {
	l.writing, l.stopWriting = context.WithCancel(context.Background())
	l.writers = make([]*partitionWriter, len(l.subjects))
	for p, subject := range l.subjects {
		w := &partitionWriter{l: l, subject: subject, wake: make(chan struct{}, 1)}
		l.writers[p] = w
		l.writersDone.Add(1)
		go func() {
			defer l.writersDone.Done()
			w.run()
		}()
	}
}

// enqueue queues pieces, in order, for the next records.
func (w *partitionWriter) enqueue(pieces []*piece) {
	w.mu.Lock()
	w.queue = append(w.queue, pieces...)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *partitionWriter) run() {
	for {
		select {
		case <-w.wake:
		case <-w.l.closed:
			w.failQueued(fmt.Errorf("%w: the log is closed", router.ErrUnavailable))
			return
		}
		for {
			batch := w.take()
			if len(batch) == 0 {
				break
			}
			w.commit(batch)
		}
	}
}

// take removes from the queue the pieces of the next record: as many
// waiting pieces as fit the record limits, skipping those of Appends that
// failed or gave up. A piece alone always fits (Append cuts them so).
func (w *partitionWriter) take() []*piece {
	w.mu.Lock()
	defer w.mu.Unlock()
	var batch []*piece
	count, size := 0, recordHeaderSize
	n := 0
	for _, p := range w.queue {
		if !p.op.alive() {
			n++
			continue
		}
		if len(batch) > 0 && (count+len(p.idx) > maxRecordCount || size+p.size > maxRecordBytes) {
			break
		}
		batch = append(batch, p)
		count += len(p.idx)
		size += p.size
		n++
	}
	clear(w.queue[:n])
	w.queue = w.queue[n:]
	if len(w.queue) == 0 {
		w.queue = nil
	}
	return batch
}

// commit publishes batch as one record and answers its pieces.
func (w *partitionWriter) commit(batch []*piece) {
	count := 0
	for _, p := range batch {
		count += len(p.idx)
	}
	ms := make([]*router.Message, 0, count)
	ks := make([]dedupe.Key, 0, count)
	for _, p := range batch {
		for _, i := range p.idx {
			ms = append(ms, &p.op.msgs[i])
			ks = append(ks, p.op.keys[i])
		}
	}
	ctx, cancel := context.WithTimeout(w.l.writing, w.l.cfg.StoreTimeout)
	defer cancel()
	acks, err := w.l.publishEvents(ctx, []*nats.Msg{encodeRecordWith(&w.bufs, w.subject, ms, ks)})
	var ack *jetstream.PubAck
	if len(acks) == 1 {
		ack = acks[0]
	}
	if err == nil && ack == nil {
		err = fmt.Errorf("%w: no acknowledgement", router.ErrUnavailable)
	}
	if err != nil {
		// The client may still hold the body (a publish buffered during
		// a reconnection): leave those buffers to it.
		w.bufs = recordBuffers{}
	}
	w.l.metrics.observeRecord(count)
	for _, p := range batch {
		p.op.answer(p, ack, err)
	}
}

// failQueued answers every waiting piece with err.
func (w *partitionWriter) failQueued(err error) {
	w.mu.Lock()
	queue := w.queue
	w.queue = nil
	w.mu.Unlock()
	for _, p := range queue {
		p.op.answer(p, nil, err)
	}
}
