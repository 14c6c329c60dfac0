package eventlog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/nats-io/nats.go/jetstream"
)

// deliveryBucket is the name of the KV bucket that remembers webhook
// deliveries (see Log.Seen).
func (l *Log) deliveryBucket() string { return l.cfg.StreamPrefix + "_deliveries" }

// deliveryKey is the KV key of a (source, delivery key) pair: the hex
// SHA-256 of source, a NUL byte and key, so that any key (with dots,
// spaces, colons or of any length) becomes a valid, fixed-size KV token and
// two sources never share a key.
func deliveryKey(source, key string) string {
	sum := sha256.Sum256([]byte(source + "\x00" + key))
	return hex.EncodeToString(sum[:])
}

// Seen reports whether the delivery key of source was marked with
// [Log.Remember] within Config.DeliveryDedupeWindow. Webhook sources that
// get the same delivery more than once (GrowSurf retries a delivery for
// days) check it before storing. Errors wrap router.ErrUnavailable.
func (l *Log) Seen(ctx context.Context, source, key string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.StoreTimeout)
	defer cancel()
	_, err := l.deliveries.Get(ctx, deliveryKey(source, key))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return false, nil
	}
	return false, fmt.Errorf("looking up delivery of %s: %w: %w", source, router.ErrUnavailable, err)
}

// Remember marks the delivery key of source as handled, for
// Config.DeliveryDedupeWindow from now, in a JetStream KV bucket
// (<prefix>_deliveries, file storage), so that the mark survives restarts
// and is shared by every process using the log. It returns once JetStream
// has stored the mark. Errors wrap router.ErrUnavailable.
//
// A caller stores the delivery's messages first and remembers it after:
// when it crashes in between, a redelivery is stored again, and the
// messages' deterministic messageIds let the events stream's dedupe window
// drop the repeats; the reverse order could lose a delivery.
func (l *Log) Remember(ctx context.Context, source, key string) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.StoreTimeout)
	defer cancel()
	at := time.Now().UTC().Format(time.RFC3339Nano)
	if _, err := l.deliveries.Put(ctx, deliveryKey(source, key), []byte(at)); err != nil {
		return fmt.Errorf("remembering delivery of %s: %w: %w", source, router.ErrUnavailable, err)
	}
	return nil
}
