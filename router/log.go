package router

import (
	"context"
	"errors"
	"time"
)

// Log is the durable log as the dispatcher sees it: partitioned, with one
// cursor per (destination, partition), leases that give one process at a
// time the right to work a cursor, and a dead-letter store. The eventlog
// package implements it on NATS JetStream; the rest of the code depends on
// this interface only.
//
// A Log is safe for concurrent use.
type Log interface {
	// Partitions returns the number of partitions messages are spread over
	// with [Partition].
	Partitions() int

	// Reader returns the reader of one (destination, partition) cursor,
	// creating the durable cursor the first time. Every process that opens
	// the same cursor shares its position: a message acknowledged through
	// one reader is not delivered again through another.
	Reader(ctx context.Context, cfg ReaderConfig) (PartitionReader, error)

	// Acquire takes the lease called name, which is held until it is
	// released, or lost because it could not be renewed in time. It returns
	// an error matching [ErrLeaseHeld] when another holder has it.
	Acquire(ctx context.Context, name string) (Lease, error)

	// Join registers the caller as a live member of the group called name
	// (dispatch joins one group per destination) and keeps it registered,
	// renewing the registration in the background, until Leave is called.
	// A process that dies stops being counted after the registration's TTL.
	// Errors wrap [ErrUnavailable].
	Join(ctx context.Context, group string) (Membership, error)

	// DeadLetter stores a message that dispatch gave up on in the
	// destination's dead-letter store, with its last error and attempt
	// count. Storing the same (destination, Seq) twice within the dedupe
	// window keeps one copy. Errors wrap [ErrUnavailable].
	DeadLetter(ctx context.Context, dl DeadLetter) error
}

// ReaderConfig selects and configures one cursor of the log.
type ReaderConfig struct {
	// Destination is the name of the destination the cursor belongs to.
	Destination string
	// Partition is the partition the cursor reads, in [0, Partitions()).
	Partition int
	// AckWait is how long a fetched message may stay unacknowledged (and
	// without [PartitionReader.InProgress]) before the log delivers it
	// again. Zero means 30 seconds.
	AckWait time.Duration
	// MaxInFlight is the most messages the cursor hands out before earlier
	// ones are acknowledged: at least the batch size the reader fetches.
	// Zero means 1000.
	MaxInFlight int
	// FromStart makes a cursor that does not exist yet start at the oldest
	// message the log retains; by default a new cursor starts with the
	// messages stored after its creation. An existing cursor always resumes
	// where it stopped.
	FromStart bool
}

// Delivery is one message read from the log through a [PartitionReader].
type Delivery struct {
	// Message is the message as ingest stored it.
	Message Message
	// Partition is the partition the message was read from.
	Partition int
	// Seq is the message's position in the log; it increases with the
	// order in which messages were stored.
	Seq uint64
	// Delivered counts how many times the log has handed this message out,
	// this time included: 1 on the first delivery, more after a reader
	// stopped without acknowledging it (a crash, a lost lease).
	Delivered int
	// Redrive is, for a message delivered again from the log's redrive
	// store (a dead-letter redrive or a replay), its position there; 0 for
	// a message read from the log itself. Seq is then the message's
	// original position in the log.
	Redrive uint64
	// DeadLetterID is set by a dead-letter redrive on the deliveries it
	// queues again (the dead letter's [DeadLetter.ID]); 0 otherwise. The
	// log derives the queued copy's identity from it, so that the same
	// dead letter redriven twice (at once, or again after a failure to
	// remove it) is queued once.
	DeadLetterID uint64
}

