package eventlog

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// BenchmarkAppendBatch100 stores batches of 100 messages of ~400 bytes from
// 8 concurrent callers, as /v1/batch does; it reports events/s.
func BenchmarkAppendBatch100(b *testing.B) {
	dir := b.TempDir()
	l, err := Open(context.Background(), Config{DataDir: dir, Logger: testLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	pad := strings.Repeat("x", 250)
	var n atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := n.Add(1)
			batch := make([]router.Message, 100)
			now := time.Now()
			for i := range batch {
				id := fmt.Sprintf("%d-%d", k, i)
				user := fmt.Sprintf("user-%d", (int(k)*100+i)%5000)
				batch[i] = router.Message{ID: id, Source: "web", Type: "track", UserID: user, Event: "Viewed", ReceivedAt: now,
					Body: json.RawMessage(`{"type":"track","messageId":"` + id + `","userId":"` + user + `","event":"Viewed","properties":{"pad":"` + pad + `"}}`)}
			}
			if _, err := l.Append(context.Background(), batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(n.Load()*100)/time.Since(start).Seconds(), "events/s")
}
