package eventlog

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/eventlog/dedupe"
)

// Config configures the log. It is the struct the "queue" block of the
// config file decodes into (the yaml tags are its keys; DataDir, Logger and
// Registerer come from elsewhere): [DefaultConfig] holds every default, and
// [Config.Validate] reports what is wrong with it, each problem naming its
// key. For callers that build a Config in code, [Open] also fills in the
// default of every zero field but Retention (0 is no age limit) and
// BacklogWarning (0 warns at the default fraction).
type Config struct {
	// URL lists the NATS servers of an external cluster, comma separated
	// (key "url"; "nats://host:4222", schemes nats, tls, ws and wss). Empty
	// (the default) runs a NATS server with JetStream inside the process.
	// It may hold credentials and is never logged.
	URL string `yaml:"url"`
	// DataDir is the data directory: the embedded server keeps its file
	// store in DataDir/nats, and the dedupe index lives in DataDir/dedupe
	// (with an external cluster too). Required; in the config file it is
	// the top-level key "data_dir".
	DataDir string `yaml:"-"`
	// Listen is an optional "host:port" on which the embedded server also
	// accepts TCP clients (other eventrouter processes, the nats CLI; key
	// "listen"). Empty (the default) means the embedded server accepts no
	// network clients; the process talks to it in memory. Port 0 picks a
	// free port (see Log.ClientURL). It is an error together with URL.
	Listen string `yaml:"listen"`
	// StreamPrefix names the streams, subjects, consumers' stream and the
	// lease bucket, so that several deployments can share one cluster (key
	// "stream_prefix", default "EVENTROUTER"). It starts with a letter and
	// holds letters, digits, '-' and '_'.
	StreamPrefix string `yaml:"stream_prefix"`
	// Partitions is the number of partitions messages are spread over by
	// router.Partition, a hash of userId (else anonymousId), between 1 and
	// 1024 (key "partitions", default 8). Changing it on a log that holds
	// undelivered messages breaks per-user order for those messages; a
	// smaller count is refused while a partition past it holds messages a
	// destination has not delivered (see partitions.go).
	//
	// Why 8: a partition is also the unit of storing (each request's
	// messages of one partition go into one record, which concurrent
	// requests share), so fewer partitions make fewer, larger records.
	// Measured with the ratio benchmark on 2 cores, CPU per event from 16
	// to 8 partitions: /v1/batch 13.7 → 10.9 µs, the same delivering
	// 16.5 → 14.1 µs, single /v1/track 50.3 → 40.0 µs (0.78 → 0.93 of
	// the ceiling); 4 partitions gained another 8–15 % in batch ingest.
	// What a partition also is: the unit of delivery (one batch in flight
	// per destination and partition) and of sharing work between
	// instances (at most one instance per partition and destination), so
	// a deployment of many instances or slow destinations sets more.
	Partitions int `yaml:"partitions"`
	// DedupeWindow is how long a (source, messageId) pair is remembered to
	// drop repeats (key "dedupe_window", default 24h). It must not exceed
	// Retention when Retention is set. The ids live in an on-disk index
	// under DataDir/dedupe (see the package documentation), about 50 bytes
	// of disk per message in the window, so the window costs disk, not
	// memory.
	DedupeWindow time.Duration `yaml:"dedupe_window"`
	// DedupeMemory caps the memory of the dedupe index (a quarter for the
	// newest keys, the rest pebble's block cache and memtable; key
	// "dedupe_memory", default 32MiB, at least 8MiB).
	DedupeMemory router.ByteSize `yaml:"dedupe_memory"`
	// DeliveryDedupeWindow is how long a webhook delivery marked with
	// Log.Remember is remembered (the TTL of the <prefix>_deliveries KV
	// bucket; key "delivery_dedupe_window", default 336h, 14 days): a
	// sender such as GrowSurf retries a failed delivery for several days,
	// so anything shorter than the longest retry lets a late retry through
	// (its messages are then dropped by DedupeWindow only if they arrive
	// within it). It is independent of Retention.
	DeliveryDedupeWindow time.Duration `yaml:"delivery_dedupe_window"`
	// Retention is how long messages are kept (events, rejected and dead
	// letters alike; key "retention", default 168h, 7 days). 0 keeps
	// messages with no age limit (until MaxBytes, if set, refuses new
	// ones).
	Retention time.Duration `yaml:"retention"`
	// MaxBytes caps the disk used by each of the events, rejected and
	// dead-letter streams (key "max_bytes", default 0, no cap; else at
	// least 1MiB). A full stream refuses new messages (Append fails with
	// router.ErrUnavailable, and ingest answers 503); it never drops old
	// ones to make room.
	MaxBytes router.ByteSize `yaml:"max_bytes"`
	// SampleMaxBytes caps the disk used by the sample stream, which keeps a
	// sample of unauthenticated requests (see Log.Sample; key
	// "sample_max_bytes", default DefaultSampleMaxBytes, 8MiB, at least
	// 64KiB). Unlike MaxBytes it drops the oldest entries when full, so it
	// never refuses a write.
	SampleMaxBytes router.ByteSize `yaml:"sample_max_bytes"`
	// BacklogWarning is the fraction of Retention, and of MaxBytes, at
	// which a destination's oldest pending message, or the log's size, is
	// reported as nearing the limit (in the log and in metrics; key
	// "backlog_warning", default 0.8, greater than 0 and at most 1). See
	// MonitorConfig.WarnAt.
	BacklogWarning float64 `yaml:"backlog_warning"`
	// Replicas is the number of copies of each stream, 1 to 5 (key
	// "replicas", default 1); more than 1 needs an external cluster (URL).
	Replicas int `yaml:"replicas"`
	// SyncAlways makes the embedded server fsync every write before
	// acknowledging it (key "sync_always"). Default false: a write reaches
	// the operating system before the acknowledgement (it survives the
	// process being killed) and is fsynced every SyncInterval (see the
	// package documentation).
	SyncAlways bool `yaml:"sync_always"`
	// SyncInterval is how often the embedded server fsyncs its files when
	// SyncAlways is false (key "sync_interval", default 2m, NATS's
	// default).
	SyncInterval time.Duration `yaml:"sync_interval"`
	// StoreTimeout bounds how long Append, Reject and DeadLetter wait for
	// JetStream's acknowledgements; past it ingest answers 503 (key
	// "store_timeout", default 5s).
	StoreTimeout time.Duration `yaml:"store_timeout"`
	// LeaseTTL bounds how long the leases (router.Log.Acquire) and the
	// memberships (router.Log.Join) of a process that died keep others
	// from taking its work (key "lease_ttl", default 10s, at least 100ms):
	// their keys expire 3/4 of LeaseTTL after their last renewal (every
	// LeaseTTL/8), and dispatch looks every LeaseTTL/16, so another process
	// takes the partitions over within LeaseTTL (see lease.go). A holder
	// whose renewals fail for about LeaseTTL/2 gives its leases up. An
	// embedded server that accepts no TCP clients clears stale claims at
	// start, so a restart resumes at once.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// Logger receives the log's and the embedded server's messages.
	// Default slog.Default().
	Logger *slog.Logger `yaml:"-"`
	// Registerer, when not nil, registers the log's metrics.
	Registerer prometheus.Registerer `yaml:"-"`
}

