// Package eventlog is eventrouter's durable log on NATS JetStream.
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
//	EVENTROUTER_SAMPLE    EVENTROUTER.sample.<reason>      a capped sample of unauthenticated requests (see Log.Sample)
//	KV EVENTROUTER_leases <lease name>                     leases (see Log.Acquire)
//	                      member.<group>.<id>              live members (see Log.Join)
//	KV EVENTROUTER_deliveries <hex SHA-256 of source NUL key> webhook deliveries already stored (see Log.Seen)
//
// Every stream but the sample uses file storage, Config.Retention as its maximum age,
// Config.MaxBytes as its size cap with the DiscardNew policy (a full stream
// refuses writes, which [Log.Append] reports as router.ErrUnavailable, so
// ingest answers 503; it never drops old undelivered data), and
// Config.DedupeWindow as its duplicate window (the events stream 2 s, see
// Dedupe). A <reason> or <destination>
// token keeps letters, digits, '-' and '_' and encodes any other byte as
// "=XX". The sample stream has its own cap, Config.SampleMaxBytes, and the
// DiscardOld policy: it drops its oldest entries rather than refuse, so
// that nothing unauthenticated can fill the disk or make ingest answer 503.
//
// # Records
//
// The events stream stores records, not single messages. Each partition
// (router.Partition(msg.PartitionKey(), Config.Partitions)) has a writer
// with one record in flight: [Log.Append] hands it the call's messages of
// that partition, in their order, and the writer packs what every
// concurrent Append handed it while the previous record was being stored
// into the next record on the partition's subject (group commit), cut at
// 2,048 messages or 512 KiB; each Append returns once every record holding
// one of its messages is acknowledged (see writer.go). A record's headers
// are Er-Format ("record-1"), Er-Keys (the messages' dedupe keys) and
// Nats-Msg-Id (derived from those keys); its
// body holds each message's routing fields (id, source, type, userId,
// anonymousId, event, receivedAt, violations) before the payload exactly
// as ingest produced it, so that a reader rebuilds router.Message without
// decoding JSON (see record.go). One JetStream message, one publish
// acknowledgement, one stream index entry and one consumer ack per record
// instead of per event is what lets ingest keep up with the machine (under
// load a record holds many requests' messages: single /v1/track requests
// from 64 clients share records of tens); JetStream's fast batch publish
// (nats-server 2.12's allow_batched) would still store, index and
// acknowledge one message per event.
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
// that, a retry whose records come out composed as the original's (a
// request that had its records to itself, as on a process that is not
// busy) is still dropped: its records have the same Nats-Msg-Id, and
// JetStream's own duplicate window on the events stream (2 s, kept short
// because JetStream holds those ids on its heap) catches them on any
// process. A retry that reaches another process within the follower's lag
// (milliseconds; a client retries after its timeout, seconds) and is packed
// otherwise can be stored twice; destinations keyed on messageId (the
// warehouse by id, Customer.io event ids, Segment's messageId) stay exact
// even then.
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
// partition)), kept in a KV bucket whose keys expire 3/4 of
// Config.LeaseTTL after their last write and renewed by compare-and-set
// every LeaseTTL/8; a holder stops counting its lease as held before its
// key can expire.
//
// [Log.Join] registers a process as a live member of a group (dispatch
// joins one per destination, to share its partitions evenly) with a key
// member.<group>.<id> in the same bucket, put again every LeaseTTL/8, and
// counts the group's members by listing its keys; a member that dies
// lapses 3/4 of LeaseTTL after its last renewal, one that leaves deletes
// its key. With dispatch reading every LeaseTTL/16, the partitions of a
// process that died are taken over within LeaseTTL (the arithmetic is in
// lease.go).
//
// # Order through faults
//
// Per-user order is a property of the log: a (destination, partition)
// reader hands out nothing newer than a message that was fetched and not
// acknowledged, whatever happened to that message. JetStream alone does
// not give this: it counts a message as delivered when it sends it, and
// hands out one that never arrived (a pull answer lost with a connection
// or a server, or answered to a previous holder's pull request) again only
// after AckWait, behind what was fetched meanwhile. So the reader (see
// reader.go):
//
//   - rewinds, with JetStream's consumer reset to the ack floor (ADR-60,
//     nats-server 2.14; Open refuses an older server), whenever a
//     partition changes hands (router.PartitionReader.Rewind, called by
//     dispatch) and before the next fetch after a reconnection, a failed
//     fetch or a failed acknowledgement: what was not acknowledged is due
//     at once, in order, and nothing stays in flight to come back later;
//   - checks the delivery sequence of every message (raised by one per
//     delivery, to whoever it goes; the partition's holder is the only
//     reader after its rewind): a gap means deliveries went astray, so
//     nothing from there on is handed out and it rewinds. The count starts
//     at 1 after every rewind, whatever the server's answer to the rewind
//     says: the server resumes delivering before it writes that answer,
//     so a previous holder's pull request still waiting there may already
//     have taken the oldest messages, and the answer would count them as
//     delivered here (then the rewind is simply due again). Such a
//     request may also take everything, leaving this reader no delivery
//     to see a gap in: after a rewind, the first fetch that receives
//     nothing asks the server how many deliveries it counts, and rewinds
//     again when they are more than were received here;
//   - acknowledges again, instead of handing out behind newer messages, a
//     record it already acknowledged that is delivered again (the
//     acknowledgement was lost with a consumer leader).
//
// The alternatives were an ordered consumer per partition (it detects the
// same gaps, but is ephemeral: the cursor and its acknowledgements would
// have to live elsewhere) and waiting AckWait after every takeover, as
// before (it did not cover a connection loss of the same holder, and made
// every takeover wait AckWait). A rewind costs one replicated consumer
// update (eventrouter_log_reader_rewind_seconds), only on those events;
// reading in between costs nothing more. Delivery counts start again at 1
// after a rewind. Rewinds are counted by reason in
// eventrouter_log_reader_rewinds_total, stale redeliveries in
// eventrouter_log_reader_stale_redeliveries_total.
//
// On the writing side a request's messages are stored in the order sent,
// also through leader elections, by construction: a partition's messages
// of one Append go into one record, in order; when they fill several
// records, each is published once the one before it is acknowledged (a
// partition's writer has one record in flight), and when a record fails,
// the rest of that Append's messages are not published. No record is
// re-published on its own: nats.go's retry of a publish answered "no
// responders" is off on the events stream, so a publish that finds no
// leader fails the Append (503) and the client's retry of the whole
// request keeps its order (what was stored is found as duplicates).
//
// # Start-up
//
// Streams, buckets and consumers are created or updated with the same
// configuration by every process; each step is retried with a bounded,
// jittered backoff (for up to 2 minutes, each retry logged at WARN with
// the step and the error) while the cluster is not ready or another
// process is creating the same thing, so that any number of processes
// starting together on a fresh cluster all come up (see startup.go).
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
package eventlog
