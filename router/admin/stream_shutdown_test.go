package admin

import (
	"context"
	"testing"
	"time"
)

// TestStreamDoesNotHoldShutdown: http.Server.Shutdown (what serve
// does on SIGTERM) must not wait for an open debugger tab or
// `eventrouter tail`: the stream handler should end when the server shuts
// down, so that shutdown_timeout is left for real requests in flight.
func TestStreamDoesNotHoldShutdown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv := streamServer(t, NewRecorder(RecorderConfig{}))
	evs := openStream(ctx, t, srv.URL, "")
	<-evs // the first stats: the stream is open
	sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
	defer scancel()
	start := time.Now()
	err := srv.Config.Shutdown(sctx)
	if err != nil {
		t.Fatalf("Shutdown with one live-stream client open: %v after %s (it waits for the stream until the shutdown timeout)", err, time.Since(start).Round(time.Millisecond))
	}
}
