package eventlog

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/eventlog/dedupe"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A record is what the events stream stores: messages of one partition,
// from one or more Append calls (see writer.go), in their order. One
// JetStream message per record instead of per event is what lets ingest
// keep up with the machine: the cost of a publish, its acknowledgement, the
// stream's per-message index and a consumer's ack is paid once per record.
//
// Headers:
//
//	Er-Format  "record-1"
//	Er-Keys    base64url (no padding) of the dedupe keys of the messages, 16 bytes each, in order
//	Nats-Msg-Id  "rec:" + base64url of the first 16 bytes of the SHA-256 of the keys
//
// Body: a version byte (1), the number of messages as a uvarint, then per
// message the uvarint-length-prefixed ID, Source, Type, UserID, AnonymousID
// and Event, ReceivedAt as a varint of Unix nanoseconds, Violations as a
// uvarint and the uvarint-length-prefixed Body. Versions 2 and 3 are the
// same after the version byte, compressed: 3 with zstd (klauspost/compress,
// its fastest level; one frame that states its decoded size) for a body of
// minZstd bytes or more, 2 with S2 for a smaller one. Append writes the
// compressed form when it is smaller.
//
// Why zstd for large records: measured on the benchmark's records (track
// events of ~680 bytes after normalisation), zstd stores 86 bytes per event
// in a record of 100 and S2 167, because zstd also entropy-codes what does
// not repeat (ids, hashes, numbers); it costs about 0.5 µs more per event
// to compress and 0.2 µs to decompress, and it halves what nats-server
// copies, checksums, writes and keeps in its block cache. At full batch
// ingest with a destination delivering, that cache (about ten seconds of
// ingest, see below) fell from 96 to 72 MB while throughput rose by a
// fifth: the garbage collector, which the soft memory limit makes run more
// often the less room that cache leaves, took 14 % of the CPU instead of
// 24 %. Why S2 for small ones: zstd's cost per call (its entropy tables)
// makes it 1.5–4 µs per event in records of 1–4 events, where S2 takes
// 0.25–0.5 µs; single /v1/track requests, whose records hold a few events,
// spent 9 % of their CPU in zstd.
//
// Why compress the record, not the stream (JetStream's compression: s2):
// nats-server compresses a block only on disk, once it is full, while it
// keeps the uncompressed block being written, and every block read in the
// last 10 s, in memory (its cache expiry, not configurable). Records are
// read back within milliseconds (by the dedupe follower and by dispatch),
// so that cache holds about ten seconds of ingest: at 40,000 events/s of
// 600 bytes, 240 MB. Compressing each record before the publish divides
// that memory, the bytes copied into the cache and the bytes written by
// the same factor (2–3 for records of a few events, more for larger ones),
// for about 2 % of a core at that rate; the per-message JSON, which repeats
// its keys and context, is what compresses.
//
// Messages stored one per JetStream message with their fields in headers
// (the layout before records; still what the dead-letter, redrive and
// quarantine streams use) are read as records of one message.
const (
	hdrFormat    = "Er-Format"
	hdrKeys      = "Er-Keys"
	recordFormat = "record-1"
	recordV1     = 1
	recordV2     = 2 // recordV1's body compressed with S2
	recordV3     = 3 // recordV1's body compressed with zstd
	// minCompress is the smallest body worth compressing; minZstd the
	// smallest compressed with zstd rather than S2 (about a dozen messages).
	minCompress = 256
	minZstd     = 8 << 10
)

// Limits of one record. A message's position in the log (router.Delivery's
// Seq) is its record's stream sequence times seqScale plus its index in the
// record, so a record holds fewer than seqScale messages; and it stays well
// under NATS's default maximum payload of 1 MiB. A record is written with
// at most maxRecordCount messages: JetStream refuses a message whose
// headers exceed 64 KiB, and Er-Keys takes 16 bytes per message in base64
// (2,048 messages: 43,691 bytes; 3,072 would not fit). Records of up to
// maxDecodeCount are read, as earlier versions wrote them.
const (
	seqScale         = 10000
	maxRecordCount   = 2048
	maxDecodeCount   = 4096
	maxRecordBytes   = 512 << 10
	recordHeaderSize = 1 + binary.MaxVarintLen64
	// maxDecodedRecord bounds what a compressed record may decode to: a
	// record is cut at maxRecordBytes before compression, plus at most one
	// message that alone exceeds it.
	maxDecodedRecord = 4 << 20
)

