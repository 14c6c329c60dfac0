package eventlog

import (
	"context"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

func TestMembership(t *testing.T) {
	ctx := context.Background()
	const ttl = 400 * time.Millisecond
	a := openLog(t, Config{Partitions: 1, LeaseTTL: ttl, Listen: "127.0.0.1:0"})
	b := openLog(t, Config{URL: a.ClientURL(), Partitions: 1, LeaseTTL: ttl})

	join := func(l *Log, group string) router.Membership {
		t.Helper()
		m, err := l.Join(ctx, group)
		if err != nil {
			t.Fatalf("Join(%q): %v", group, err)
		}
		t.Cleanup(func() { _ = m.Leave(ctx) })
		return m
	}
	count := func(m router.Membership) int {
		t.Helper()
		n, err := m.Members(ctx)
		if err != nil {
			t.Fatalf("Members: %v", err)
		}
		return n
	}

	ma := join(a, "hook")
	if n := count(ma); n != 1 {
		t.Fatalf("alone: %d members, want 1", n)
	}
	mb := join(b, "hook")
	other := join(b, "customer.io")
	// A lease, even one named like a member key, is not a member.
	if _, err := a.Acquire(ctx, "member.hook.x"); err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	tests := []struct {
		name string
		m    router.Membership
		want int
	}{
		{"first member sees both", ma, 2},
		{"second member sees both", mb, 2},
		{"other group is apart", other, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := count(tt.m); n != tt.want {
				t.Errorf("%d members, want %d", n, tt.want)
			}
		})
	}
	if ma.TTL() != ttl {
		t.Errorf("TTL = %s, want %s", ma.TTL(), ttl)
	}

	// Renewal keeps a member counted well past its TTL.
	time.Sleep(3 * ttl)
	if n := count(ma); n != 2 {
		t.Fatalf("after renewals: %d members, want 2", n)
	}

	// Leaving is seen at once.
	if err := mb.Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if err := mb.Leave(ctx); err != nil {
		t.Fatalf("second Leave: %v", err)
	}
	if n := count(ma); n != 1 {
		t.Fatalf("after Leave: %d members, want 1", n)
	}

	// A member whose process dies (no more renewals) lapses after its TTL.
	mc := join(b, "hook").(*membership)
	if n := count(ma); n != 2 {
		t.Fatalf("after rejoining: %d members, want 2", n)
	}
	mc.stopOnce.Do(func() { close(mc.stop) })
	<-mc.done
	deadline := time.Now().Add(5 * time.Second)
	for count(ma) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("a member that stopped renewing is still counted")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A member counts itself even when its key is missing.
	if err := a.leases.Delete(ctx, ma.(*membership).key); err != nil {
		t.Fatal(err)
	}
	if n := count(ma); n != 1 {
		t.Errorf("own key missing: %d members, want 1", n)
	}
}

func TestJoinOnClosedLogFails(t *testing.T) {
	l := openLog(t, Config{Partitions: 1})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := l.Join(ctx, "hook"); err == nil {
		t.Error("Join on a closed log succeeded")
	}
}
