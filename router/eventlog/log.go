package eventlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/eventlog/dedupe"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Log is eventrouter's durable log on NATS JetStream. It implements
// router.Log. A Log is safe for concurrent use.
type Log struct {
	cfg      Config
	log      *slog.Logger
	ns       *server.Server // nil with an external cluster
	nc       *nats.Conn
	js       jetstream.JetStream
	closed   chan struct{} // closed by Close
	closedCh chan struct{} // closed when the connection is closed
	metrics  *metrics
	// epoch counts the connection's disconnections and reconnections;
	// readers rewind when it moved (see reader).
	epoch atomic.Uint64

	events, rejected, dlq jetstream.Stream
	redrive               jetstream.Stream // see operate.go
	quarantine            jetstream.Stream
	leases                jetstream.KeyValue
	deliveries            jetstream.KeyValue

	index    *dedupe.Index // see follower.go
	follower *follower

	// subjects[p] is the subject of partition p, writers[p] its writer
	// (see writer.go).
	subjects    []string
	writers     []*partitionWriter
	writersDone sync.WaitGroup
	writing     context.Context // cancelled by Close: publishes in flight give up
	stopWriting context.CancelFunc

	closeOnce sync.Once
	closeErr  error
}

var _ router.Log = (*Log)(nil)

// Open starts the embedded NATS server when cfg.URL is empty (and waits
// until it is ready), connects, and creates the streams, the lease bucket
// and the delivery bucket, or updates their limits to cfg when they exist.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("opening log: %w", err)
	}
	l := &Log{cfg: cfg, log: cfg.Logger, closed: make(chan struct{})}
	l.subjects = make([]string, cfg.Partitions)
	for p := range l.subjects {
		l.subjects[p] = fmt.Sprintf("%s.events.%d", cfg.StreamPrefix, p)
	}

	closedCh := make(chan struct{})
	opts := []nats.Option{
		nats.Name("eventrouter"),
		nats.ClosedHandler(func(*nats.Conn) { close(closedCh) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			l.epoch.Add(1)
			if err != nil {
				l.log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			l.epoch.Add(1)
			l.log.Warn("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
	}
	url := strings.TrimSpace(cfg.URL)
	if url == "" {
		l.ns, err = startEmbedded(cfg)
		if err != nil {
			return nil, fmt.Errorf("opening log: %w", err)
		}
		opts = append(opts, nats.InProcessServer(l.ns))
	} else {
		opts = append(opts, nats.MaxReconnects(-1), nats.ReconnectWait(time.Second))
	}
	l.nc, err = nats.Connect(url, opts...)
	if err != nil {
		l.shutdownServer()
		return nil, fmt.Errorf("opening log: connecting to nats: %w", err)
	}
	l.closedCh = closedCh
	if l.ns == nil {
		if err := checkServerVersion(l.nc); err != nil {
			l.nc.Close()
			return nil, fmt.Errorf("opening log: %w", err)
		}
	}
	l.js, err = jetstream.New(l.nc,
		jetstream.WithPublishAsyncMaxPending(1<<16),
		jetstream.WithPublishAsyncTimeout(cfg.StoreTimeout),
	)
	if err != nil {
		l.nc.Close()
		l.shutdownServer()
		return nil, fmt.Errorf("opening log: connecting to jetstream: %w", err)
	}
	if err := l.setup(ctx); err != nil {
		l.nc.Close()
		l.shutdownServer()
		return nil, fmt.Errorf("opening log: %w", err)
	}
	if err := l.openIndex(ctx); err != nil {
		l.closeIndex()
		l.nc.Close()
		l.shutdownServer()
		return nil, fmt.Errorf("opening log: %w", err)
	}
	if l.metrics, err = newMetrics(cfg.Registerer, l.index); err != nil {
		l.closeIndex()
		l.nc.Close()
		l.shutdownServer()
		return nil, fmt.Errorf("opening log: %w", err)
	}
	l.startWriters()
	if l.ns != nil {
		l.log.Info("log open", "mode", "embedded", "store_dir", l.ns.StoreDir(), "listen", cfg.Listen, "partitions", cfg.Partitions)
	} else {
		l.log.Info("log open", "mode", "external", "url", l.nc.ConnectedUrlRedacted(), "partitions", cfg.Partitions)
	}
	return l, nil
}

// Stream names, derived from Config.StreamPrefix.
func (l *Log) eventsStream() string   { return l.cfg.StreamPrefix + "_EVENTS" }
func (l *Log) rejectedStream() string { return l.cfg.StreamPrefix + "_REJECTED" }
func (l *Log) dlqStream() string      { return l.cfg.StreamPrefix + "_DLQ" }
func (l *Log) leaseBucket() string    { return l.cfg.StreamPrefix + "_leases" }

// replicas is the number of copies of each stream and bucket: always one
// on the embedded server.
func (l *Log) replicas() int {
	if l.ns != nil {
		return 1
	}
	return l.cfg.Replicas
}

// streamConfig returns the configuration of a stream of the log: the log's
// retention, size cap (per stream), dedupe window and replicas, messages
// kept until those limits drop them. The events stream overrides the
// dedupe window (see eventsDuplicateWindow).
func (l *Log) streamConfig(name string, subjects ...string) jetstream.StreamConfig {
	maxBytes := int64(l.cfg.MaxBytes)
	if maxBytes == 0 {
		maxBytes = -1
	}
	return jetstream.StreamConfig{
		Name:       name,
		Subjects:   subjects,
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     max(l.cfg.Retention, 0),
		MaxBytes:   maxBytes,
		Discard:    jetstream.DiscardNew,
		Duplicates: l.cfg.DedupeWindow,
		Storage:    jetstream.FileStorage,
		Replicas:   l.replicas(),
	}
}

// setup creates or updates the streams and the lease and delivery buckets,
// each step retried while the cluster is not ready (see startup.go).
func (l *Log) setup(ctx context.Context) error {
	stream, replicas := l.streamConfig, l.replicas()
	p := l.cfg.StreamPrefix
	create := func(cfg jetstream.StreamConfig) (s jetstream.Stream, err error) {
		err = l.retry(ctx, "creating stream "+cfg.Name, func(ctx context.Context) error {
			s, err = l.js.CreateOrUpdateStream(ctx, cfg)
			return err
		})
		return s, err
	}
	bucket := func(cfg jetstream.KeyValueConfig) (kv jetstream.KeyValue, err error) {
		err = l.retry(ctx, "creating bucket "+cfg.Bucket, func(ctx context.Context) error {
			kv, err = l.js.CreateOrUpdateKeyValue(ctx, cfg)
			return err
		})
		return kv, err
	}
	var err error
	ecfg := stream(l.eventsStream(), p+".events.*")
	ecfg.Duplicates = min(l.cfg.DedupeWindow, eventsDuplicateWindow)
	if l.events, err = create(ecfg); err != nil {
		return err
	}
	if l.rejected, err = create(stream(l.rejectedStream(), p+".rejected.>")); err != nil {
		return err
	}
	if l.dlq, err = create(stream(l.dlqStream(), p+".dlq.*")); err != nil {
		return err
	}
	rcfg := l.redriveConfig()
	if l.redrive, err = create(rcfg); err != nil {
		return err
	}
	if l.quarantine, err = create(stream(l.quarantineStream(), p+".quarantine.*")); err != nil {
		return err
	}
	if _, err = create(l.sampleConfig()); err != nil { // sample.go
		return err
	}
	l.leases, err = bucket(jetstream.KeyValueConfig{
		Bucket:      l.leaseBucket(),
		Description: "eventrouter leases: which process works which (destination, partition)",
		History:     1,
		TTL:         keyLife(l.cfg.LeaseTTL),
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return err
	}
	l.deliveries, err = bucket(jetstream.KeyValueConfig{
		Bucket:      l.deliveryBucket(),
		Description: "eventrouter webhook deliveries already stored, kept for the delivery dedupe window",
		History:     1,
		TTL:         l.cfg.DeliveryDedupeWindow,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return err
	}
	if err := l.checkDroppedPartitions(ctx); err != nil { // partitions.go
		return err
	}
	if l.ns != nil && l.cfg.Listen == "" {
		// An in-process server that accepts no TCP clients has no other
		// process that could hold a lease: what the bucket holds was left
		// by this process's previous run (a crash). Clearing it lets the
		// restarted process resume at once instead of after LeaseTTL.
		if err := l.clearLeases(ctx); err != nil {
			return err
		}
	}
	return nil
}

// clearLeases deletes every lease in the bucket.
func (l *Log) clearLeases(ctx context.Context) error {
	keys, err := l.leases.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("listing stale leases: %w", err)
	}
	for key := range keys.Keys() {
		if err := l.leases.Purge(ctx, key); err != nil {
			return fmt.Errorf("clearing stale lease %s: %w", key, err)
		}
	}
	return nil
}

// Partitions returns the number of partitions (Config.Partitions).
func (l *Log) Partitions() int { return l.cfg.Partitions }

// Where says where the log is (Config.Where).
func (l *Log) Where() string { return l.cfg.Where() }

// Ready checks that the log is reachable: one JetStream round trip that
// reads the events stream's state.
func (l *Log) Ready(ctx context.Context) error {
	if _, err := l.js.Stream(ctx, l.eventsStream()); err != nil {
		return fmt.Errorf("reaching log: %w: %w", router.ErrUnavailable, err)
	}
	return nil
}

// Close drains the connection (pending publishes and acknowledgements are
// flushed) and shuts the embedded server down cleanly. Leases still held
// are not renewed any more. Close returns the first error; calling it again
// returns the same.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		if l.stopWriting != nil {
			l.stopWriting()
			l.writersDone.Wait()
		}
		if l.follower != nil {
			l.follower.close()
		}
		if err := l.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			l.closeErr = fmt.Errorf("draining nats connection: %w", err)
			l.nc.Close()
		}
		select {
		case <-l.closedCh:
		case <-time.After(10 * time.Second):
			l.nc.Close()
		}
		l.shutdownServer()
		if l.index != nil {
			if err := l.index.Close(); err != nil && l.closeErr == nil {
				l.closeErr = err
			}
		}
	})
	return l.closeErr
}