// eventSeq is the log position of message i of the record at stream
// sequence record.
func eventSeq(record uint64, i int) uint64 { return record*seqScale + uint64(i) }

// splitSeq is the inverse of eventSeq.
func splitSeq(seq uint64) (record uint64, i int) { return seq / seqScale, int(seq % seqScale) }

// encodedSize is the size of m's entry in a record body.
func encodedSize(m *router.Message) int {
	n := 0
	for _, s := range [...]string{m.ID, m.Source, m.Type, m.UserID, m.AnonymousID, m.Event} {
		n += uvarintLen(uint64(len(s))) + len(s)
	}
	return n + binary.MaxVarintLen64*2 + uvarintLen(uint64(len(m.Body))) + len(m.Body)
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// encodeRecord builds the JetStream message of a record holding msgs, whose
// dedupe keys are keys, on subject.
func encodeRecord(subject string, msgs []*router.Message, keys []dedupe.Key) *nats.Msg {
	return encodeRecordWith(nil, subject, msgs, keys)
}

// recordBuffers are the buffers a writer reuses from one record to the
// next (it has one record in flight, so the previous one's are free once
// its acknowledgement came): the body before and after compression, which
// would otherwise be two allocations of a record's size per record.
type recordBuffers struct{ raw, packed []byte }

// grow returns b emptied, with room for n bytes.
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, 0, n)
	}
	return b[:0]
}

// encodeRecordWith is encodeRecord building the body in bufs (nil: new
// buffers); the message's Data aliases one of them.
func encodeRecordWith(bufs *recordBuffers, subject string, msgs []*router.Message, keys []dedupe.Key) *nats.Msg {
	if bufs == nil {
		bufs = &recordBuffers{}
	}
	size := recordHeaderSize
	for _, m := range msgs {
		size += encodedSize(m)
	}
	b := grow(bufs.raw, size)
	b = append(b, recordV1)
	b = binary.AppendUvarint(b, uint64(len(msgs)))
	for _, m := range msgs {
		for _, s := range [...]string{m.ID, m.Source, m.Type, m.UserID, m.AnonymousID, m.Event} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		var at int64
		if !m.ReceivedAt.IsZero() {
			at = m.ReceivedAt.UnixNano()
		}
		b = binary.AppendVarint(b, at)
		b = binary.AppendUvarint(b, uint64(max(m.Violations, 0)))
		b = binary.AppendUvarint(b, uint64(len(m.Body)))
		b = append(b, m.Body...)
	}
	bufs.raw = b
	switch {
	case len(b) >= minZstd:
		c := grow(bufs.packed, len(b))[:1]
		c[0] = recordV3
		c = zstdEncoder().EncodeAll(b[1:], c)
		bufs.packed = c
		if len(c) < len(b) {
			b = c
		}
	case len(b) >= minCompress:
		c := grow(bufs.packed, 1+s2.MaxEncodedLen(len(b)-1))[:1]
		bufs.packed = c
		c[0] = recordV2
		c = c[:1+len(s2.Encode(c[1:cap(c)], b[1:]))]
		if len(c) < len(b) {
			b = c
		}
	}
	raw := make([]byte, 0, len(keys)*len(dedupe.Key{}))
	for _, k := range keys {
		raw = append(raw, k[:]...)
	}
	sum := sha256.Sum256(raw)
	h := nats.Header{
		hdrFormat:             []string{recordFormat},
		hdrKeys:               []string{base64.RawURLEncoding.EncodeToString(raw)},
		jetstream.MsgIDHeader: []string{"rec:" + base64.RawURLEncoding.EncodeToString(sum[:16])},
	}
	return &nats.Msg{Subject: subject, Header: h, Data: b}
}

// zstdEncoder and zstdDecoder compress and decompress record bodies, made
// at first use; both are safe for concurrent use (EncodeAll, DecodeAll),
// with one encoder or decoder state per core. The window covers a whole
// record (maxRecordBytes); a record's body carries no checksum of its own
// (nats-server checksums every stored message).
var (
	zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithLowerEncoderMem(true),
			zstd.WithWindowSize(1<<20), zstd.WithEncoderCRC(false))
		if err != nil {
			panic(err) // only for invalid options
		}
		return e
	})
	zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxDecodedRecord), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderConcurrency(0))
		if err != nil {
			panic(err) // only for invalid options
		}
		return d
	})
)

