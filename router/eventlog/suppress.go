package eventlog

import "time"

// DeliveredWithin reports whether the suppression key was delivered to
// destination within window before now, as recorded by
// [Log.RememberDelivered] in this process's dedupe index (see the dedupe
// package).
func (l *Log) DeliveredWithin(destination, key string, window time.Duration, now time.Time) (bool, error) {
	return l.index.DeliveredWithin(destination, key, window, now)
}

// RememberDelivered records, in this process's dedupe index, that the
// suppression keys were delivered to destination at at, for window.
func (l *Log) RememberDelivered(destination string, keys []string, at time.Time, window time.Duration) error {
	return l.index.RememberDelivered(destination, keys, at, window)
}
