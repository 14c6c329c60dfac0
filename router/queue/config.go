package queue

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/eventrouter/eventrouter/router/queue/dedupe"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures the log. The zero value of every field but DataDir
// (needed by the embedded server) selects its default.
type Config struct {
	// URL lists the NATS servers of an external cluster, comma separated.
	// Empty (the default) runs a NATS server with JetStream inside the
	// process.
	URL string
	// DataDir is the data directory: the embedded server keeps its file
	// store in DataDir/nats, and the dedupe index lives in DataDir/dedupe
	// (with an external cluster too). Required.
	DataDir string
	// Listen is an optional "host:port" on which the embedded server also
	// accepts TCP clients (other eventrouter processes, the nats CLI).
	// Empty (the default) means the embedded server accepts no network
	// clients; the process talks to it in memory. Port 0 picks a free port
	// (see Log.ClientURL).
	Listen string
	// StreamPrefix names the streams, subjects, consumers' stream and the
	// lease bucket, so that several deployments can share one cluster.
	// Default "EVENTROUTER". It may hold letters, digits, '-' and '_'.
	StreamPrefix string
	// Partitions is the number of partitions messages are spread over by
	// router.Partition. Default 16. Changing it on a log that holds
	// undelivered messages breaks per-user order for those messages.
	Partitions int
	// DedupeWindow is how long a (source, messageId) pair is remembered to
	// drop repeats. Default 24h. It must not exceed Retention. The ids live
	// in an on-disk index under DataDir/dedupe (see the package
	// documentation), so the window costs disk, not memory.
	DedupeWindow time.Duration
	// DedupeMemory caps the memory of the dedupe index (its memtables and
	// block cache). Default 64 MiB; at least 8 MiB.
	DedupeMemory int64
	// DeliveryDedupeWindow is how long a webhook delivery marked with
	// Log.Remember is remembered (the TTL of the <prefix>_deliveries KV
	// bucket). Default 336h (14 days): GrowSurf retries a failed delivery
	// for several days, so anything shorter than the longest retry lets a
	// late retry through (its messages are then dropped by DedupeWindow
	// only if they arrive within it). It is independent of Retention.
	DeliveryDedupeWindow time.Duration
	// Retention is how long messages are kept (events, rejected and dead
	// letters alike). Zero means the default, 168h (7 days); a negative
	// value keeps messages with no age limit (until MaxBytes, if set,
	// refuses new ones).
	Retention time.Duration
	// MaxBytes caps the disk used by each of the events, rejected and
	// dead-letter streams. 0 (the default) means no cap. A full stream
	// refuses new messages (Append fails with router.ErrUnavailable); it
	// never drops old ones to make room.
	MaxBytes int64
	// SampleMaxBytes caps the disk used by the sample stream, which keeps a
	// sample of unauthenticated requests (see Log.Sample). Default
	// DefaultSampleMaxBytes (8 MiB). Unlike MaxBytes it drops the oldest
	// entries when full, so it never refuses a write.
	SampleMaxBytes int64
	// Replicas is the number of copies of each stream on an external
	// cluster. Default 1; the embedded server always uses 1.
	Replicas int
	// SyncAlways makes the embedded server fsync every write before
	// acknowledging it. Default false: a write reaches the operating system
	// before the acknowledgement (it survives the process being killed) and
	// is fsynced every SyncInterval (see the package documentation).
	SyncAlways bool
	// SyncInterval is how often the embedded server fsyncs its files.
	// Default 2m, NATS's default.
	SyncInterval time.Duration
	// StoreTimeout bounds how long Append, Reject and DeadLetter wait for
	// JetStream's acknowledgements. Default 5s.
	StoreTimeout time.Duration
	// LeaseTTL bounds how long the leases (router.Log.Acquire) and the
	// memberships (router.Log.Join) of a process that died keep others
	// from taking its work: their keys expire 3/4 of LeaseTTL after their
	// last renewal (every LeaseTTL/8), and dispatch looks every
	// LeaseTTL/16, so another process takes the partitions over within
	// LeaseTTL (see lease.go). A holder whose renewals fail for about
	// LeaseTTL/2 gives its leases up. Default 10s.
	LeaseTTL time.Duration
	// Logger receives the log's and the embedded server's messages.
	// Default slog.Default().
	Logger *slog.Logger
	// Registerer, when not nil, registers the log's metrics.
	Registerer prometheus.Registerer
}

// Defaults of Config.
const (
	DefaultStreamPrefix         = "EVENTROUTER"
	DefaultPartitions           = 16
	DefaultDedupeWindow         = 24 * time.Hour
	DefaultDeliveryDedupeWindow = 14 * 24 * time.Hour // 14 days
	DefaultRetention            = 168 * time.Hour
	DefaultSyncInterval         = 2 * time.Minute
	DefaultStoreTimeout         = 5 * time.Second
	DefaultLeaseTTL             = 10 * time.Second
)

// withDefaults returns cfg with its defaults filled in, or every problem
// found.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.StreamPrefix == "" {
		cfg.StreamPrefix = DefaultStreamPrefix
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = DefaultPartitions
	}
	if cfg.DedupeWindow == 0 {
		cfg.DedupeWindow = DefaultDedupeWindow
	}
	if cfg.DedupeMemory == 0 {
		cfg.DedupeMemory = dedupe.DefaultMemory
	}
	if cfg.DeliveryDedupeWindow == 0 {
		cfg.DeliveryDedupeWindow = DefaultDeliveryDedupeWindow
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.SampleMaxBytes == 0 {
		cfg.SampleMaxBytes = DefaultSampleMaxBytes
	}
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = DefaultSyncInterval
	}
	if cfg.StoreTimeout == 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var errs []error
	if cfg.DataDir == "" {
		errs = append(errs, errors.New("data_dir: required (the embedded server's files and the dedupe index)"))
	}
	if cfg.DedupeMemory < dedupe.MinMemory {
		errs = append(errs, fmt.Errorf("dedupe_memory: %d bytes is below the minimum of %d", cfg.DedupeMemory, dedupe.MinMemory))
	}
	for i := 0; i < len(cfg.StreamPrefix); i++ {
		if !isTokenByte(cfg.StreamPrefix[i]) {
			errs = append(errs, fmt.Errorf("stream_prefix: %q may hold only letters, digits, '-' and '_'", cfg.StreamPrefix))
			break
		}
	}
	if cfg.Partitions < 1 || cfg.Partitions > 1024 {
		errs = append(errs, fmt.Errorf("partitions: %d is not in [1, 1024]", cfg.Partitions))
	}
	if cfg.DedupeWindow < 0 || cfg.DeliveryDedupeWindow < 0 || cfg.MaxBytes < 0 || cfg.SampleMaxBytes < 0 || cfg.SyncInterval < 0 || cfg.StoreTimeout < 0 || cfg.LeaseTTL < 0 {
		errs = append(errs, errors.New("durations and sizes must not be negative"))
	}
	if cfg.Retention > 0 && cfg.DedupeWindow > cfg.Retention {
		errs = append(errs, fmt.Errorf("dedupe_window: %s exceeds retention %s", cfg.DedupeWindow, cfg.Retention))
	}
	if cfg.Replicas < 1 || cfg.Replicas > 5 {
		errs = append(errs, fmt.Errorf("replicas: %d is not in [1, 5]", cfg.Replicas))
	}
	if cfg.LeaseTTL > 0 && cfg.LeaseTTL < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("lease_ttl: %s is shorter than 100ms", cfg.LeaseTTL))
	}
	return cfg, errors.Join(errs...)
}
