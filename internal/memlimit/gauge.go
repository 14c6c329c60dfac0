package memlimit

import "github.com/prometheus/client_golang/prometheus"

// Gauge is eventrouter_memory_limit_bytes: the runtime's soft memory
// limit (Current), read at every scrape.
func Gauge() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "eventrouter_memory_limit_bytes",
		Help: "The Go runtime's soft memory limit (memory_limit, GOMEMLIMIT, 90% of the cgroup's limit less the dedupe cache, or 180MiB); 9.223372036854776e18 (math.MaxInt64) when off.",
	}, func() float64 { return float64(Current()) })
}