// errRecord reports a malformed record body.
var errRecord = errors.New("malformed record")

// decodeRecord returns the messages stored in a JetStream message of the
// events stream: the messages of a record, or the one message of the
// layout before records. Bodies alias data.
func decodeRecord(h nats.Header, data []byte) ([]router.Message, error) {
	if h.Get(hdrFormat) != recordFormat {
		m, err := decode(h, data)
		return []router.Message{m}, err
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", errRecord)
	}
	p := data[1:]
	switch data[0] {
	case recordV1:
	case recordV2:
		n, err := s2.DecodedLen(p)
		if err != nil || n > maxDecodedRecord {
			return nil, fmt.Errorf("%w: bad compressed body", errRecord)
		}
		if p, err = s2.Decode(make([]byte, n), p); err != nil {
			return nil, fmt.Errorf("%w: %v", errRecord, err)
		}
	case recordV3:
		var fh zstd.Header
		if err := fh.Decode(p); err != nil || !fh.HasFCS || fh.FrameContentSize > maxDecodedRecord {
			return nil, fmt.Errorf("%w: bad compressed body", errRecord)
		}
		out, err := zstdDecoder().DecodeAll(p, make([]byte, 0, fh.FrameContentSize))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errRecord, err)
		}
		p = out
	default:
		return nil, fmt.Errorf("%w: unknown version %d", errRecord, data[0])
	}
	n, k := binary.Uvarint(p)
	if k <= 0 || n > maxDecodeCount {
		return nil, fmt.Errorf("%w: bad count", errRecord)
	}
	p = p[k:]
	out := make([]router.Message, n)
	bytesOf := func() ([]byte, error) {
		l, k := binary.Uvarint(p)
		if k <= 0 || uint64(len(p)-k) < l {
			return nil, fmt.Errorf("%w: truncated", errRecord)
		}
		v := p[k : k+int(l) : k+int(l)]
		p = p[k+int(l):]
		return v, nil
	}
	for i := range out {
		m := &out[i]
		// The six fields are read as offsets into one string of their
		// bytes (one allocation per message, not six).
		region := p
		var offs [6][2]int
		for j := range offs {
			v, err := bytesOf()
			if err != nil {
				return nil, err
			}
			end := len(region) - len(p)
			offs[j] = [2]int{end - len(v), end}
		}
		fs := string(region[:len(region)-len(p)])
		field := func(j int) string { return fs[offs[j][0]:offs[j][1]] }
		m.ID, m.Source, m.Type = field(0), field(1), field(2)
		m.UserID, m.AnonymousID, m.Event = field(3), field(4), field(5)
		at, k := binary.Varint(p)
		if k <= 0 {
			return nil, fmt.Errorf("%w: truncated", errRecord)
		}
		p = p[k:]
		if at != 0 {
			m.ReceivedAt = time.Unix(0, at).UTC()
		}
		v, k := binary.Uvarint(p)
		if k <= 0 {
			return nil, fmt.Errorf("%w: truncated", errRecord)
		}
		p = p[k:]
		m.Violations = int(v)
		body, err := bytesOf()
		if err != nil {
			return nil, err
		}
		m.Body = body
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errRecord, len(p))
	}
	return out, nil
}

// recordKeys returns the dedupe keys of the messages of a JetStream message
// of the events stream, from its headers only.
func recordKeys(h nats.Header) ([]dedupe.Key, error) {
	if h.Get(hdrFormat) != recordFormat {
		id := h.Get(hdrMessageID)
		if id == "" {
			return nil, nil
		}
		return []dedupe.Key{dedupe.KeyOf(unescape(h.Get(hdrSource)), unescape(id))}, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(h.Get(hdrKeys))
	if err != nil || len(raw)%len(dedupe.Key{}) != 0 {
		return nil, fmt.Errorf("%w: bad %s header", errRecord, hdrKeys)
	}
	keys := make([]dedupe.Key, len(raw)/len(dedupe.Key{}))
	for i := range keys {
		copy(keys[i][:], raw[i*len(dedupe.Key{}):])
	}
	return keys, nil
}
