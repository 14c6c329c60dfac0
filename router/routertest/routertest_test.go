package routertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

func msgs(ids ...string) []router.Message {
	out := make([]router.Message, len(ids))
	for i, id := range ids {
		out[i] = router.Message{ID: id, Type: router.TypeTrack, Body: []byte(`{"messageId":"` + id + `"}`)}
	}
	return out
}

var _ router.Destination = (*Recorder)(nil)
var _ router.Destination = (*Scripted)(nil)
var _ router.Factory = (*Factory)(nil)

func TestRecorderConcurrentAndWaitFor(t *testing.T) {
	r := NewRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.WaitFor(ctx, 40) }()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if err := r.Send(ctx, msgs(fmt.Sprintf("g%d-%d", g, i))); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatalf("WaitFor: %v", err)
	}
	if n := len(r.IDs()); n != 40 {
		t.Fatalf("got %d messages, want 40", n)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestRecorderOrderAndTimeout(t *testing.T) {
	r := NewRecorder()
	ctx := context.Background()
	_ = r.Send(ctx, msgs("a", "b"))
	_ = r.Send(ctx, msgs("c"))
	if got := fmt.Sprint(r.IDs()); got != "[a b c]" {
		t.Fatalf("IDs = %s", got)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	err := r.WaitFor(short, 4)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for 4 messages, got 3") {
		t.Fatalf("WaitFor error = %v", err)
	}
	cancelled, cancel2 := context.WithCancel(ctx)
	cancel2()
	if err := r.Send(cancelled, msgs("d")); !errors.Is(err, context.Canceled) || len(r.IDs()) != 3 {
		t.Fatalf("Send on cancelled ctx = %v, ids %v", err, r.IDs())
	}
}

func TestScripted(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		outcome   error
		wantKind  router.Kind
		wantDelay time.Duration
		delivered []string
	}{
		{name: "success", outcome: nil, wantKind: router.KindOK, delivered: []string{"a", "b", "c"}},
		{name: "retryable", outcome: boom, wantKind: router.KindRetryable},
		{name: "retry-after", outcome: router.RetryAfter(boom, 3*time.Second), wantKind: router.KindRetryable, wantDelay: 3 * time.Second},
		{name: "permanent", outcome: router.Permanent(boom), wantKind: router.KindPermanent},
		{name: "batch error", outcome: &router.BatchError{Failed: map[int]error{1: router.Permanent(boom)}}, wantKind: router.KindRetryable, delivered: []string{"a", "c"}},
		{name: "wrapped batch error", outcome: fmt.Errorf("sending: %w", &router.BatchError{Failed: map[int]error{0: boom}}), wantKind: router.KindRetryable, delivered: []string{"b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewScripted(tt.outcome)
			err := s.Send(context.Background(), msgs("a", "b", "c"))
			if err != tt.outcome {
				t.Fatalf("Send = %v, want %v", err, tt.outcome)
			}
			kind, delay := router.Classify(err)
			if kind != tt.wantKind || delay != tt.wantDelay {
				t.Fatalf("Classify = %v %v", kind, delay)
			}
			if got, want := fmt.Sprint(s.Delivered.IDs()), fmt.Sprint(tt.delivered); len(tt.delivered) > 0 && got != want {
				t.Fatalf("delivered %s, want %s", got, want)
			}
			if len(tt.delivered) == 0 && len(s.Delivered.IDs()) != 0 {
				t.Fatalf("delivered %v, want none", s.Delivered.IDs())
			}
			// Script used up: success from now on.
			if err := s.Send(context.Background(), msgs("d")); err != nil {
				t.Fatalf("second Send = %v", err)
			}
			if s.Calls() != 2 || len(s.Attempts()) != 2 || fmt.Sprint(ids(s.Attempts()[1])) != "[d]" {
				t.Fatalf("calls %d, attempts %v", s.Calls(), s.Attempts())
			}
		})
	}
}

func TestScriptedSequenceFailingAndCancel(t *testing.T) {
	boom := errors.New("boom")
	s := NewScripted(boom, router.Permanent(boom), router.RetryAfter(boom, time.Second))
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Send(cancelled, msgs("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send on a cancelled ctx = %v", err)
	}
	var kinds []router.Kind
	for i := 0; i < 4; i++ {
		k, _ := router.Classify(s.Send(ctx, msgs("x")))
		kinds = append(kinds, k)
	}
	// The cancelled Send consumed no outcome.
	if got := fmt.Sprint(kinds); got != "[retryable permanent retryable ok]" {
		t.Fatalf("kinds = %s", got)
	}
	if s.Calls() != 5 {
		t.Fatalf("calls = %d, want 5 (the cancelled one counts)", s.Calls())
	}

	f := NewFailing(boom)
	for i := 0; i < 3; i++ {
		if err := f.Send(ctx, msgs("x")); err != boom {
			t.Fatalf("Failing.Send = %v", err)
		}
	}
	if f.Calls() != 3 || len(f.Delivered.IDs()) != 0 {
		t.Fatalf("failing: %d calls, delivered %v", f.Calls(), f.Delivered.IDs())
	}
}

func TestClock(t *testing.T) {
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewClock(t0)
	if !c.Now().Equal(t0) {
		t.Fatal("Now != start")
	}
	ch := c.After(10 * time.Second)
	immediate := c.After(0)
	select {
	case <-immediate:
	default:
		t.Fatal("After(0) did not fire")
	}
	if c.Waiters() != 1 {
		t.Fatalf("Waiters = %d", c.Waiters())
	}
	c.Advance(9 * time.Second)
	select {
	case <-ch:
		t.Fatal("fired early")
	default:
	}
	c.Advance(time.Second)
	select {
	case got := <-ch:
		if !got.Equal(t0.Add(10 * time.Second)) {
			t.Fatalf("fired with %v", got)
		}
	default:
		t.Fatal("did not fire at deadline")
	}
	if !c.Now().Equal(t0.Add(10*time.Second)) || c.Waiters() != 0 {
		t.Fatalf("Now = %v, waiters %d", c.Now(), c.Waiters())
	}
	c.Advance(-time.Hour)
	if !c.Now().Equal(t0.Add(10 * time.Second)) {
		t.Fatal("Advance moved the clock back")
	}
}

func TestFactory(t *testing.T) {
	f := &Factory{Name: "fake"}
	cfg := f.DefaultConfig().(*Config)
	if f.Type() != "fake" || cfg.Validate() != nil {
		t.Fatal("bad defaults")
	}
	cfg.Fail = true
	if err := cfg.Validate(); err == nil || err.Error() != "fail: must be false" {
		t.Fatalf("Validate = %v", err)
	}
	d, err := f.New(context.Background(), cfg, router.Settings{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(*Recorder); !ok {
		t.Fatalf("New returned %T", d)
	}
	if _, err := f.New(context.Background(), struct{}{}, router.Settings{}); err == nil {
		t.Fatal("New accepted a foreign config")
	}
}

func ids(ms []router.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}