// PartitionReader reads one (destination, partition) cursor in the order
// messages were stored.
//
// A reader is safe for concurrent use (dispatch keeps a batch alive with
// InProgress while it is being sent, and reads Pending for metrics), but one
// goroutine at a time calls Fetch and Rewind. Fetch returns messages the
// log then considers in flight: they are delivered again after the
// cursor's AckWait unless acknowledged with Ack or kept with InProgress.
//
// Order holds through faults: after a connection loss, an acknowledgement
// that failed, or deliveries that went astray, Fetch hands out nothing
// newer than a message that was fetched and not acknowledged until that
// message has been handed out again.
type PartitionReader interface {
	// Fetch returns up to max messages, waiting up to wait for the batch to
	// fill; it returns fewer, possibly none, when wait ends first. Messages
	// delivered again (see [Delivery.Delivered]) come before new ones.
	Fetch(ctx context.Context, max int, wait time.Duration) ([]Delivery, error)
	// Rewind moves the cursor back to its oldest unacknowledged message:
	// everything fetched and not acknowledged, through this reader or any
	// other process's, is delivered again by the next Fetch, before
	// anything newer, and nothing in flight elsewhere is due later. A
	// process that takes a partition over calls it before its first Fetch.
	// Delivery counts ([Delivery.Delivered]) start again at 1. When Rewind
	// fails, the next Fetch tries again and returns an error until it
	// succeeds.
	Rewind(ctx context.Context) error
	// Ack acknowledges ds for good and returns once the log has confirmed.
	Ack(ctx context.Context, ds []Delivery) error
	// InProgress resets the AckWait clock of ds, so that they are not
	// delivered again while the caller is still working on them.
	InProgress(ctx context.Context, ds []Delivery) error
	// Release hands ds back to the log for delivery again right away.
	Release(ctx context.Context, ds []Delivery) error
	// Pending reports the cursor's lag.
	Pending(ctx context.Context) (Pending, error)
}

// Pending is the lag of one cursor.
type Pending struct {
	// Waiting is the number of stored messages not yet delivered.
	Waiting uint64
	// InFlight is the number of delivered messages not yet acknowledged.
	InFlight uint64
}

// ErrLeaseHeld is matched by errors.Is when [Log.Acquire] finds the lease
// held by someone else.
var ErrLeaseHeld = errors.New("lease held by another owner")

// Lease is exclusive ownership of a name among every process sharing a log.
// Its holder renews it in the background; when it cannot renew it before it
// expires, the lease is lost and another process may acquire it.
type Lease interface {
	// Held reports whether the lease is still held: it was renewed
	// recently enough that no other process can have acquired it.
	Held() bool
	// Lost returns a channel that is closed when the lease stops being
	// held, lost or released.
	Lost() <-chan struct{}
	// TTL returns the log's lease TTL: another process takes a lease
	// whose holder died within this long.
	TTL() time.Duration
	// Release gives the lease up so that another process can take it at
	// once. Releasing twice is harmless.
	Release(ctx context.Context) error
}

// Membership is one process's registration in a group of processes
// sharing a log (see [Log.Join]). Dispatch uses it to spread the partitions
// of a destination evenly over the processes that feed it.
//
// A Membership is safe for concurrent use.
type Membership interface {
	// Members reads from the log how many members the group has now, the
	// caller included (so at least 1). Each call is a round trip to the
	// log: call it a few times per TTL, not in a loop.
	Members(ctx context.Context) (int, error)
	// TTL returns the log's lease TTL: a member that died stops being
	// counted within this long (its registration is renewed more often).
	// Readers of Members call it every TTL/16 or so to notice a death in
	// time for its partitions to be taken over within the TTL.
	TTL() time.Duration
	// Leave removes the caller from the group at once and stops renewing.
	// Leaving twice is harmless.
	Leave(ctx context.Context) error
}

// DeadLetter is a message that dispatch gave up delivering to one
// destination, kept with why.
type DeadLetter struct {
	// Destination is the destination that could not take the message.
	Destination string
	// Message is the message, as stored by ingest.
	Message Message
	// Seq is the message's position in the log (see [Delivery.Seq]).
	Seq uint64
	// Attempts is how many delivery attempts were made.
	Attempts int
	// FirstFailure is when the first attempt failed.
	FirstFailure time.Time
	// LastError is the error of the last attempt.
	LastError string
	// DeadAt is when the message was dead-lettered; set by the log when
	// zero.
	DeadAt time.Time
	// ID is the dead letter's position in the dead-letter store; set when
	// it is read back.
	ID uint64
	// Redrive is [Delivery.Redrive] of the delivery that failed: a message
	// that fails again after a redrive is stored as a new dead letter,
	// not taken for a repeat of the first one.
	Redrive uint64
}
