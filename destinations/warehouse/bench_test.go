package warehouse

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// BenchmarkLoad loads 200,000 track events of 20 properties across 10
// event names, in Sends of 5,000 (the batch_size docs/warehouse.md recommends for
// a warehouse), into a fresh warehouse per driver with its default
// settings, timing the Sends and the Close (which checkpoints DuckDB's
// log). It reports events/s, rows/s (each track is a row of tracks and
// one of its event table) and the process's peak RSS (for PostgreSQL the
// server's memory is not included). Run one driver per process (make
// bench-warehouse does) for a peak RSS of that driver alone.
func BenchmarkLoad(b *testing.B) {
	const events, batchSize = 200_000, 5_000
	for _, driver := range drivers {
		b.Run(driver, func(b *testing.B) {
			for n := 0; n < b.N; n++ {
				b.StopTimer()
				cfg := benchConfig(b, driver)
				d, err := NewFactory().New(context.Background(), cfg, router.Settings{Name: "bench", DataDir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				var load time.Duration
				for start := 0; start < events; start += batchSize {
					batch := benchBatch(start, batchSize)
					b.StartTimer()
					t0 := time.Now()
					if err := d.Send(context.Background(), batch); err != nil {
						b.Fatal(err)
					}
					load += time.Since(t0)
					b.StopTimer()
				}
				// Closing checkpoints what the last loads left in the
				// write-ahead log: part of their cost.
				b.StartTimer()
				t0 := time.Now()
				if err := d.Close(context.Background()); err != nil {
					b.Fatal(err)
				}
				load += time.Since(t0)
				b.StopTimer()
				b.ReportMetric(float64(events)/load.Seconds(), "events/s")
				b.ReportMetric(float64(2*events)/load.Seconds(), "rows/s")
			}
			b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
		})
	}
}

func benchConfig(b *testing.B, driver string) *Config {
	if driver == DriverDuckDB {
		return &Config{Driver: driver, DSN: b.TempDir() + "/bench.duckdb"}
	}
	return &Config{Driver: driver, DSN: benchDB(b)}
}

// benchBatch builds messages start..start+n-1.
func benchBatch(start, n int) []router.Message {
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]router.Message, n)
	var sb strings.Builder
	for i := range out {
		k := start + i
		sb.Reset()
		id := "bench-" + strconv.Itoa(k)
		event := fmt.Sprintf("Bench Event %d", k%10)
		fmt.Fprintf(&sb, `{"type":"track","messageId":%q,"userId":"user-%d","anonymousId":"anon-%d","event":%q,"timestamp":"2024-01-01T00:00:00.000Z","receivedAt":"2024-01-01T00:00:00.000Z","context":{"library":{"name":"analytics-go","version":"3.3.0"},"ip":"10.0.0.1"},"properties":{`, id, k%1000, k%5000, event)
		for p := 0; p < 20; p++ {
			if p > 0 {
				sb.WriteByte(',')
			}
			switch p % 4 {
			case 0:
				fmt.Fprintf(&sb, `"prop_%d":%d`, p, k+p)
			case 1:
				fmt.Fprintf(&sb, `"prop_%d":%d.25`, p, k)
			case 2:
				fmt.Fprintf(&sb, `"prop_%d":"value %d of %d"`, p, p, k)
			case 3:
				fmt.Fprintf(&sb, `"prop_%d":%v`, p, k%2 == 0)
			}
		}
		sb.WriteString("}}")
		out[i] = router.Message{ID: id, Source: "bench", Type: "track", UserID: fmt.Sprintf("user-%d", k%1000), Event: event, ReceivedAt: at, Body: []byte(sb.String())}
	}
	return out
}

// peakRSSMB returns the process's peak resident set size in MB, from
// getrusage: Go's heap and DuckDB's C allocations alike.
func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // kB on Linux
}
