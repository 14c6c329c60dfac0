package warehouse

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// BenchmarkLoad loads 200,000 track events of 20 properties across 10
// event names, in Sends of 5,000 (the batch_size of a busy warehouse), into
// a fresh warehouse per driver. It reports events/s, rows/s (each track is
// a row of tracks and one of its event table) and the process's peak RSS
// (for PostgreSQL the server's memory is not included).
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
				_ = d.Close(context.Background())
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

// peakRSSMB returns the process's peak resident set size in MB (VmHWM).
func peakRSSMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "VmHWM:"), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