// Defaults of Config.
const (
	DefaultStreamPrefix         = "EVENTROUTER"
	DefaultPartitions           = 8
	DefaultDedupeWindow         = 24 * time.Hour
	DefaultDeliveryDedupeWindow = 14 * 24 * time.Hour // 14 days
	DefaultRetention            = 168 * time.Hour
	DefaultSyncInterval         = 2 * time.Minute
	DefaultStoreTimeout         = 5 * time.Second
	DefaultLeaseTTL             = 10 * time.Second
	DefaultBacklogWarning       = 0.8
)

// DefaultConfig returns the configuration with every default (and no
// DataDir, Logger or Registerer).
func DefaultConfig() Config {
	return Config{
		StreamPrefix:         DefaultStreamPrefix,
		Partitions:           DefaultPartitions,
		DedupeWindow:         DefaultDedupeWindow,
		DedupeMemory:         dedupe.DefaultMemory,
		DeliveryDedupeWindow: DefaultDeliveryDedupeWindow,
		Retention:            DefaultRetention,
		SampleMaxBytes:       DefaultSampleMaxBytes,
		BacklogWarning:       DefaultBacklogWarning,
		Replicas:             1,
		SyncInterval:         DefaultSyncInterval,
		StoreTimeout:         DefaultStoreTimeout,
		LeaseTTL:             DefaultLeaseTTL,
	}
}

// Where says where the log is, for a server's start-up line: "external
// nats" (URL set), or "embedded nats in" the embedded server's store
// directory under DataDir.
func (cfg Config) Where() string {
	if cfg.URL != "" {
		return "external nats"
	}
	return "embedded nats in " + cfg.storeDir()
}

// storeDir is where the embedded NATS server keeps its files.
// MemoryOutsideHeap is the memory the log is configured to use outside
// the Go heap (the dedupe index's cache, see dedupe.OutsideHeap), which
// the process's soft memory limit leaves room for.
func (cfg Config) MemoryOutsideHeap() int64 {
	return dedupe.OutsideHeap(int64(cfg.DedupeMemory))
}

func (cfg Config) storeDir() string { return filepath.Join(cfg.DataDir, "nats") }

