// Package queue is eventrouter's durable log on NATS JetStream.
//
// With an empty Config.URL, [Open] runs a real NATS server with JetStream
// inside the process, with file storage under Config.DataDir/nats, and talks
// to it over an in-memory connection (optionally also accepting TCP clients
// on Config.Listen). With a URL it connects to an external NATS cluster. The
// code path is the same in both cases.
//
// # Streams and subjects
//
// With the default prefix EVENTROUTER:
//
//	EVENTROUTER_EVENTS    EVENTROUTER.events.<partition>   accepted messages
//	EVENTROUTER_REJECTED  EVENTROUTER.rejected.<reason>    items answered 200 but not accepted (router.Rejected as JSON)
//	EVENTROUTER_DLQ       EVENTROUTER.dlq.<destination>    messages dispatch gave up on
//	EVENTROUTER_REDRIVE   EVENTROUTER.redrive.<destination> messages queued again for one destination (dead-letter redrive, replay; a work queue, see Log.Requeue)
//	EVENTROUTER_QUARANTINE EVENTROUTER.quarantine.<source> messages the tracking plan blocked (see Log.Quarantine)
//	KV EVENTROUTER_leases <lease name>                     leases (see Log.Acquire)
//	                      member.<group>.<id>              live members (see Log.Join)
//	KV EVENTROUTER_deliveries <hex SHA-256 of source NUL key> webhook deliveries already stored (see Log.Seen)
//
// Every stream uses file storage, Config.Retention as its maximum age,
// Config.MaxBytes as its size cap with the DiscardNew policy (a full stream
// refuses writes, which [Log.Append] reports as router.ErrUnavailable, so
// ingest answers 503; it never drops old undelivered data), and
// Config.DedupeWindow as its duplicate window (the events stream 30 s, see
// Dedupe). A <reason> or <destination>
// token keeps letters, digits, '-' and '_' and encodes any other byte as
// "=XX".
//
// # Records
//
// The events stream stores records, not single messages: [Log.Append] puts
// the messages of one call (one request) that fall in one partition
// (router.Partition(msg.PartitionKey(), Config.Partitions)) into one record
// on that partition's subject, in their order, cut at 4,096 messages or
// 512 KiB. A record's headers are Er-Format ("record-1"), Er-Keys (the
// messages' dedupe keys) and Nats-Msg-Id (derived from those keys); its
// body holds each message's routing fields (id, source, type, userId,
// anonymousId, event, receivedAt, violations) before the payload exactly
// as ingest produced it, so that a reader rebuilds router.Message without
// decoding JSON (see record.go). One JetStream message, one publish
// acknowledgement, one stream index entry and one consumer ack per request
// and partition instead of per event is what lets ingest keep up with the
// machine; JetStream's fast batch publish (nats-server 2.12's allow_batched)
// would still store, index and acknowledge one message per event.
//
// A message's position (router.Delivery.Seq) is its record's stream
// sequence times 10,000 plus its index in the record. Readers hand out the
// messages of whole records and acknowledge a record when all its messages
// are acknowledged; consumer lags (Pending, Backlog, Info's Messages) count
// records. Messages stored one per JetStream message with their fields in
// headers (before records; still the layout of the dead-letter, redrive
// and quarantine streams) are read as records of one.
//
// # Dedupe
//
// A repeated (source, messageId) within Config.DedupeWindow is not stored
// again: the on-disk index of package dedupe (bounded memory, whatever the
// window) says what was stored. It is kept up to date by a follower that
// reads the events stream, headers only, and is the index's only writer;
// [Open] brings it up to date before returning (a repair from its
// checkpoint after a crash, a full rebuild with progress lines when it is
// missing or unreadable). Concurrent Appends of one id are serialised by
// the index's reservations, so each id is stored once per process.
//
// With several processes on one NATS, each has its own index, and each
// follower reads every process's records: a retry that reaches another
// process is deduplicated there once that process's follower has read the
// original record (milliseconds behind the log while it keeps up). Before
// that, the retry of an identical request is still dropped: its records
// have the same Nats-Msg-Id, and JetStream's own duplicate window on the
// events stream (30 s, kept short because JetStream holds those ids on its
// heap) catches them on any process. Only a retry that reaches another
// process within the follower's lag and splits into other records (another
// composition of the batch) can be stored twice; destinations keyed on
// messageId (the warehouse by id, Customer.io event ids, Segment's
// messageId) stay exact even then.
//
// Dispatch reads the events stream through durable pull consumers, one per
// (destination, partition), named by [ConsumerName] (see [Log.Reader]).
//
// # Durability of an acknowledged write
//
// [Log.Append] returns only when JetStream acknowledged every message. With
// the embedded server (a single R1 stream) this is what an acknowledgement
// means, as read in nats-server v2.15.2's server/filestore.go and stream.go:
//
//   - stream.go sets the file store's AsyncFlush to
//     "!SyncAlways && Replicas > 1", so it is false for an R1 stream, and
//     filestore.go sets flush-in-place, fs.fip = !AsyncFlush, to true.
//   - With fs.fip, writeMsgRecordLocked calls flushPendingMsgsLocked, which
//     writes the record to the block file with write(2) before storeMsg
//     returns, hence before the acknowledgement is sent. A write in the
//     operating system's page cache survives the process being killed
//     (kill -9, a crash): an acknowledged message is never lost to that.
//   - The files are fsynced every Config.SyncInterval (NATS's sync_interval,
//     default 2 minutes), so a power loss or kernel crash can lose up to that
//     much acknowledged data, unless Config.SyncAlways (NATS's sync_always)
//     is set, which fsyncs every write before the acknowledgement at a large
//     cost in throughput.
//
// On an external cluster with Replicas > 1 the acknowledgement comes after a
// quorum of servers stored the message in their Raft logs; AsyncFlush is then
// on and durability comes from replication.
//
// # Leases
//
// Several eventrouter processes may share one NATS. [Log.Acquire] gives one
// of them at a time a named lease (dispatch takes one per (destination,
// partition)), kept in a KV bucket whose keys expire Config.LeaseTTL after
// their last write and renewed by compare-and-set every LeaseTTL/4.
//
// [Log.Join] registers a process as a live member of a group (dispatch
// joins one per destination, to share its partitions evenly) with a key
// member.<group>.<id> in the same bucket, put again every LeaseTTL/4, and
// counts the group's members by listing its keys; a member that dies
// lapses LeaseTTL after its last renewal, one that leaves deletes its key.
//
// # Webhook deliveries
//
// Webhook sources whose sender retries (GrowSurf retries a failed delivery
// for days, with no delivery id) remember each delivery they stored in a KV
// bucket whose entries expire Config.DeliveryDedupeWindow (default 14 days)
// after they were written: [Log.Seen] asks, [Log.Remember] marks. Keys are
// the hex SHA-256 of the source's name, a NUL byte and the delivery key, so
// any key is a valid KV token. Being in JetStream, the memory survives
// restarts and is shared by every process on the same NATS.
//
// # Metrics
//
// With a Config.Registerer: eventrouter_log_store_seconds (histogram of
// Append latency), eventrouter_log_appended_total,
// eventrouter_log_duplicates_total, eventrouter_log_append_failures_total,
// and the dedupe index's eventrouter_dedupe_index_disk_bytes,
// eventrouter_dedupe_index_memory_bytes, eventrouter_dedupe_index_pending
// and eventrouter_dedupe_index_lookups_total{result}.
package queue
