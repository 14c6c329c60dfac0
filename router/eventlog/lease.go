package eventlog

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/nats-io/nats.go/jetstream"
)

// Lease timing, with T = Config.LeaseTTL:
//
//   - the keys of the lease bucket, leases and memberships alike, expire
//     keyLife = 3T/4 after their last write (the bucket's TTL);
//   - holders renew them every T/8;
//   - a holder counts its lease as held until 90% of keyLife after the last
//     successful renewal was sent (0.675 T), so it stops before the key can
//     expire, however late the renewal reached the server;
//   - dispatch reads member counts and tries free partitions every T/16.
//
// So the partitions of a process that died are taken over within
// 3T/4 + T/16, plus the server's expiry check and a round trip: inside T,
// which is what Config.LeaseTTL promises. A holder rides out up to
// 0.675 T − T/8 of failed renewals (a leader election of the bucket's
// stream, 4 to 9 s with nats-server's defaults, against 5.5 s with the
// default T of 10 s) before it gives its partitions up; they are then
// taken again, in order, once the bucket answers.
//
// keyLife is at least 100ms, JetStream's shortest MaxAge.
func keyLife(ttl time.Duration) time.Duration    { return max(ttl*3/4, 100*time.Millisecond) }
func renewEvery(ttl time.Duration) time.Duration { return ttl / 8 }

// Acquire takes the lease called name: a key in the lease bucket
// (<prefix>_leases, whose keys expire 3/4 of Config.LeaseTTL after their
// last write). It creates the key, failing with an error matching
// router.ErrLeaseHeld when it exists, then renews it every LeaseTTL/8 with
// a compare-and-set on its revision. The lease is lost when a renewal is
// refused (someone else took the key after it expired) or when none
// succeeded for 90% of the key's life, measured from when the last
// successful renewal was sent; so a holder stops believing it holds the
// lease before the server can let anyone else take it.
func (l *Log) Acquire(ctx context.Context, name string) (router.Lease, error) {
	key := subjectToken(name)
	owner := ownerID()
	sent := time.Now()
	rev, err := l.leases.Create(ctx, key, []byte(owner))
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return nil, fmt.Errorf("acquiring lease %q: %w", name, router.ErrLeaseHeld)
		}
		return nil, fmt.Errorf("acquiring lease %q: %w: %w", name, router.ErrUnavailable, err)
	}
	ls := &lease{
		l:     l,
		key:   key,
		owner: []byte(owner),
		ttl:   l.cfg.LeaseTTL,
		rev:   rev,
		lost:  make(chan struct{}),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	ls.validUntil = sent.Add(ls.validity())
	go ls.renew()
	return ls, nil
}

var (
	ownerOnce   sync.Once
	ownerPrefix string
)

// ownerID names a lease holder: host, pid and a random part.
func ownerID() string {
	ownerOnce.Do(func() {
		host, _ := os.Hostname()
		ownerPrefix = fmt.Sprintf("%s/%d/", host, os.Getpid())
	})
	var b [6]byte
	_, _ = rand.Read(b[:])
	return ownerPrefix + hex.EncodeToString(b[:])
}

// lease implements router.Lease.
type lease struct {
	l     *Log
	key   string
	owner []byte
	ttl   time.Duration

	mu         sync.Mutex
	rev        uint64
	validUntil time.Time
	isLost     bool

	lost     chan struct{} // closed when the lease is no longer held
	stop     chan struct{} // closed by Release
	done     chan struct{} // closed when renew returns
	stopOnce sync.Once
}

func (ls *lease) validity() time.Duration { return keyLife(ls.ttl) * 9 / 10 }

// Held reports whether the lease is still held.
func (ls *lease) Held() bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return !ls.isLost && time.Now().Before(ls.validUntil)
}

// Lost returns a channel closed when the lease is lost or released.
func (ls *lease) Lost() <-chan struct{} { return ls.lost }

// TTL returns Config.LeaseTTL.
func (ls *lease) TTL() time.Duration { return ls.ttl }

