package ingest

import (
	"testing"

	"github.com/eventrouter/eventrouter/schemas"
)

// benchPlanBatch runs BenchmarkIngestBatch's load with the plan in dir
// enforced on source prod-web.
func benchPlanBatch(b *testing.B, dir string) {
	p, err := schemas.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	cfg := baseConfig()
	cfg.Plan = p
	h, err := New(cfg, discardLog{})
	if err != nil {
		b.Fatal(err)
	}
	benchServeBatch(b, h)
}

// BenchmarkIngestBatchPlan is BenchmarkIngestBatch with a tracking plan
// under which every event is valid: the cost of validation on the hot
// path.
func BenchmarkIngestBatchPlan(b *testing.B) { benchPlanBatch(b, "testdata/benchplan") }

// BenchmarkIngestBatchPlanViolations is BenchmarkIngestBatch under the
// Order Completed plan of schemas/testdata/order, where every event has two unplanned
// properties that are omitted and annotated in context.protocols: the
// cost of the slow path.
func BenchmarkIngestBatchPlanViolations(b *testing.B) {
	benchPlanBatch(b, "../../schemas/testdata/order")
}
