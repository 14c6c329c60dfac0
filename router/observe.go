package router

import "time"

// IngestRecord is what ingest reports about one request it stored, to an
// observer such as the live debugger. Its slices belong to ingest: an
// observer reads them during the call and copies what it keeps.
type IngestRecord struct {
	// Raw is the request body after gzip decoding; nil when the request
	// carried none (a GET with a data parameter, a pixel).
	Raw []byte
	// ReceivedAt is when the request arrived.
	ReceivedAt time.Time
	// Accepted are the messages stored in the log.
	Accepted []Message
	// Rejected are the items answered 200 but not accepted.
	Rejected []Rejected
	// Quarantined are the messages the tracking plan blocked.
	Quarantined []Quarantined
}

// LogInfo describes the durable log's limits and how full it is.
type LogInfo struct {
	// Retention is how long messages are kept; 0 means no age limit.
	Retention time.Duration
	// MaxBytes caps each stream's size; 0 means no cap.
	MaxBytes int64
	// Bytes and Messages are the size and message count of the events
	// stream now.
	Bytes    uint64
	Messages uint64
	// FirstSeq and FirstTime are the oldest message the events stream
	// retains (zero when it is empty).
	FirstSeq  uint64
	FirstTime time.Time
	// DedupeWindow is how long a messageId is remembered; DedupeDiskBytes
	// and DedupeMemoryBytes are the disk and memory its index uses now,
	// DedupeMemoryLimit the index's memory cap.
	DedupeWindow      time.Duration
	DedupeDiskBytes   uint64
	DedupeMemoryBytes uint64
	DedupeMemoryLimit int64
}

// Backlog is what one destination has not yet taken from the log.
type Backlog struct {
	// Pending is the number of messages stored and not yet acknowledged by
	// the destination (waiting plus in flight), over all partitions.
	Pending uint64
	// Oldest is when the oldest of them was stored; zero when Pending is 0.
	Oldest time.Time
}
