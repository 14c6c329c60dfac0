package eventlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

func testLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openLog opens a log with the embedded server in a temporary directory.
func openLog(t *testing.T, cfg Config) *Log {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// startServer starts a standalone NATS server with JetStream on a random
// local port, as an external cluster of one.
func startServer(t *testing.T) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoSigs:    true,
		NoLog:     true,
	})
	if err != nil {
		t.Fatalf("starting nats server: %v", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)

func msg(source, id, user string) router.Message {
	return router.Message{
		ID:         id,
		Source:     source,
		Type:       router.TypeTrack,
		UserID:     user,
		Event:      "Clicked",
		ReceivedAt: t0,
		Body:       json.RawMessage(fmt.Sprintf(`{"type":"track","messageId":%q,"userId":%q,"event":"Clicked"}`, id, user)),
	}
}

// readAll reads every message of a partition from the start with a fresh
// cursor and acknowledges them.
func readAll(t *testing.T, l *Log, dest string, p int) []router.Delivery {
	t.Helper()
	ctx := context.Background()
	r, err := l.Reader(ctx, router.ReaderConfig{Destination: dest, Partition: p, FromStart: true})
	if err != nil {
		t.Fatalf("Reader: %v", err)
	}
	var out []router.Delivery
	for {
		ds, err := r.Fetch(ctx, 100, 100*time.Millisecond)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		if len(ds) == 0 {
			return out
		}
		if err := r.Ack(ctx, ds); err != nil {
			t.Fatalf("Ack: %v", err)
		}
		out = append(out, ds...)
	}
}

func TestAppendReadBackInOrder(t *testing.T) {
	l := openLog(t, Config{Partitions: 4})
	ctx := context.Background()
	var msgs []router.Message
	for i := range 40 {
		msgs = append(msgs, msg("web", fmt.Sprintf("m%02d", i), fmt.Sprintf("user%d", i%5)))
	}
	// Values that header parsing would mangle must come back unchanged.
	odd := msg("web", "odd\r\nNats-Expected-Stream: X", " spaced user ")
	odd.AnonymousID = "100%\tsure"
	odd.Event = "Ünïcode event"
	msgs = append(msgs, odd)
	dups, err := l.Append(ctx, msgs)
	if err != nil || dups != 0 {
		t.Fatalf("Append = %d, %v; want 0, nil", dups, err)
	}
	want := map[int][]router.Message{}
	for _, m := range msgs {
		p := router.Partition(m.PartitionKey(), 4)
		want[p] = append(want[p], m)
	}
	total := 0
	for p := range 4 {
		got := readAll(t, l, "reader", p)
		if len(got) != len(want[p]) {
			t.Fatalf("partition %d: got %d messages, want %d", p, len(got), len(want[p]))
		}
		for i, d := range got {
			w := want[p][i]
			g := d.Message
			if g.ID != w.ID || g.Source != w.Source || g.Type != w.Type || g.UserID != w.UserID ||
				g.AnonymousID != w.AnonymousID || g.Event != w.Event || !g.ReceivedAt.Equal(w.ReceivedAt) || string(g.Body) != string(w.Body) {
				t.Errorf("partition %d #%d: got %+v, want %+v", p, i, g, w)
			}
			if d.Partition != p || d.Delivered != 1 || (i > 0 && d.Seq <= got[i-1].Seq) {
				t.Errorf("partition %d #%d: delivery %+v", p, i, d)
			}
		}
		total += len(got)
	}
	if total != len(msgs) {
		t.Errorf("read %d messages, want %d", total, len(msgs))
	}
}

// TestAppendManyForOnePartition appends more messages of one user than a
// record holds in one call (as a replay of the quarantine may): they are
// cut into several records, every one under JetStream's 64 KiB header
// limit, and read back in order.
func TestAppendManyForOnePartition(t *testing.T) {
	l := openLog(t, Config{Partitions: 2})
	const n = 2*maxRecordCount + 100
	msgs := make([]router.Message, n)
	for i := range msgs {
		msgs[i] = msg("web", fmt.Sprintf("many-%05d", i), "one-user")
	}
	if dups, err := l.Append(context.Background(), msgs); err != nil || dups != 0 {
		t.Fatalf("Append of %d messages = %d, %v; want 0, nil", n, dups, err)
	}
	p := router.Partition(msgs[0].PartitionKey(), 2)
	got := readAll(t, l, "reader", p)
	if len(got) != n {
		t.Fatalf("read %d messages, want %d", len(got), n)
	}
	for i, d := range got {
		if d.Message.ID != msgs[i].ID {
			t.Fatalf("#%d: got %s, want %s", i, d.Message.ID, msgs[i].ID)
		}
	}
}

func TestAppendDeduplicates(t *testing.T) {
	tests := []struct {
		name     string
		second   router.Message
		wantDups int
	}{
		{"same source and messageId", msg("web", "id-1", "u1"), 1},
		{"same messageId from another source", msg("ios", "id-1", "u1"), 0},
		{"another messageId", msg("web", "id-2", "u1"), 0},
		{"source and id that concatenate alike", msg("we", "bid-1", "u1"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := openLog(t, Config{Partitions: 2})
			ctx := context.Background()
			if dups, err := l.Append(ctx, []router.Message{msg("web", "id-1", "u1")}); err != nil || dups != 0 {
				t.Fatalf("first Append = %d, %v", dups, err)
			}
			dups, err := l.Append(ctx, []router.Message{tt.second})
			if err != nil || dups != tt.wantDups {
				t.Fatalf("second Append = %d, %v; want %d, nil", dups, err, tt.wantDups)
			}
			got := readAll(t, l, "r", router.Partition("u1", 2))
			if len(got) != 2-tt.wantDups {
				t.Errorf("stored %d messages, want %d", len(got), 2-tt.wantDups)
			}
		})
	}
}

func TestAppendFullLogIsUnavailable(t *testing.T) {
	// 1MiB is the smallest cap (Config.Validate); 100 batches of 10
	// messages of about 2 KB of incompressible padding are twice as much.
	l := openLog(t, Config{Partitions: 1, MaxBytes: 1 << 20})
	ctx := context.Background()
	if _, err := l.Append(ctx, []router.Message{msg("web", "first", "u")}); err != nil {
		t.Fatalf("first Append: %v", err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		var batch []router.Message
		for j := range 10 {
			m := msg("web", fmt.Sprintf("b%d-%d", i, j), "u")
			pad := make([]byte, 1000)
			for k := range pad {
				pad[k] = byte(rnd.IntN(256))
			}
			m.Body = json.RawMessage(fmt.Sprintf(`{"type":"track","messageId":%q,"userId":"u","event":"Clicked","properties":{"pad":"%x"}}`, m.ID, pad))
			batch = append(batch, m)
		}
		_, err = l.Append(ctx, batch)
	}
	if !errors.Is(err, router.ErrUnavailable) {
		t.Fatalf("Append on a full log = %v, want an error wrapping router.ErrUnavailable", err)
	}
	// Old data is kept, not discarded to make room.
	if got := readAll(t, l, "r", 0); len(got) == 0 || got[0].Message.ID != "first" {
		t.Errorf("oldest message lost: first read %d messages", len(got))
	}
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	l := openLog(t, Config{DataDir: dir, Partitions: 1})
	// Two requests, two records.
	for _, id := range []string{"a", "b"} {
		if _, err := l.Append(ctx, []router.Message{msg("web", id, "u")}); err != nil {
			t.Fatal(err)
		}
	}
	// A cursor that has read one record resumes after it.
	r, err := l.Reader(ctx, router.ReaderConfig{Destination: "d", Partition: 0, FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := r.Fetch(ctx, 1, time.Second)
	if err != nil || len(ds) != 1 {
		t.Fatalf("Fetch = %v, %v", ds, err)
	}
	if err := r.Ack(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	l2 := openLog(t, Config{DataDir: dir, Partitions: 1})
	if dups, err := l2.Append(ctx, []router.Message{msg("web", "a", "u"), msg("web", "c", "u")}); err != nil || dups != 1 {
		t.Fatalf("Append after reopen = %d, %v; want 1 duplicate (dedupe survives restart)", dups, err)
	}
	r2, err := l2.Reader(ctx, router.ReaderConfig{Destination: "d", Partition: 0})
	if err != nil {
		t.Fatal(err)
	}
	ds, err = r2.Fetch(ctx, 10, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.Message.ID)
	}
	if fmt.Sprint(ids) != "[b c]" {
		t.Errorf("resumed cursor read %v, want [b c]", ids)
	}
}

func TestExternalServer(t *testing.T) {
	ns := startServer(t)
	l := openLog(t, Config{URL: ns.ClientURL(), Partitions: 3, StreamPrefix: "EXT"})
	ctx := context.Background()
	if err := l.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	batch := []router.Message{msg("web", "1", "alice"), msg("web", "2", "alice"), msg("web", "1", "alice")}
	if dups, err := l.Append(ctx, batch); err != nil || dups != 1 {
		t.Fatalf("Append = %d, %v; want 1, nil", dups, err)
	}
	got := readAll(t, l, "r", router.Partition("alice", 3))
	if len(got) != 2 || got[0].Message.ID != "1" || got[1].Message.ID != "2" {
		t.Fatalf("read %+v", got)
	}
	// A second deployment with another prefix shares the server.
	l2 := openLog(t, Config{URL: ns.ClientURL(), Partitions: 3, StreamPrefix: "OTHER"})
	if dups, err := l2.Append(ctx, batch[:1]); err != nil || dups != 0 {
		t.Fatalf("Append on another prefix = %d, %v", dups, err)
	}
	// With the server gone, Append fails as unavailable rather than hanging.
	ns.Shutdown()
	l.cfg.StoreTimeout = 500 * time.Millisecond
	start := time.Now()
	if _, err := l.Append(ctx, []router.Message{msg("web", "3", "bob")}); !errors.Is(err, router.ErrUnavailable) {
		t.Errorf("Append with the server down = %v, want router.ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Append with the server down took %s, want about the store timeout", d)
	}
	ctx2, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := l.Ready(ctx2); !errors.Is(err, router.ErrUnavailable) {
		t.Errorf("Ready with the server down = %v, want router.ErrUnavailable", err)
	}
}

func TestReject(t *testing.T) {
	l := openLog(t, Config{Partitions: 1})
	ctx := context.Background()
	rej := []router.Rejected{
		{Source: "web", Reason: "no_user_anon_id", MessageID: "x", ReceivedAt: t0, Body: json.RawMessage(`{"type":"track"}`)},
		{Reason: "message_too_large", ReceivedAt: t0, Body: json.RawMessage(`"raw"`)},
	}
	if err := l.Reject(ctx, rej); err != nil {
		t.Fatalf("Reject: %v", err)
	}
	info, err := l.rejected.Info(ctx, jetstream.WithSubjectFilter(l.cfg.StreamPrefix+".rejected.>"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"EVENTROUTER.rejected.no_user_anon_id": 1, "EVENTROUTER.rejected.message_too_large": 1}
	if fmt.Sprint(info.State.Subjects) != fmt.Sprint(want) {
		t.Errorf("rejected subjects = %v, want %v", info.State.Subjects, want)
	}
	m, err := l.rejected.GetLastMsgForSubject(ctx, "EVENTROUTER.rejected.no_user_anon_id")
	if err != nil {
		t.Fatal(err)
	}
	var got router.Rejected
	if err := json.Unmarshal(m.Data, &got); err != nil || got.MessageID != "x" || got.Source != "web" || string(got.Body) != `{"type":"track"}` {
		t.Errorf("stored rejected = %+v, %v", got, err)
	}
}

func TestDeadLetters(t *testing.T) {
	l := openLog(t, Config{Partitions: 1})
	ctx := context.Background()
	first := time.Date(2024, 5, 1, 12, 0, 1, 0, time.UTC)
	for i, dest := range []string{"hook", "customer.io", "hook"} {
		m := msg("web", fmt.Sprintf("m%d", i), "u")
		dl := router.DeadLetter{Destination: dest, Message: m, Seq: uint64(i + 1), Attempts: 3 + i, FirstFailure: first, LastError: "500: boom\nline two"}
		if err := l.DeadLetter(ctx, dl); err != nil {
			t.Fatalf("DeadLetter: %v", err)
		}
		// Storing again (a crash before the ack) keeps one copy.
		if err := l.DeadLetter(ctx, dl); err != nil {
			t.Fatalf("DeadLetter again: %v", err)
		}
	}
	got, err := l.DeadLetters(ctx, "hook", 0)
	if err != nil {
		t.Fatalf("DeadLetters: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d dead letters for hook, want 2: %+v", len(got), got)
	}
	g := got[1]
	if g.Destination != "hook" || g.Seq != 3 || g.Attempts != 5 || !g.FirstFailure.Equal(first) || g.LastError != "500: boom\nline two" ||
		g.Message.ID != "m2" || string(g.Message.Body) != string(msg("web", "m2", "u").Body) || g.DeadAt.IsZero() {
		t.Errorf("dead letter = %+v", g)
	}
	if got, err := l.DeadLetters(ctx, "hook", 1); err != nil || len(got) != 1 || got[0].Message.ID != "m0" {
		t.Errorf("DeadLetters(limit 1) = %+v, %v", got, err)
	}
	if got, err := l.DeadLetters(ctx, "customer.io", 10); err != nil || len(got) != 1 || got[0].Message.ID != "m1" {
		t.Errorf("DeadLetters(customer.io) = %+v, %v", got, err)
	}
	if got, err := l.DeadLetters(ctx, "nobody", 10); err != nil || len(got) != 0 {
		t.Errorf("DeadLetters(nobody) = %+v, %v", got, err)
	}
}

func TestLease(t *testing.T) {
	ctx := context.Background()
	a := openLog(t, Config{Partitions: 1, LeaseTTL: 400 * time.Millisecond, Listen: "127.0.0.1:0"})
	b := openLog(t, Config{URL: a.ClientURL(), Partitions: 1, LeaseTTL: 400 * time.Millisecond})

	la, err := a.Acquire(ctx, "hook/0")
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	if _, err := b.Acquire(ctx, "hook/0"); !errors.Is(err, router.ErrLeaseHeld) {
		t.Fatalf("second Acquire = %v, want router.ErrLeaseHeld", err)
	}
	// Renewal keeps it held well past its TTL.
	time.Sleep(time.Second)
	if !la.Held() {
		t.Fatal("lease not held after renewals")
	}
	if _, err := b.Acquire(ctx, "hook/0"); !errors.Is(err, router.ErrLeaseHeld) {
		t.Fatalf("Acquire of a renewed lease = %v, want router.ErrLeaseHeld", err)
	}
	// Release hands it over at once.
	if err := la.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if la.Held() {
		t.Error("released lease still held")
	}
	select {
	case <-la.Lost():
	default:
		t.Error("Lost not closed after Release")
	}
	lb, err := b.Acquire(ctx, "hook/0")
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	// A holder that stops renewing (its process died) loses the lease
	// after its TTL, and another takes it.
	lb.(*lease).stopOnce.Do(func() { close(lb.(*lease).stop) })
	<-lb.Lost()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err = a.Acquire(ctx, "hook/0"); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Acquire after the holder stopped renewing: %v", err)
	}
}

// A renewal the holder gave up waiting for may still have been applied:
// the next renewal then finds a newer revision, but one of its own, and
// the lease stays held.
func TestLeaseRenewalAppliedLate(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, Config{Partitions: 1, LeaseTTL: 400 * time.Millisecond})
	held, err := l.Acquire(ctx, "hook/0")
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	ls := held.(*lease)
	ls.mu.Lock()
	rev := ls.rev
	ls.mu.Unlock()
	// The late renewal, as the server applied it.
	if _, err := l.leases.Update(ctx, ls.key, ls.owner, rev); err != nil {
		t.Fatalf("Update: %v", err)
	}
	time.Sleep(time.Second) // several renewals
	if !held.Held() {
		t.Fatal("lease lost after a late renewal of its own")
	}
	// Another holder's write still takes it away.
	if _, err := l.leases.Put(ctx, ls.key, []byte("someone else")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	select {
	case <-held.Lost():
	case <-time.After(2 * time.Second):
		t.Fatal("lease still held after another holder took the key")
	}
}

// Release interrupting a renewal the server applied all the same finds
// the key at a newer revision of this holder's own, and still frees it.
func TestLeaseReleaseAfterLateRenewal(t *testing.T) {
	ctx := context.Background()
	// A long TTL: no renewal of the holder's own runs during the test.
	l := openLog(t, Config{Partitions: 1, LeaseTTL: 20 * time.Second})
	held, err := l.Acquire(ctx, "hook/0")
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	ls := held.(*lease)
	ls.mu.Lock()
	rev := ls.rev
	ls.mu.Unlock()
	// The interrupted renewal, as the server applied it.
	if _, err := l.leases.Update(ctx, ls.key, ls.owner, rev); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := held.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if _, err := l.Acquire(ctx, "hook/0"); err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
}

func TestEscape(t *testing.T) {
	for _, s := range []string{"", "plain", " lead", "trail ", "a b", "100%", "%41", "line\r\nbreak", "tab\tx", "\x00\x7f", "ünï", "%"} {
		if got := unescape(escape(s)); got != s {
			t.Errorf("unescape(escape(%q)) = %q", s, got)
		}
	}
	if escape("plain value") != "plain value" {
		t.Error("escape changed a plain value")
	}
}

func TestSubjectToken(t *testing.T) {
	tests := []struct{ in, want string }{
		{"hook", "hook"},
		{"customer.io", "customer=2Eio"},
		{"a b*>", "a=20b=2A=3E"},
		{"", "="},
		{"x=2E", "x=3D2E"},
	}
	for _, tt := range tests {
		if got := subjectToken(tt.in); got != tt.want {
			t.Errorf("subjectToken(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no data dir for embedded", Config{}},
		{"bad prefix", Config{DataDir: "x", StreamPrefix: "a.b"}},
		{"dedupe longer than retention", Config{DataDir: "x", DedupeWindow: 48 * time.Hour, Retention: time.Hour}},
		{"too many partitions", Config{DataDir: "x", Partitions: 5000}},
		{"negative retention", Config{DataDir: "x", Retention: -time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Open(context.Background(), tt.cfg); err == nil {
				t.Error("Open succeeded, want a config error")
			}
		})
	}
}

func TestRetention(t *testing.T) {
	tests := []struct {
		name      string
		retention time.Duration
		wantAge   time.Duration
	}{
		{"the default", DefaultConfig().Retention, DefaultRetention},
		{"set", 48 * time.Hour, 48 * time.Hour},
		{"zero is no age limit", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			l, err := Open(ctx, Config{DataDir: t.TempDir(), Partitions: 1, Retention: tt.retention, DedupeWindow: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			for _, s := range []interface {
				Info(context.Context, ...jetstream.StreamInfoOpt) (*jetstream.StreamInfo, error)
			}{l.events, l.rejected, l.dlq} {
				info, err := s.Info(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if info.Config.MaxAge != tt.wantAge {
					t.Errorf("%s: MaxAge %s, want %s", info.Config.Name, info.Config.MaxAge, tt.wantAge)
				}
			}
		})
	}
}
