package warehouse

import (
	"context"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

func TestZZProbe(t *testing.T) {
	cfg := &Config{Driver: DriverDuckDB, DSN: t.TempDir() + "/p.duckdb"}
	d, err := NewFactory().New(context.Background(), cfg, router.Settings{Name: "p", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	w := d.(*warehouse)
	var tb, tl time.Duration
	for s := 0; s < 100000; s += 5000 {
		batch := benchBatch(s, 5000)
		t0 := time.Now()
		var rows []*row
		for i, m := range batch {
			rs, _ := w.b.rows(m, i)
			rows = append(rows, rs...)
		}
		t1 := time.Now()
		if err := w.load(context.Background(), rows); err != nil {
			t.Fatal(err)
		}
		tb += t1.Sub(t0)
		tl += time.Since(t1)
	}
	t.Logf("build %v load %v", tb, tl)
	_ = d.Close(context.Background())
}
