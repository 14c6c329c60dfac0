package eventlog

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startEmbedded starts a NATS server with JetStream (file storage under
// DataDir/nats) and waits until it accepts connections.
func startEmbedded(cfg Config) (*server.Server, error) {
	opts := &server.Options{
		ServerName:   "eventrouter",
		JetStream:    true,
		StoreDir:     cfg.storeDir(),
		SyncAlways:   cfg.SyncAlways,
		SyncInterval: cfg.SyncInterval,
		NoSigs:       true,
		NoLog:        false,
	}
	if cfg.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("parsing listen address %q: %w", cfg.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("parsing listen port %q: %w", port, err)
		}
		if p == 0 {
			p = server.RANDOM_PORT // a port chosen by the system, as with net.Listen
		}
		opts.Host, opts.Port = host, p
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("creating embedded nats server: %w", err)
	}
	ns.SetLoggerV2(serverLogger{cfg.Logger.With("component", "nats")}, false, false, false)
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("starting embedded nats server: not ready after 30s")
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		return nil, fmt.Errorf("starting embedded nats server: jetstream could not be enabled (see the nats log)")
	}
	return ns, nil
}

// serverLogger routes the embedded server's log to slog. Notices are logged
// at debug level: the server is chatty when it starts.
type serverLogger struct{ l *slog.Logger }

func (s serverLogger) Noticef(format string, v ...any) {
	s.l.Log(context.Background(), slog.LevelDebug, fmt.Sprintf(format, v...))
}
func (s serverLogger) Warnf(format string, v ...any) { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s serverLogger) Fatalf(format string, v ...any) {
	s.l.Error(fmt.Sprintf(format, v...), "fatal", true)
}
func (s serverLogger) Errorf(format string, v ...any) { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Debugf(string, ...any)          {}
func (s serverLogger) Tracef(string, ...any)          {}
