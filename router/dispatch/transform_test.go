package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/dispatch/transform"
	"github.com/eventrouter/eventrouter/router/eventlog"
	"github.com/eventrouter/eventrouter/router/routertest"
	"github.com/prometheus/client_golang/prometheus"
)

// filteredObserver records what the debugger is told about filtered
// messages.
type filteredObserver struct {
	mu       sync.Mutex
	filtered []string // "<destination> <messageId> <reason>"
}

func (o *filteredObserver) ObserveSend(string, []router.Message, error, time.Duration) {}
func (o *filteredObserver) ObserveDeadLetter(router.DeadLetter)                        {}
func (o *filteredObserver) ObserveFiltered(dest string, m *router.Message, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.filtered = append(o.filtered, dest+" "+m.ID+" "+reason)
}

func (o *filteredObserver) list() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.filtered)
}

func planMessage(user, id, plan string) router.Message {
	return router.Message{
		ID: id, Source: "web", Type: router.TypeTrack, UserID: user, Event: "Signed Up", ReceivedAt: time.Now(),
		Body: json.RawMessage(fmt.Sprintf(`{"context":{"ip":"203.0.113.9"},"event":"Signed Up","messageId":%q,"properties":{"plan":%q},"type":"track","userId":%q}`, id, plan, user)),
	}
}

func bodies(ms []router.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.Body)
	}
	return out
}

