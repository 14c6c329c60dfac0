package dedupe

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Delivered keys of suppression windows (see the package documentation's
// "Suppression keys") live beside the ids, under their own prefix:
//
//	0x02 | uvarint length of the destination | destination | first 16 bytes of SHA-256(key)
//
// with the time of the last delivery and the window (8 bytes each, unix
// nanoseconds and nanoseconds) as value.
const prefixSuppress = 0x02

func suppressKey(destination, key string) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(destination)+16)
	b = append(b, prefixSuppress)
	b = binary.AppendUvarint(b, uint64(len(destination)))
	b = append(b, destination...)
	sum := sha256.Sum256([]byte(key))
	return append(b, sum[:16]...)
}

// DeliveredWithin reports whether key was recorded for destination by
// [Index.RememberDelivered] within window before now.
func (ix *Index) DeliveredWithin(destination, key string, window time.Duration, now time.Time) (bool, error) {
	release, err := ix.use()
	if err != nil {
		return false, err
	}
	defer release()
	v, closer, err := ix.db.Get(suppressKey(destination, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading suppression key: %w", err)
	}
	defer closer.Close()
	if len(v) != 16 {
		return false, fmt.Errorf("reading suppression key: malformed value of %d bytes", len(v))
	}
	at := int64(binary.BigEndian.Uint64(v))
	return now.UnixNano()-at < int64(window), nil
}

// RememberDelivered records that keys were delivered to destination at at,
// to be kept for window (then swept). It writes one batch without fsync:
// it survives the process, not the machine.
func (ix *Index) RememberDelivered(destination string, keys []string, at time.Time, window time.Duration) error {
	release, err := ix.use()
	if err != nil {
		return err
	}
	defer release()
	b := ix.db.NewBatch()
	defer b.Close()
	var val [16]byte
	binary.BigEndian.PutUint64(val[:8], uint64(at.UnixNano()))
	binary.BigEndian.PutUint64(val[8:], uint64(window))
	for _, k := range keys {
		if err := b.Set(suppressKey(destination, k), val[:], nil); err != nil {
			return fmt.Errorf("remembering suppression keys: %w", err)
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("remembering suppression keys: %w", err)
	}
	return nil
}

// sweepSuppressed deletes the suppression keys whose window ended before
// now, and returns how many it deleted. It reads every suppression key
// (not the ids): one pass per sweep through the cache, whose size bounds
// its memory.
func (ix *Index) sweepSuppressed(now time.Time) (int, error) {
	release, err := ix.use()
	if err != nil {
		return 0, err
	}
	defer release()
	it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixSuppress}, UpperBound: []byte{prefixSuppress + 1}})
	if err != nil {
		return 0, err
	}
	b := ix.db.NewBatch()
	defer b.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		v := it.Value()
		if len(v) != 16 {
			continue
		}
		at, window := int64(binary.BigEndian.Uint64(v[:8])), int64(binary.BigEndian.Uint64(v[8:]))
		if now.UnixNano()-at >= window {
			if err := b.Delete(it.Key(), nil); err != nil {
				it.Close()
				return 0, err
			}
			n++
		}
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	return n, b.Commit(pebble.NoSync)
}

// sweepEvery is how often suppression keys are swept.
const sweepEvery = 10 * time.Minute

// sweepLoop sweeps suppression keys until Close.
func (ix *Index) sweepLoop() {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ix.stop:
			return
		case now := <-t.C:
			if n, err := ix.sweepSuppressed(now); err != nil {
				if !errors.Is(err, ErrClosed) {
					ix.log.Warn("sweeping expired suppression keys", "err", err)
				}
			} else if n > 0 {
				ix.log.Debug("expired suppression keys swept", "keys", n)
			}
		}
	}
}