// closeIndex stops the follower and closes the index, when Open fails.
func (l *Log) closeIndex() {
	if l.follower != nil {
		l.follower.close()
	}
	if l.index != nil {
		_ = l.index.Close()
	}
}

// eventsDuplicateWindow is JetStream's own duplicate window on the events
// stream, whose Nats-Msg-Id is a record's (derived from its messages'
// ids). The dedupe index remembers each message for Config.DedupeWindow;
// this short window only catches the same record published twice within
// it: a retry, to another process, of a request whose ids that process's
// index has not read yet, or the retry of a publish whose acknowledgement
// was lost. Both happen within the follower's lag (milliseconds while it
// keeps up; the soak's largest is 11 ms). JetStream keeps these ids on its
// heap, two objects each, and keeps them reachable for up to three windows
// (its list of them is compacted only at a third full), so the window is
// short: at 12,500 records/s (20,000 single /v1/track requests/s from 64
// clients) a 30 s window held 32 MB of live heap, and with 10 s its
// 460,000 objects were still 86 % of all live objects, which every
// collection marks; 2 s took 6–9 % off that load's CPU per request.
const eventsDuplicateWindow = 2 * time.Second

func (l *Log) shutdownServer() {
	if l.ns != nil {
		l.ns.Shutdown()
		l.ns.WaitForShutdown()
	}
}

// ClientURL returns the URL on which TCP clients reach the log's NATS: the
// embedded server's when Config.Listen is set, else Config.URL; "" when the
// embedded server accepts no network clients.
func (l *Log) ClientURL() string {
	if l.ns == nil {
		return l.cfg.URL
	}
	if l.cfg.Listen == "" {
		return ""
	}
	return l.ns.ClientURL()
}
