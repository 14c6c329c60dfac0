package customerio

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"time"
)

// crockford is the alphabet of ULIDs (Crockford's base32).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// EventID returns a deterministic ULID: the 48-bit time is
// at in unix milliseconds, the 80 bits of entropy are the first 10 bytes of
// SHA-256(key). The same key and time always give the same id, so
// Customer.io ignores a resent event.
func EventID(key string, at time.Time) string {
	var b [16]byte
	ms := uint64(at.UnixMilli())
	if at.Before(time.Unix(0, 0)) {
		ms = 0
	}
	ms &= 1<<48 - 1
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], ms)
	copy(b[:6], t[2:])
	sum := sha256.Sum256([]byte(key))
	copy(b[6:], sum[:10])
	return encodeULID(b)
}

// encodeULID writes 128 bits as 26 base32 characters, the first holding the
// top 3 bits.
func encodeULID(b [16]byte) string {
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// EventKey is the dedupe key of a message (see vector T7): for a
// message of the growsurf source (messageId "growsurf:...:identify" or
// "...:track") the messageId without that suffix, which is the GrowSurf
// dedupe key; for any other message "segment:<messageId>".
func EventKey(messageID string) string {
	if strings.HasPrefix(messageID, "growsurf:") {
		for _, suffix := range []string{":track", ":identify"} {
			if k, ok := strings.CutSuffix(messageID, suffix); ok {
				return k
			}
		}
	}
	return "segment:" + messageID
}
