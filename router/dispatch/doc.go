// Package dispatch feeds each configured destination from the log: one
// durable cursor per (destination, partition), batching by size and time,
// per-user order, retries with backoff and jitter, a per-destination rate
// limit, and dead-lettering.
//
// # Independence
//
// Every destination has its own cursors in the log, so a slow or broken
// destination holds back only itself.
//
// # Order
//
// Messages are spread over partitions by user (router.Partition), and a
// partition of a destination is worked by one goroutine, in log order: it
// fetches a batch, sends it, and fetches the next batch only when every
// message of the current one is delivered or dead-lettered. Retries resend
// the failed messages of the batch (only those a router.BatchError names,
// when the destination reports one) without reading anything newer.
//
// With several processes sharing one log, each (destination, partition) is
// worked by one process at a time: the worker holds a lease from the log
// (router.Log.Acquire). It stops sending as soon as it cannot renew the
// lease; a process that takes a partition over first rewinds the cursor
// (router.PartitionReader.Rewind), so that the previous holder's
// unacknowledged messages are delivered again at once, before anything
// newer. The reader keeps that order through connection losses and
// failed acknowledgements of its own holder too (see the eventlog package).
// After a crash, a partition is therefore taken over, in order, within the
// log's lease TTL, and the first batch follows within BatchTimeout.
//
// # Balance
//
// Every process running Run registers as a live member of each destination
// in the log (router.Log.Join; the registration lapses within the TTL after
// the process dies) and reads the destination's member count every TTL/16;
// a worker waiting for a partition tries again every TTL/16, and at once
// when its share grows. It
// holds at most its share, ceil(partitions / members), of the
// destination's partition leases: below its share it takes free partitions
// (it never takes one from another process), above it (another process
// joined) it gives up its highest-numbered surplus partitions cleanly: the
// worker finishes the batch in flight, or stops after the Send in flight
// when the batch is being retried and hands the unfinished messages back to
// the log (they stay ahead of newer ones), acknowledges what was delivered,
// and releases the lease, so that the process that joined takes the
// partition at once. With 8 partitions, two processes hold 4 each, three
// hold 3, 3 and 2. When a process stops it leaves the members, and the
// others' shares grow to take its partitions over; when it dies, they do so
// once its registration and leases lapse.
//
// Hysteresis keeps processes from trading partitions back and forth: a
// surplus is given up only when two readings in a row show it, a process
// does not take back a partition it gave up for one TTL, and a partition
// moves only when its holder gives it up or dies.
//
// # Retries and dead letters
//
// A destination makes one attempt per Send and classifies the outcome
// (router.Classify). Permanent failures are dead-lettered at once.
// Retryable ones wait InitialBackoff doubled per attempt up to MaxBackoff,
// with equal jitter, or the destination's router.RetryAfter delay when
// longer (capped at MaxRetryAfter). A message that has failed MaxAttempts
// times, or fails when older than MaxAge, is dead-lettered
// (router.Log.DeadLetter) with its last error, attempt count and first
// failure time, and then acknowledged. Nothing is dropped: a dead letter that
// cannot be stored is retried. Attempts made by the same holder before it
// lost its connection are counted from the log's delivery count; a rewind
// (a takeover, a restart) starts that count again, so a message that keeps
// failing across restarts is dead-lettered by MaxAge. While a batch is
// being worked on it is kept in flight (InProgress every AckWait/3), so the
// log does not hand it out again.
//
// # Redrive and replay
//
// When the log implements RedriveLog, each destination also reads its
// redrive cursor, where the admin API queues dead letters being redriven
// and history being replayed for that destination only. One process at a
// time works it (lease "<destination>/redrive"), through the same batch
// processing as a partition: filters, the rate limit shared with the
// partitions, retries, and dead-lettering again (router.DeadLetter.Redrive
// tells such a dead letter from a repeat of the first).
//
// # Filters
//
// Every destination sees every message of the log, and decides which ones
// it sends, in this order (the first check that fails names the reason):
//
//   - type: Options.Types, when set, lists the types it takes;
//   - event: Options.Events, when set, are glob patterns (path.Match) of
//     which a track message's event must match one; messages of other
//     types pass this check (exclude them with Types);
//   - excluded: a track message whose event matches a pattern of
//     Options.ExcludeEvents is not sent, even when it matches Events;
//   - integrations: the message's integrations object decides
//     by Options.Integration, with router.IntegrationEnabled, or with
//     router.WarehouseEnabled and the route's name as warehouse id when
//     the integration is router.IntegrationWarehouses;
//   - violations: with Options.Accept set to AcceptValid, a message that
//     carries tracking-plan violations (router.Message.Violations, read from
//     the log's headers) is not sent; with AcceptAll (the default) it is,
//     with its violations in context.protocols.
//
// Then the destination's transform (Options.Transform) runs on a copy of
// the message: a drop rule filters it with the rule's reason, and a rule
// that fails dead-letters it (unchanged). Last, Options.Suppress skips a
// message whose key was delivered to the destination within its window
// (reason suppressed; the log keeps the delivered keys, see
// SuppressionLog), checked when the message is about to be sent. See the
// transform package, and transform.go for when a key counts as delivered.
//
// A message a destination does not take is acknowledged on the
// destination's cursor without being sent, and counted; it is not an
// error, and it stays in the log (up to its retention) like every other
// message, whether or not any destination took it. The checks read only the
// routing fields of router.Message; the body is decoded only when it
// contains the key "integrations".
//
// A route with Options.Disabled set keeps its cursors, so the messages
// accepted meanwhile wait in the log, and its pending gauge; it sends
// nothing and holds no lease.
//
// # Metrics
//
// Labelled by destination: eventrouter_dispatch_delivered_total,
// eventrouter_dispatch_retried_total, eventrouter_dispatch_dead_lettered_total,
// eventrouter_dispatch_filtered_total (also labelled by reason: type, event,
// excluded, integrations, violations, suppressed or a drop rule's reason), eventrouter_dispatch_pending (lag:
// waiting plus in-flight messages over all partitions, refreshed every 5s),
// eventrouter_dispatch_partitions_owned (partitions whose lease this
// process holds) and eventrouter_dispatch_send_seconds. The member count is
// logged when it changes.
package dispatch