func (ls *lease) markLost() {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if !ls.isLost {
		ls.isLost = true
		close(ls.lost)
	}
}

// stopped reports whether either channel is closed.
func stopped(a, b <-chan struct{}) bool {
	select {
	case <-a:
		return true
	case <-b:
		return true
	default:
		return false
	}
}

// errRenewAgain: the renewal found the key at a newer revision of this
// holder's own and renews it at the next tick.
var errRenewAgain = errors.New("renew again")

// renew keeps the lease until it is released or lost, or the log closes.
func (ls *lease) renew() {
	defer close(ls.done)
	defer ls.markLost()
	every := renewEvery(ls.ttl)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ls.mu.Lock()
		until := time.Until(ls.validUntil)
		ls.mu.Unlock()
		expire := time.NewTimer(until)
		select {
		case <-ls.stop:
			expire.Stop()
			return
		case <-ls.l.closed:
			expire.Stop()
			return
		case <-expire.C:
			ls.l.log.Warn("lease expired before it could be renewed", "lease", ls.key)
			return
		case <-t.C:
			expire.Stop()
		}
		ls.mu.Lock()
		rev, until := ls.rev, time.Until(ls.validUntil)
		ls.mu.Unlock()
		sent := time.Now()
		// A slow answer is still worth having while the lease is valid
		// (Held goes by the clock meanwhile), rather than abandoned after
		// one renewal period: an abandoned update may have been applied.
		// Release and Close do not wait for it.
		ctx, cancel := context.WithTimeout(context.Background(), max(every, until))
		go func() {
			select {
			case <-ls.stop:
			case <-ls.l.closed:
			case <-ctx.Done():
			}
			cancel()
		}()
		newRev, err := ls.l.leases.Update(ctx, ls.key, ls.owner, rev)
		cancel()
		if err != nil && stopped(ls.stop, ls.l.closed) {
			return
		}
		if err != nil && errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			// An earlier update given up on may have been applied after
			// all: the key still names this holder, at a newer revision.
			ctx, cancel := context.WithTimeout(context.Background(), every)
			if e, gerr := ls.l.leases.Get(ctx, ls.key); gerr == nil && bytes.Equal(e.Value(), ls.owner) {
				ls.mu.Lock()
				ls.rev = e.Revision()
				ls.mu.Unlock()
				err = errRenewAgain
			}
			cancel()
		}
		switch {
		case err == nil:
			ls.mu.Lock()
			ls.rev = newRev
			ls.validUntil = sent.Add(ls.validity())
			ls.mu.Unlock()
		case errors.Is(err, errRenewAgain):
			// Renewed with the current revision at the next tick.
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound):
			ls.l.log.Warn("lease taken over", "lease", ls.key)
			return
		default:
			ls.l.log.Warn("renewing lease", "lease", ls.key, "err", err)
		}
	}
}

// Release stops renewing and deletes the key if it is still this lease's,
// so that another process can take the lease at once.
func (ls *lease) Release(ctx context.Context) error {
	ls.stopOnce.Do(func() { close(ls.stop) })
	<-ls.done
	ls.mu.Lock()
	rev, valid := ls.rev, time.Now().Before(ls.validUntil)
	ls.mu.Unlock()
	if !valid {
		return nil
	}
	select {
	case <-ls.l.closed:
		return nil
	default:
	}
	// A renewal Release interrupted may have been applied all the same:
	// the key then names this holder at a newer revision, and is deleted
	// at that one. (The server applies the update before the delete: both
	// go over one connection to one stream.)
	for range 3 {
		err := ls.l.leases.Delete(ctx, ls.key, jetstream.LastRevision(rev))
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("releasing lease %q: %w", ls.key, err)
		}
		e, gerr := ls.l.leases.Get(ctx, ls.key)
		if gerr != nil || !bytes.Equal(e.Value(), ls.owner) {
			return nil // taken over, expired or deleted: not this holder's any more
		}
		rev = e.Revision()
	}
	return fmt.Errorf("releasing lease %q: the key kept changing", ls.key)
}
