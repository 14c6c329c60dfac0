package admin

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/eventlog"
)

// gatedLog is the real log, with Requeue held until both concurrent
// redrives have reached it (to make the interleaving deterministic).
type gatedLog struct {
	*eventlog.Log
	arrived chan struct{}
	release chan struct{}
}

func (g *gatedLog) Requeue(ctx context.Context, destination string, ds []router.Delivery) error {
	g.arrived <- struct{}{}
	<-g.release
	return g.Log.Requeue(ctx, destination, ds)
}

// TestConcurrentRedriveQueuesOnce: two redrives of the same dead
// letter at once (a double click on Resend, or the page and the CLI) must
// queue it once; the dead letter exists once, so it must be delivered once.
func TestConcurrentRedriveQueuesOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := openTestLog(t)
	m := msg(1, time.Now())
	if err := l.DeadLetter(ctx, router.DeadLetter{Destination: "d", Message: m, Seq: 7, Attempts: 3, LastError: "boom", FirstFailure: time.Now()}); err != nil {
		t.Fatal(err)
	}
	g := &gatedLog{Log: l, arrived: make(chan struct{}, 2), release: make(chan struct{})}
	s := New("tok", nil)
	Operations{Log: g, Recorder: NewRecorder(RecorderConfig{}), Destinations: []DestinationInfo{{Name: "d", Type: "x"}}}.Mount(s)
	var wg sync.WaitGroup
	bodies := make([]string, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest("POST", "/admin/dlq/redrive", strings.NewReader(`{"destination":"d"}`))
			req.Header.Set("Authorization", "Bearer tok")
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			bodies[i] = w.Body.String()
		}()
	}
	<-g.arrived
	<-g.arrived
	close(g.release)
	wg.Wait()
	t.Logf("answers:\n%s\n%s", bodies[0], bodies[1])

	rd, err := l.RedriveReader(ctx, "d", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := rd.Fetch(ctx, 10, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		t.Fatalf("one dead letter redriven twice at once is queued %d times for delivery, want 1", len(ds))
	}
}
