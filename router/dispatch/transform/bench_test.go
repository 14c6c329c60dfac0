package transform

import (
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// benchBody is a typical server-side track message as ingest stores it.
var benchBody = []byte(`{"anonymousId":"a-3f9c","channel":"server","context":{"ip":"203.0.113.9","library":{"name":"analytics-node","version":"2.1.0"},"userAgent":"Mozilla/5.0 (X11; Linux x86_64)"},"event":"Order Completed","integrations":{},"messageId":"msg-0001","originalTimestamp":"2026-12-06T10:00:00.000Z","properties":{"coupon":"WINTER","currency":"usd","order_id":"o-123","plan":"pro","revenue":129.5,"total":142},"receivedAt":"2026-12-06T10:00:00.120Z","sentAt":"2026-12-06T10:00:00.100Z","timestamp":"2026-12-06T10:00:00.020Z","type":"track","userId":"user-42","version":2}`)

// benchRules are five rules of the kinds a destination uses: a guarded
// set, a rename, a remove, a set computing from two fields, and a drop
// that does not fire.
var benchRules = []Rule{
	{When: `message.type == "track"`, Set: map[string]string{"properties.plan": `upper(message.properties.plan)`}},
	{Rename: map[string]string{"properties.total": "properties.value"}},
	{Remove: []string{"context.ip", "context.userAgent"}},
	{Set: map[string]string{"properties.currency": `upper(message.properties.currency ?? "usd")`}},
	{When: `message.userId endsWith "@example.com"`, Drop: "internal_user"},
}

// BenchmarkApply5Rules measures what a destination with 5 transform rules
// adds per event at dispatch: decoding the stored body, running the rules
// and encoding the result.
func BenchmarkApply5Rules(b *testing.B) {
	p, err := Compile(benchRules)
	if err != nil {
		b.Fatal(err)
	}
	m := &router.Message{ID: "msg-0001", Source: "web", Type: "track", UserID: "user-42", AnonymousID: "a-3f9c", Event: "Order Completed", ReceivedAt: time.Now(), Body: benchBody}
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		res, err := p.Apply(m)
		if err != nil || res.Dropped != "" || !res.Changed {
			b.Fatal(res, err)
		}
	}
	// On a shared machine the wall time per op grows with the other
	// processes' load; the process's CPU time per op (GC included) does
	// much less.
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEncodingJSONRoundTrip is the reference BenchmarkApply5Rules is
// read against on a loaded machine: decoding the same body with
// encoding/json into a map and encoding it back, which is what a transform
// that reads the whole message would cost before any rule ran.
func BenchmarkEncodingJSONRoundTrip(b *testing.B) {
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(benchBody, &m); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}