// withDefaults returns cfg with the default of every zero field filled in
// (but Retention's: 0 is no age limit), or every problem found.
func (cfg Config) withDefaults() (Config, error) {
	def := DefaultConfig()
	fill := func(v, d any) {
		switch p := v.(type) {
		case *string:
			if *p == "" {
				*p = d.(string)
			}
		case *int:
			if *p == 0 {
				*p = d.(int)
			}
		case *float64:
			if *p == 0 {
				*p = d.(float64)
			}
		case *time.Duration:
			if *p == 0 {
				*p = d.(time.Duration)
			}
		case *router.ByteSize:
			if *p == 0 {
				*p = d.(router.ByteSize)
			}
		}
	}
	fill(&cfg.StreamPrefix, def.StreamPrefix)
	fill(&cfg.Partitions, def.Partitions)
	fill(&cfg.DedupeWindow, def.DedupeWindow)
	fill(&cfg.DedupeMemory, def.DedupeMemory)
	fill(&cfg.DeliveryDedupeWindow, def.DeliveryDedupeWindow)
	fill(&cfg.SampleMaxBytes, def.SampleMaxBytes)
	fill(&cfg.BacklogWarning, def.BacklogWarning)
	fill(&cfg.Replicas, def.Replicas)
	fill(&cfg.SyncInterval, def.SyncInterval)
	fill(&cfg.StoreTimeout, def.StoreTimeout)
	fill(&cfg.LeaseTTL, def.LeaseTTL)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var errs []error
	if cfg.DataDir == "" {
		errs = append(errs, errors.New("data_dir: required (the embedded server's files and the dedupe index)"))
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	return cfg, errors.Join(errs...)
}

// streamPrefixPattern is what StreamPrefix must match to be usable in
// JetStream stream names and NATS subjects.
var streamPrefixPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// Validate reports every problem of the configuration at once, joined with
// errors.Join, each naming its key ("partitions: must be between 1 and
// 1024"). It checks the keys of the config file's "queue" block, not
// DataDir. A URL is never printed: it may hold credentials.
func (cfg Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			add(key, "must be greater than zero")
		}
	}
	if cfg.URL != "" {
		errs = append(errs, checkNATSURLs(cfg.URL)...)
		if cfg.Listen != "" {
			add("listen", "only allowed with the embedded server (queue.url empty)")
		}
	}
	if cfg.Listen != "" {
		if _, port, err := net.SplitHostPort(cfg.Listen); err != nil || port == "" {
			add("listen", `must be a host:port address such as "127.0.0.1:8080" or ":8080"`)
		}
	}
	if !streamPrefixPattern.MatchString(cfg.StreamPrefix) {
		add("stream_prefix", "must start with a letter and contain only letters, digits, '_' and '-'")
	}
	if cfg.Partitions < 1 || cfg.Partitions > 1024 {
		add("partitions", "must be between 1 and 1024")
	}
	positive("dedupe_window", cfg.DedupeWindow)
	if cfg.DedupeMemory < dedupe.MinMemory {
		add("dedupe_memory", "must be at least %s", router.ByteSize(dedupe.MinMemory))
	}
	positive("delivery_dedupe_window", cfg.DeliveryDedupeWindow)
	if cfg.Retention < 0 {
		add("retention", "must not be negative (0 keeps messages until max_bytes forces them out)")
	} else if cfg.Retention > 0 && cfg.DedupeWindow > cfg.Retention {
		add("dedupe_window", "must not be longer than queue.retention")
	}
	if !(cfg.BacklogWarning > 0 && cfg.BacklogWarning <= 1) {
		add("backlog_warning", "must be a fraction greater than 0 and at most 1 (e.g. 0.8)")
	}
	if cfg.MaxBytes < 0 {
		add("max_bytes", "must not be negative (0 is unlimited)")
	} else if cfg.MaxBytes > 0 && cfg.MaxBytes < 1<<20 {
		add("max_bytes", "must be at least 1MiB (or 0, unlimited)")
	}
	if cfg.SampleMaxBytes < minSampleMaxBytes {
		add("sample_max_bytes", "must be at least 64KiB")
	}
	if cfg.Replicas < 1 || cfg.Replicas > 5 {
		add("replicas", "must be between 1 and 5")
	} else if cfg.Replicas > 1 && cfg.URL == "" {
		add("replicas", "more than 1 needs an external NATS cluster (queue.url)")
	}
	positive("sync_interval", cfg.SyncInterval)
	positive("store_timeout", cfg.StoreTimeout)
	if cfg.LeaseTTL < 100*time.Millisecond {
		add("lease_ttl", "must be at least 100ms")
	}
	return errors.Join(errs...)
}

// minSampleMaxBytes is the smallest SampleMaxBytes.
const minSampleMaxBytes = 64 << 10

// checkNATSURLs checks a comma-separated list of NATS server URLs without
// ever printing them (they may hold credentials).
func checkNATSURLs(list string) []error {
	var errs []error
	for i, s := range strings.Split(list, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Host == "" {
			errs = append(errs, fmt.Errorf("url: server %d of the list is not a URL such as nats://host:4222", i+1))
			continue
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			errs = append(errs, fmt.Errorf("url: server %d of the list must use the nats, tls, ws or wss scheme", i+1))
		}
	}
	return errs
}
