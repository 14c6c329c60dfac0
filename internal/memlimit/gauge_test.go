package memlimit

import (
	"runtime/debug"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestGauge(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	reg := prometheus.NewRegistry()
	reg.MustRegister(Gauge())
	for _, limit := range []int64{512 << 20, 2 << 30} {
		debug.SetMemoryLimit(limit)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		if len(mfs) != 1 || mfs[0].GetName() != "eventrouter_memory_limit_bytes" || mfs[0].GetType() != dto.MetricType_GAUGE {
			t.Fatalf("gathered %v; want the one gauge eventrouter_memory_limit_bytes", mfs)
		}
		if got := mfs[0].GetMetric()[0].GetGauge().GetValue(); got != float64(limit) {
			t.Errorf("with a limit of %d the gauge reads %v", limit, got)
		}
	}
}
