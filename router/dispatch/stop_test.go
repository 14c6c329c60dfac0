package dispatch

import (
	"context"
	"testing"
	"time"
)

// fakeLease is a router.Lease that is held or not.
type fakeLease bool

func (l fakeLease) Held() bool { return bool(l) }
func (l fakeLease) Lost() <-chan struct{} {
	c := make(chan struct{})
	if !l {
		close(c)
	}
	return c
}
func (fakeLease) TTL() time.Duration            { return time.Minute }
func (fakeLease) Release(context.Context) error { return nil }

func TestBatchStopRule(t *testing.T) {
	fresh := func() *item { return &item{} }
	retried := func() *item { return &item{attempts: 1} }
	dead := func() *item { return &item{attempts: 1, dead: true} }
	live, cancelled := context.Background(), func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}()
	tests := []struct {
		name     string
		b        batch
		bctx     context.Context
		held     bool
		stopping bool
		want     bool
	}{
		{"nothing left", batch{}, live, true, false, true},
		{"work left", batch{todo: []*item{fresh()}}, live, true, false, false},
		{"retries left", batch{todo: []*item{retried()}, sent: true, failed: true}, live, true, false, false},
		{"lease lost", batch{todo: []*item{fresh()}}, live, false, false, true},
		{"drain timeout ended", batch{todo: []*item{fresh()}}, cancelled, true, false, true},
		{"stopping before the first round", batch{todo: []*item{fresh()}}, live, true, true, false},
		{"stopping after a failure", batch{todo: []*item{retried()}, sent: true, failed: true}, live, true, true, true},
		{"stopping with part of the batch never sent", batch{todo: []*item{fresh()}, sent: true}, live, true, true, false},
		{"stopping with every message attempted", batch{todo: []*item{retried(), dead()}, sent: true}, live, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.b.over(tt.bctx, fakeLease(tt.held), tt.stopping); got != tt.want {
				t.Errorf("over = %v, want %v", got, tt.want)
			}
		})
	}
}