// TestTransformPerDestination runs a transform on one destination: the
// other gets the stored message, the drop is counted and observed as
// filtered with its reason, and the log keeps the original.
func TestTransformPerDestination(t *testing.T) {
	l := openLog(t, eventlog.Config{Partitions: 1})
	plain, shaped := &sink{}, &sink{}
	rules := []transform.Rule{
		{Set: map[string]string{"properties.plan": `upper(message.properties.plan)`}},
		{Rename: map[string]string{"properties.plan": "traits.tier"}},
		{Remove: []string{"context.ip"}},
		{When: `message.userId endsWith "@example.com"`, Drop: "internal_user"},
	}
	r := startWithObserver(t, l, Route{Name: "plain", Destination: plain, Options: fast(Options{})},
		Route{Name: "shaped", Destination: shaped, Options: fast(Options{Transform: rules})})
	msgs := []router.Message{planMessage("ann", "m1", "pro"), planMessage("staff@example.com", "m2", "free"), planMessage("bob", "m3", "team")}
	if _, err := l.Append(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "deliveries", func() bool { return len(plain.messages()) == 3 && len(shaped.messages()) == 2 })
	if got, want := bodies(plain.messages()), bodies(msgs); !slices.Equal(got, want) {
		t.Errorf("plain got %q", got)
	}
	got := shaped.messages()
	if b := string(got[0].Body); b != `{"context":{},"event":"Signed Up","messageId":"m1","properties":{},"traits":{"tier":"PRO"},"type":"track","userId":"ann"}` {
		t.Errorf("shaped got %s", b)
	}
	if got[1].ID != "m3" || !strings.Contains(string(got[1].Body), `"tier":"TEAM"`) {
		t.Errorf("shaped got %s", got[1].Body)
	}
	if n := r.filtered(t, "shaped", "internal_user"); n != 1 {
		t.Errorf("filtered{reason=internal_user} = %v, want 1", n)
	}
	waitFor(t, 5*time.Second, "observer", func() bool { return len(r.obs.list()) == 1 })
	if o := r.obs.list(); o[0] != "shaped m2 internal_user" {
		t.Errorf("observed %q", o)
	}
	// The log keeps the messages as they were accepted.
	var stored []router.Message
	if err := l.ScanEvents(context.Background(), time.Now().Add(-time.Hour), time.Now().Add(time.Hour), func(d router.Delivery, _, _ uint64) error {
		stored = append(stored, d.Message)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := bodies(stored), bodies(msgs); !slices.Equal(got, want) {
		t.Errorf("stored %q", got)
	}
}

// TestReplayAfterFixingTransform delivers with a wrong transform, fixes
// the config, replays, and sees the fixed output: the stored message never
// changed.
func TestReplayAfterFixingTransform(t *testing.T) {
	l := openLog(t, eventlog.Config{Partitions: 1})
	s := &sink{}
	wrong := []transform.Rule{{Set: map[string]string{"properties.plan": `lower(message.properties.plan)`}}}
	r := start(t, l, Route{Name: "hook", Destination: s, Options: fast(Options{Transform: wrong})})
	if _, err := l.Append(context.Background(), []router.Message{planMessage("ann", "m1", "Pro")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "delivery", func() bool { return len(s.messages()) == 1 })
	if b := string(s.messages()[0].Body); !strings.Contains(b, `"plan":"pro"`) {
		t.Fatalf("first delivery %s", b)
	}
	r.stop(t)

	fixed := []transform.Rule{{Set: map[string]string{"properties.plan": `upper(message.properties.plan)`}}}
	start(t, l, Route{Name: "hook", Destination: s, Options: fast(Options{Transform: fixed})})
	var ds []router.Delivery
	if err := l.ScanEvents(context.Background(), time.Now().Add(-time.Hour), time.Now().Add(time.Hour), func(d router.Delivery, _, _ uint64) error {
		ds = append(ds, d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := l.Requeue(context.Background(), "hook", ds); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "replay", func() bool { return len(s.messages()) == 2 })
	if b := string(s.messages()[1].Body); !strings.Contains(b, `"plan":"PRO"`) {
		t.Fatalf("replayed %s", b)
	}
}

// TestTransformFailureDeadLetters: a transform that fails on a message
// dead-letters it (the original) with the rule's key path, and delivers
// the others in order.
func TestTransformFailureDeadLetters(t *testing.T) {
	l := openLog(t, eventlog.Config{Partitions: 1})
	s := &sink{}
	rules := []transform.Rule{{Set: map[string]string{"properties.half": `message.properties.plan / 2`}}}
	start(t, l, Route{Name: "hook", Destination: s, Options: fast(Options{Transform: rules})})
	ok := planMessage("ann", "m1", "pro")
	ok.Body = json.RawMessage(`{"event":"Signed Up","messageId":"m1","properties":{"plan":4},"type":"track","userId":"ann"}`)
	bad := planMessage("ann", "m2", "pro")
	if _, err := l.Append(context.Background(), []router.Message{ok, bad}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "delivery", func() bool { return len(s.messages()) == 1 })
	var dls []router.DeadLetter
	waitFor(t, 10*time.Second, "dead letter", func() bool {
		dls = nil
		_ = l.ScanDeadLetters(context.Background(), "hook", func(dl router.DeadLetter) bool { dls = append(dls, dl); return true })
		return len(dls) == 1
	})
	full, err := l.DeadLetterByID(context.Background(), dls[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if full.Message.ID != "m2" || string(full.Message.Body) != string(bad.Body) ||
		!strings.Contains(dls[0].LastError, "transforming message for hook: transform[0].set.properties.half: invalid operation") {
		t.Fatalf("dead letter %+v", dls[0])
	}
	if b := string(s.messages()[0].Body); !strings.Contains(b, `"half":2`) {
		t.Fatalf("delivered %s", b)
	}
}

// TestSuppression: a key delivered within the window suppresses the next
// messages with it (also in one batch, and after a restart of the log and
// dispatch), and is delivered again once the window has passed.
func TestSuppression(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, eventlog.Config{Partitions: 1, DataDir: dir})
	s := &sink{}
	clk := routertest.NewClock(time.Now())
	opts := fast(Options{Suppress: &transform.Suppress{Key: `message.userId + ":" + message.event`, Window: 24 * time.Hour}})
	r := startWithClock(t, l, clk, Route{Name: "cio", Destination: s, Options: opts})
	first := []router.Message{planMessage("ann", "m1", "a"), planMessage("ann", "m2", "b"), planMessage("bob", "m3", "c"), planMessage("ann", "m4", "d")}
	if _, err := l.Append(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "suppression", func() bool { return r.filtered(t, "cio", ReasonSuppressed) == 2 })
	if got := ids(s.messages()); !slices.Equal(got, []string{"m1", "m3"}) {
		t.Fatalf("delivered %v", got)
	}
	r.stop(t)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// Restarted: the log, its index and dispatch are new.
	l = openLog(t, eventlog.Config{Partitions: 1, DataDir: dir})
	clk.Advance(23 * time.Hour)
	r = startWithClock(t, l, clk, Route{Name: "cio", Destination: s, Options: opts})
	if _, err := l.Append(context.Background(), []router.Message{planMessage("ann", "m5", "e")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "suppression after restart", func() bool { return r.filtered(t, "cio", ReasonSuppressed) == 1 })
	clk.Advance(2 * time.Hour) // the window of m1's delivery has passed
	if _, err := l.Append(context.Background(), []router.Message{planMessage("ann", "m6", "f"), planMessage("ann", "m7", "g")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "delivery after the window", func() bool { return r.filtered(t, "cio", ReasonSuppressed) == 2 })
	if got := ids(s.messages()); !slices.Equal(got, []string{"m1", "m3", "m6"}) {
		t.Fatalf("delivered %v", got)
	}
}

// TestSuppressionCountsOnlyDelivered: a key counts once the destination
// took the message; a failed message's key does not suppress the next.
func TestSuppressionCountsOnlyDelivered(t *testing.T) {
	l := openLog(t, eventlog.Config{Partitions: 1})
	s := &sink{fail: func(call int, batch []router.Message) error {
		if batch[0].ID == "m1" {
			return router.Permanent(fmt.Errorf("refused"))
		}
		return nil
	}}
	opts := fast(Options{Suppress: &transform.Suppress{Key: `message.userId`, Window: time.Hour}})
	r := start(t, l, Route{Name: "cio", Destination: s, Options: opts})
	if _, err := l.Append(context.Background(), []router.Message{planMessage("ann", "m1", "a"), planMessage("ann", "m2", "b"), planMessage("ann", "m3", "c")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "suppression", func() bool { return r.filtered(t, "cio", ReasonSuppressed) == 1 })
	if got := ids(s.messages()); !slices.Equal(got, []string{"m2"}) {
		t.Fatalf("delivered %v", got)
	}
}

// TestNewRejectsBrokenShaping: broken expressions are refused with their
// key paths.
func TestNewRejectsBrokenShaping(t *testing.T) {
	l := openLog(t, eventlog.Config{Partitions: 1})
	_, err := New(l, []Route{{Name: "x", Destination: &sink{}, Options: fast(Options{
		Transform: []transform.Rule{{Set: map[string]string{"a": "message.("}}},
		Suppress:  &transform.Suppress{Key: "", Window: time.Hour},
	})}}, quiet(), nil)
	if err == nil || !strings.Contains(err.Error(), "x: transform[0].set.a: ") || !strings.Contains(err.Error(), "suppress.key: required") {
		t.Fatalf("err = %v", err)
	}
}

type runningObserved struct {
	*running
	obs *filteredObserver
}

func startWithObserver(t *testing.T, l router.Log, routes ...Route) runningObserved {
	t.Helper()
	o := &filteredObserver{}
	r := startObserved(t, l, o, routes...)
	return runningObserved{r, o}
}

// startObserved is startWithClock with an observer and the real clock.
func startObserved(t *testing.T, l router.Log, o Observer, routes ...Route) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	d, err := New(l, routes, quiet(), reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	d.Observe(o)
	d.acquireEvery = 100 * time.Millisecond
	d.pendingEvery = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{d: d, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}
