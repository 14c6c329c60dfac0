package router

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Kind is how a delivery attempt ended, as far as retrying is concerned.
type Kind int

const (
	// KindOK means the attempt succeeded.
	KindOK Kind = iota
	// KindRetryable means a later attempt may succeed (network errors, 429,
	// 5xx). An error that was not classified is retryable.
	KindRetryable
	// KindPermanent means no later attempt can succeed (bad request,
	// invalid credentials, data the remote refuses); dispatch dead-letters
	// the message at once.
	KindPermanent
)

// String returns "ok", "retryable" or "permanent".
func (k Kind) String() string {
	switch k {
	case KindOK:
		return "ok"
	case KindRetryable:
		return "retryable"
	case KindPermanent:
		return "permanent"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// ErrPermanent is matched by errors.Is for every error marked with
// [Permanent].
var ErrPermanent = errors.New("permanent failure")

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }
func (e *permanentError) Is(target error) bool {
	return target == ErrPermanent
}

// Permanent marks err as permanent: dispatch does not retry it and moves the
// affected messages to the dead-letter stream. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// RetryAfterError is a retryable error with the delay the remote asked for
// (for example from a Retry-After header). Dispatch waits at least Delay
// before the next attempt.
type RetryAfterError struct {
	// Err is the failure itself.
	Err error
	// Delay is the least time to wait before the next attempt.
	Delay time.Duration
}

// Error returns Err's message followed by the delay.
func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.Delay)
}

// Unwrap returns Err.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter marks err as retryable after at least d. RetryAfter(nil, d) is
// nil.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &RetryAfterError{Err: err, Delay: d}
}

// BatchError reports that some messages of a batch failed while the others
// were delivered. Failed maps an index into the batch passed to
// [Destination.Send] to that message's error, itself classified with
// [Permanent] or [RetryAfter] (or unclassified, meaning retryable). Messages
// whose index is absent were delivered.
//
// Dispatch retries only the failed messages, so a destination that delivers
// the messages of a batch independently keeps per-user order only if it
// does not deliver a user's message after a retryable failure of an earlier
// message of the same user ([Message.PartitionKey]) in the batch: it should
// report those later messages as failed (retryable) too.
type BatchError struct {
	// Failed maps the index of each failed message to its error.
	Failed map[int]error
}

// Error summarises the failures, naming up to three of them.
func (e *BatchError) Error() string {
	idx := make([]int, 0, len(e.Failed))
	for i := range e.Failed {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var b strings.Builder
	fmt.Fprintf(&b, "%d message(s) of the batch failed", len(idx))
	for n, i := range idx {
		if n == 3 {
			fmt.Fprintf(&b, "; and %d more", len(idx)-3)
			break
		}
		fmt.Fprintf(&b, "; [%d]: %v", i, e.Failed[i])
	}
	return b.String()
}

// Classify tells how an error returned by a destination is to be treated: nil
// is [KindOK], an error marked [Permanent] is [KindPermanent], anything else
// is [KindRetryable], with the delay of a [RetryAfterError] if there is one
// (else zero). A [BatchError] is classified by the caller per message; on its
// own it classifies as retryable.
func Classify(err error) (Kind, time.Duration) {
	if err == nil {
		return KindOK, 0
	}
	if errors.Is(err, ErrPermanent) {
		return KindPermanent, 0
	}
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return KindRetryable, ra.Delay
	}
	return KindRetryable, 0
}

// ErrUnavailable is matched by errors.Is for errors of the durable log that
// mean "cannot store right now, try again later" (stream full, no quorum,
// timeout). Ingest answers such errors with 503.
var ErrUnavailable = errors.New("log unavailable")
