package eventlog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/nats-io/nats.go/jetstream"
)

// memberPrefix starts the key of every membership in the lease bucket. Lease
// keys never hold a '.' (see subjectToken), so the two cannot collide.
const memberPrefix = "member."

// Join registers the caller as a live member of group: it puts the key
// member.<group>.<random id> in the lease bucket (<prefix>_leases, whose
// keys expire 3/4 of Config.LeaseTTL after their last write), and puts it
// again every LeaseTTL/8 until Leave (see the lease timing in lease.go). A
// renewal that fails is retried at the next tick; the key, and so the
// membership, lapses only when none succeeds for the key's life.
func (l *Log) Join(ctx context.Context, group string) (router.Membership, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	m := &membership{
		l:      l,
		group:  group,
		prefix: memberPrefix + subjectToken(group) + ".",
		owner:  []byte(ownerID()),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	m.key = m.prefix + hex.EncodeToString(b[:])
	if _, err := l.leases.Put(ctx, m.key, m.owner); err != nil {
		return nil, fmt.Errorf("joining group %q: %w: %w", group, router.ErrUnavailable, err)
	}
	go m.renew()
	return m, nil
}

// membership implements router.Membership.
type membership struct {
	l      *Log
	group  string
	prefix string // member.<group>.
	key    string // prefix + this member's id
	owner  []byte

	stop     chan struct{} // closed by Leave
	done     chan struct{} // closed when renew returns
	stopOnce sync.Once
}

// TTL returns Config.LeaseTTL.
func (m *membership) TTL() time.Duration { return m.l.cfg.LeaseTTL }

// renew puts the key every TTL/8 until Leave or the log closes.
func (m *membership) renew() {
	defer close(m.done)
	every := renewEvery(m.TTL())
	t := time.NewTicker(every)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-m.stop:
			return
		case <-m.l.closed:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		_, err := m.l.leases.Put(ctx, m.key, m.owner)
		cancel()
		switch {
		case err != nil && !failing:
			failing = true
			m.l.log.Warn("renewing membership", "group", m.group, "err", err)
		case err == nil && failing:
			failing = false
			m.l.log.Info("membership renewed again", "group", m.group)
		}
	}
}

// Members lists the group's keys (deleted and expired ones are not
// listed) and counts them, adding the caller's own when it is missing
// because its renewal is late.
func (m *membership) Members(ctx context.Context) (int, error) {
	kl, err := m.l.leases.ListKeysFiltered(ctx, m.prefix+"*")
	if err != nil {
		return 0, fmt.Errorf("listing members of %q: %w: %w", m.group, router.ErrUnavailable, err)
	}
	n, self := 0, false
	for key := range kl.Keys() {
		n++
		self = self || key == m.key
	}
	if err := ctx.Err(); err != nil {
		// The listing was cut short.
		return 0, fmt.Errorf("listing members of %q: %w: %w", m.group, router.ErrUnavailable, err)
	}
	if !self {
		n++
	}
	return n, nil
}

// Leave stops renewing and deletes the key, so that the other members count
// one fewer at their next reading.
func (m *membership) Leave(ctx context.Context) error {
	first := false
	m.stopOnce.Do(func() {
		first = true
		close(m.stop)
	})
	<-m.done
	if !first {
		return nil
	}
	select {
	case <-m.l.closed:
		return nil
	default:
	}
	if err := m.l.leases.Delete(ctx, m.key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("leaving group %q: %w", m.group, err)
	}
	return nil
}
