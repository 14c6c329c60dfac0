package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/admin"
	"github.com/eventrouter/eventrouter/router/eventlog"
)

func msg(i int, typ, event string) router.Message {
	return router.Message{
		ID: fmt.Sprintf("m-%d", i), Source: "app", Type: typ, Event: event,
		UserID: fmt.Sprintf("u-%d", i), ReceivedAt: time.Now(),
		Body: []byte(fmt.Sprintf(`{"type":%q,"messageId":"m-%d","event":%q}`, typ, i, event)),
	}
}

// passAll is a Reingester under which every quarantined message passes.
type passAll struct{}

func (passAll) Reingest(context.Context, router.Quarantined, bool) (bool, []router.Violation, error) {
	return true, nil, nil
}

// testServer serves the real admin API (token "tok") over a real log
// with one destination, "d", and returns a client of it.
func testServer(t *testing.T) (*eventlog.Log, *admin.Recorder, *admin.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := eventlog.Open(ctx, eventlog.Config{DataDir: t.TempDir(), Partitions: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("opening the log: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	rec := admin.NewRecorder(admin.RecorderConfig{})
	s := admin.New("tok", nil)
	admin.Operations{Log: l, Recorder: rec, Destinations: []admin.DestinationInfo{{Name: "d", Type: "webhook"}}}.Mount(s)
	s.MountQuarantine(l, passAll{}, nil)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c, err := Connect(srv.URL, "tok")
	if err != nil {
		t.Fatal(err)
	}
	return l, rec, c
}

func TestConnect(t *testing.T) {
	if _, err := Connect(DefaultServer, ""); err == nil || !strings.Contains(err.Error(), TokenEnv) {
		t.Errorf("no token: %v, want an error naming %s", err, TokenEnv)
	}
	if _, err := Connect("127.0.0.1:8080", "tok"); err == nil || !strings.HasPrefix(err.Error(), "--server: ") {
		t.Errorf("a server that is not a URL: %v, want a --server error", err)
	}
}

func TestParseSeqsAndSplitNames(t *testing.T) {
	if got, err := ParseSeqs(" 3, 14 ,15"); err != nil || !reflect.DeepEqual(got, []uint64{3, 14, 15}) {
		t.Errorf("ParseSeqs = %v, %v", got, err)
	}
	if got, err := ParseSeqs(""); err != nil || got != nil {
		t.Errorf("ParseSeqs(\"\") = %v, %v, want nil", got, err)
	}
	if _, err := ParseSeqs("1,x"); err == nil || err.Error() != `"x" is not a seq number` {
		t.Errorf("ParseSeqs(1,x) = %v", err)
	}
	if got := SplitNames(" Signed Up, ,Order Completed,"); !reflect.DeepEqual(got, []string{"Signed Up", "Order Completed"}) {
		t.Errorf("SplitNames = %q", got)
	}
	if got := SplitNames(""); got != nil {
		t.Errorf("SplitNames(\"\") = %q, want nil", got)
	}
}

// TestDeadLetters lists, shows and redrives dead letters as the dlq
// command prints them.
func TestDeadLetters(t *testing.T) {
	ctx := context.Background()
	l, _, c := testServer(t)
	var out, errOut bytes.Buffer
	if err := ListDeadLetters(ctx, c, admin.DeadLetterQuery{Destination: "d"}, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "no dead letters for d\n" {
		t.Errorf("empty list: %q", out.String())
	}
	long := strings.Repeat("x", 100)
	for i, e := range []string{"short error", long} {
		if err := l.DeadLetter(ctx, router.DeadLetter{Destination: "d", Message: msg(i, "track", "Order Completed"), Seq: uint64(10 + i), Attempts: 3, LastError: e}); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	if err := ListDeadLetters(ctx, c, admin.DeadLetterQuery{Destination: "d"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 4 || !regexp.MustCompile(`^SEQ +DEAD LETTERED AT +SOURCE +TYPE +EVENT +MESSAGE ID +ATTEMPTS +ERROR$`).MatchString(lines[0]) {
		t.Fatalf("list:\n%s", out.String())
	}
	// Newest first; an error longer than 80 characters is cut to 77 and "...".
	if !strings.Contains(lines[1], " m-1 ") || !regexp.MustCompile(` 3 +x{77}\.\.\.$`).MatchString(lines[1]) {
		t.Errorf("newest row: %q", lines[1])
	}
	if !strings.Contains(lines[2], " m-0 ") || !strings.HasSuffix(lines[2], "short error") || !strings.Contains(lines[2], " app ") {
		t.Errorf("oldest row: %q", lines[2])
	}
	if lines[3] != "2 shown of 2" {
		t.Errorf("count line: %q", lines[3])
	}
	seq := strings.Fields(lines[2])[0]

	out.Reset()
	var n uint64
	fmt.Sscan(seq, &n)
	if err := ShowDeadLetter(ctx, c, n, &out); err != nil {
		t.Fatal(err)
	}
	var shown struct {
		MessageID string          `json:"message_id"`
		Message   json.RawMessage `json:"message"`
	}
	if err := json.Unmarshal(out.Bytes(), &shown); err != nil || !strings.Contains(string(shown.Message), `"m-0"`) || !strings.Contains(out.String(), "\n  ") {
		t.Errorf("show: %v\n%s", err, out.String())
	}

	out.Reset()
	if err := Redrive(ctx, c, admin.RedriveRequest{Destination: "d", IDs: []uint64{n, 999}, DryRun: true}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if want := "dry run: 1 dead letter(s) of d would be redriven\nnot found (not dead letters of d, or already redriven): [999]\n"; out.String() != want {
		t.Errorf("dry-run redrive:\n%q\nwant\n%q", out.String(), want)
	}
	out.Reset()
	if err := Redrive(ctx, c, admin.RedriveRequest{Destination: "d"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if want := "redriven: 2 dead letter(s) queued again for d and removed from its dead letters\n"; out.String() != want {
		t.Errorf("redrive: %q, want %q", out.String(), want)
	}
	if !strings.Contains(errOut.String(), "redrive") {
		t.Errorf("no progress on stderr: %q", errOut.String())
	}
	// A refused request is returned, and nothing is printed.
	out.Reset()
	err := Redrive(ctx, c, admin.RedriveRequest{Destination: "d", IDs: []uint64{}}, &out, &errOut)
	var ae *admin.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || out.Len() != 0 {
		t.Errorf("refused redrive: %v, printed %q", err, out.String())
	}
}

// TestReplay prints what a replay of the log's history did.
func TestReplay(t *testing.T) {
	ctx := context.Background()
	l, _, c := testServer(t)
	if _, err := l.Append(ctx, []router.Message{msg(1, "track", "A"), msg(2, "track", "B"), msg(3, "identify", "")}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Replay(ctx, c, admin.ReplayRequest{Destination: "d", Since: "1h", Events: []string{"A"}, DryRun: true}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if want := "dry run: 1 of 3 message(s) would be replayed to d\n"; out.String() != want {
		t.Errorf("dry run: %q, want %q", out.String(), want)
	}
	out.Reset()
	if err := Replay(ctx, c, admin.ReplayRequest{Destination: "d", Since: "1h"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if want := "replayed: 3 message(s) queued again for d\n"; out.String() != want {
		t.Errorf("replay: %q, want %q", out.String(), want)
	}
}

// TestQuarantine lists and replays the quarantine as the quarantine
// command prints it.
func TestQuarantine(t *testing.T) {
	ctx := context.Background()
	l, _, c := testServer(t)
	qs := []router.Quarantined{
		{Message: msg(1, "track", "Signed Up"), Reason: router.ReasonBlocked, Violations: []router.Violation{{Type: "Unplanned", Field: "event"}}},
		{Message: msg(2, "identify", ""), Reason: router.ReasonBlocked, Violations: []router.Violation{{Type: "Required", Field: "traits.email"}, {Type: "Type", Field: "traits.age"}}},
	}
	if err := l.Quarantine(ctx, qs); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := ListQuarantine(ctx, c, admin.QuarantineQuery{}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 4 || !regexp.MustCompile(`^SEQ +QUARANTINED AT +SOURCE +EVENT +MESSAGE ID +VIOLATIONS$`).MatchString(lines[0]) {
		t.Fatalf("list:\n%s", out.String())
	}
	if !regexp.MustCompile(` app +\(identify\) +m-2 +Required traits.email, Type traits.age$`).MatchString(lines[1]) {
		t.Errorf("newest row (no event name: its type): %q", lines[1])
	}
	if !regexp.MustCompile(` app +Signed Up +m-1 +Unplanned event$`).MatchString(lines[2]) {
		t.Errorf("oldest row: %q", lines[2])
	}
	if lines[3] != "2 shown of 2 quarantined" {
		t.Errorf("count line: %q", lines[3])
	}
	for _, tt := range []struct {
		dryRun bool
		want   string
	}{
		{true, "would replay 2, still invalid 0, skipped 0\n"},
		{false, "replayed 2, still invalid 0, skipped 0\n"},
	} {
		out.Reset()
		if err := ReplayQuarantine(ctx, c, admin.ReplaySelection{DryRun: tt.dryRun}, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		if out.String() != tt.want {
			t.Errorf("replay (dry run %v): %q, want %q", tt.dryRun, out.String(), tt.want)
		}
	}
}

func TestTailLine(t *testing.T) {
	tests := []struct {
		name string
		m    admin.StreamMessage
		want string
	}{
		{"track of a user", admin.StreamMessage{ReceivedAt: "2026-01-02T03:04:05Z", Status: "stored", Source: "web", Type: "track", Event: "Signed Up", UserID: "u1", MessageID: "m1"},
			"2026-01-02T03:04:05Z stored      web        track    Signed Up                user=u1 id=m1"},
		{"anonymous identify with violations", admin.StreamMessage{ReceivedAt: "t", Status: "quarantined", Source: "app", Type: "identify", AnonymousID: "a1", MessageID: "m2", Violations: 2},
			"t quarantined app        identify -                        anon=a1 id=m2 violations=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TailLine(tt.m); got != tt.want {
				t.Errorf("TailLine =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestTail reads the real live stream: the messages the filter selects,
// one line each or as JSON lines, the counts on stderr with Stats, until
// the context is cancelled.
func TestTail(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", asJSON), func(t *testing.T) {
			_, rec, c := testServer(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var errOut bytes.Buffer
			out := &lineWriter{onLine: func(n int) {
				if n == 1 {
					cancel()
				}
			}}
			go func() {
				// The stream is open once the recorder has a subscriber;
				// until then what is recorded is not sent.
				for ctx.Err() == nil {
					rec.ObserveIngest(router.IngestRecord{ReceivedAt: time.Now(), Accepted: []router.Message{msg(1, "track", "Skipped"), msg(2, "track", "Wanted")}})
					time.Sleep(50 * time.Millisecond)
				}
			}()
			err := Tail(ctx, c, admin.StreamQuery{Event: "Wanted"}, TailOptions{JSON: asJSON, Stats: true}, out, &errOut)
			if err != nil {
				t.Fatalf("Tail: %v", err)
			}
			first := strings.SplitN(out.buf.String(), "\n", 2)[0]
			if asJSON {
				var m admin.StreamMessage
				if err := json.Unmarshal([]byte(first), &m); err != nil || m.Event != "Wanted" || m.MessageID != "m-2" {
					t.Errorf("JSON line %q: %+v, %v", first, m, err)
				}
			} else if !regexp.MustCompile(` app +track +Wanted +user=u-2 id=m-2$`).MatchString(first) {
				t.Errorf("line: %q", first)
			}
			if strings.Contains(out.buf.String(), "Skipped") {
				t.Errorf("the filter let through: %s", out.buf.String())
			}
			if !regexp.MustCompile(`^# [0-9.]+ msg/s, \d+ received, \d+ not shown \(sampled\)\n`).MatchString(errOut.String()) {
				t.Errorf("stats on stderr: %q", errOut.String())
			}
		})
	}
}

// lineWriter collects what is written and calls onLine with the number of
// lines written so far after each write.
type lineWriter struct {
	buf    bytes.Buffer
	onLine func(int)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n, err := w.buf.Write(p)
	w.onLine(strings.Count(w.buf.String(), "\n"))
	return n, err
}
