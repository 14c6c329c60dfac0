package main

import (
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventrouter/eventrouter/internal/memlimit"
	"github.com/eventrouter/eventrouter/router/config"
)

// applyMemoryLimit sets the Go runtime's soft memory limit at start and logs
// it with where it came from: memory_limit in the config, else GOMEMLIMIT
// (left as the runtime read it), else 90% of the cgroup's memory limit,
// else 512MiB. A cgroup file that cannot be read is logged and ignored.
func applyMemoryLimit(cfg *config.Config, logger *slog.Logger) {
	// config.MemoryLimitAuto is 0 and config.MemoryLimitOff is
	// math.MaxInt64, as memlimit.Input.Configured wants them.
	l, err := memlimit.Decide(memlimit.Input{
		Configured: int64(cfg.MemoryLimit),
		GOMEMLIMIT: os.Getenv("GOMEMLIMIT"),
		FS:         os.DirFS("/"),
	})
	if err != nil {
		logger.Warn("ignoring the cgroup's memory limit", "error", err.Error())
	}
	l = memlimit.Apply(l)
	logger.Info("memory limit set", "limit", l.String(), "bytes", l.Bytes, "source", string(l.Source), "detail", l.Detail)
}

// memoryLimitGauge is eventrouter_memory_limit_bytes: the runtime's soft
// memory limit, read at every scrape.
func memoryLimitGauge() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "eventrouter_memory_limit_bytes",
		Help: "The Go runtime's soft memory limit (memory_limit, GOMEMLIMIT, 90% of the cgroup's limit, or 512MiB); 9.223372036854776e18 (math.MaxInt64) when off.",
	}, func() float64 { return float64(memlimit.Current()) })
}
