// Package dedupe is the log's memory of which (source, messageId) pairs it
// stored within the dedupe window: an on-disk index with bounded memory.
//
// # Why an index of its own
//
// JetStream's duplicate window keeps every Nats-Msg-Id of the window on the
// server's heap (about 220 bytes per id measured in nats-server v2.15.2,
// ~580 bytes of live heap per message over a 24 h window once GC headroom
// counts): at a steady 4,000 events/s the process grew ~1.9 MB/s for as
// long as the window lasted. Here the ids live in an embedded LSM store,
// and memory is a fixed budget (Options.Memory, default 32 MiB) whatever
// the rate and the window; a window of 7 days costs disk only (about 28
// bytes per id on disk, up to 1.5 windows' worth between expiries).
//
// # Store: pebble, by measurement
//
// Both candidates were measured on this project's 2-core machine with 5
// million 16-byte keys written in batches of 100, each key looked up first
// (pebble/v2 v2.1.7 against badger/v4 v4.9.6):
//
//   - pebble with generation-prefixed keys: 124,000–150,000 keys/s, anonymous
//     memory flat at 45–56 MB from 1 to 5 million keys, 143 MB on disk;
//     dropping an expired generation is one range deletion (14–18 µs) that
//     a delete-only compaction turns into deleted files about 0.1 s later,
//     without reading them.
//   - badger with per-key TTLs: 107,000–122,000 keys/s, but memory grew with
//     the data (85–320 MB anonymous plus 207 MB of mapped tables at 5 million
//     keys) and no option bounded it; capping it with GOMEMLIMIT cost 15–70 %
//     of its throughput. Expired entries leave only when compaction rewrites
//     them.
//
// Pebble bounds memory with one knob (its cache, out of which it reserves
// the memtables) and expires without a scan, so it is the store.
//
// # Layout and expiry
//
// A key is the first 16 bytes of the SHA-256 of the source's length, the
// source and the id (collision-resistant, so a public write key cannot be
// used to shadow another message's id). It is stored as 0x01 | generation
// start (8 bytes) | key, with the record's store time as value. A
// generation spans half the window, so at most three are live and a lookup
// makes at most three point reads, newest first, each behind a bloom
// filter; a hit counts only if its time is within the window, so the
// window is exact although generations are coarse. A generation that ended
// before the window is dropped whole with one range deletion: nothing is
// scanned. A window changed at restart takes effect at once (times are
// compared to the new one); a longer one makes the caller read the log
// again for what the shorter one dropped ([Index.Widened]).
//
// # Writers, checkpoint and crashes
//
// The index has one writer, the log's follower, which reads the events
// stream in order and calls [Index.Add] with each batch of records' keys
// and the position read. The newest keys are held in memory, where
// lookups find them at once, and written as one sorted table that pebble
// ingests whole once they fill a quarter of Options.Memory (87,381 keys
// of the default 32 MiB) or 10 s passed, followed by the position they cover as the checkpoint (see
// buffer.go: the memtable's skiplist of random keys was most of the
// index's CPU). After a crash the store holds the tables written before it,
// checkpoint included, so the caller repairs it by reading the log from
// the checkpoint on: the log is the source of truth, the index its
// checkpoint. Close writes what is buffered, so a clean restart reads
// nothing again. An index that is missing or cannot be opened is moved
// aside and rebuilt from the log ([Index.Fresh]), never taken for an empty
// one.
//
// Between storing a record and the follower reading it back, its keys are
// held in memory by [Index.Reserve]'s reservation ([Reservation.Stored]);
// the same reservation makes concurrent Appends of one id wait for each
// other, so one of them stores it. Keys are reserved in sorted order, so
// two Appends never wait for each other in a cycle. What waits for the
// follower is capped (Options.MaxPending); past it Reserve waits, and
// ingest answers 503 if the follower does not catch up in time.
package dedupe
