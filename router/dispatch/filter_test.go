package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/eventlog"
)

// filtered returns eventrouter_dispatch_filtered_total of a destination and
// reason.
func (r *running) filtered(t *testing.T, dest, reason string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "eventrouter_dispatch_filtered_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["destination"] == dest && labels["reason"] == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

// routed builds a message of user alice, numbered i, of type typ, with a
// track event name and an integrations object (JSON, or empty).
func routed(i int, typ, event, integrations string) router.Message {
	id := fmt.Sprintf("alice-%04d", i)
	body := fmt.Sprintf(`{"type":%q,"messageId":%q,"userId":"alice"`, typ, id)
	if event != "" {
		body += fmt.Sprintf(`,"event":%q`, event)
	}
	if integrations != "" {
		body += `,"integrations":` + integrations
	}
	body += "}"
	return router.Message{ID: id, Source: "web", Type: typ, UserID: "alice", Event: event, ReceivedAt: time.Now(), Body: json.RawMessage(body)}
}

func TestFilterReason(t *testing.T) {
	tests := []struct {
		name string
		opts Options // Integration defaults to "Webhooks"
		msg  router.Message
		want string
	}{
		{"no filters", Options{}, routed(0, "page", "", ""), ""},
		{"type listed", Options{Types: []string{"identify", "track"}}, routed(0, "identify", "", ""), ""},
		{"type not listed", Options{Types: []string{"identify", "track"}}, routed(0, "page", "", ""), ReasonType},
		{"type wins over integrations", Options{Types: []string{"track"}}, routed(0, "alias", "", `{"All":false}`), ReasonType},
		{"event glob matches", Options{Events: []string{"referral_*"}}, routed(0, "track", "referral_converted", ""), ""},
		{"event glob does not match", Options{Events: []string{"referral_*"}}, routed(0, "track", "Order Completed", ""), ReasonEvent},
		{"second glob matches", Options{Events: []string{"referral_*", "Order ?ompleted"}}, routed(0, "track", "Order Completed", ""), ""},
		{"class glob", Options{Events: []string{"[A-Z]*"}}, routed(0, "track", "signup", ""), ReasonEvent},
		{"star does not cross a slash", Options{Events: []string{"*"}}, routed(0, "track", "shop/order", ""), ReasonEvent},
		{"events leave other types alone", Options{Events: []string{"referral_*"}}, routed(0, "identify", "", ""), ""},
		{"events and types together", Options{Types: []string{"track"}, Events: []string{"referral_*"}}, routed(0, "identify", "", ""), ReasonType},
		{"excluded", Options{ExcludeEvents: []string{"*_test"}}, routed(0, "track", "referral_test", ""), ReasonExcluded},
		{"exclusion wins over events", Options{Events: []string{"referral_*"}, ExcludeEvents: []string{"referral_test"}}, routed(0, "track", "referral_test", ""), ReasonExcluded},
		{"exclusion leaves other types alone", Options{ExcludeEvents: []string{"*"}}, routed(0, "screen", "", ""), ""},
		{"events match is case-sensitive", Options{Events: []string{"Signup"}}, routed(0, "track", "signup", ""), ReasonEvent},
		{"integrations off", Options{}, routed(0, "track", "e", `{"All":false,"Customer.io":true}`), ReasonIntegrations},
		{"integrations on", Options{}, routed(0, "track", "e", `{"All":false,"Webhooks":{}}`), ""},
		{"T39 Customer.io", Options{Integration: "Customer.io"}, routed(0, "track", "e", `{"All":false,"Customer.io":true}`), ""},
		{"T39 Warehouses", Options{Integration: "Warehouses"}, routed(0, "track", "e", `{"All":false,"Customer.io":true}`), ReasonIntegrations},
		{"T38 Warehouses", Options{Integration: "Warehouses"}, routed(0, "track", "e", `{"All":true,"Warehouses":{"all":false}}`), ReasonIntegrations},
		{"T38 others", Options{Integration: "Customer.io"}, routed(0, "track", "e", `{"All":true,"Warehouses":{"all":false}}`), ""},
		{"warehouse id listed", Options{Integration: "Warehouses"}, routed(0, "track", "e", `{"All":false,"Warehouses":{"warehouseIds":["dest"]}}`), ""},
		{"warehouse id not listed", Options{Integration: "Warehouses"}, routed(0, "track", "e", `{"Warehouses":{"warehouseIds":["other"]}}`), ReasonIntegrations},
		{"the word integrations elsewhere", Options{}, routed(0, "track", "integrations", ""), ""},
		{"empty integrations", Options{Integration: "Warehouses"}, routed(0, "track", "e", `{}`), ""},
		{"empty integrations elsewhere", Options{}, routed(0, "track", "e", `{"All":false,"x":{"integrations":{}}}`), ReasonIntegrations},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			if o.Integration == "" {
				o.Integration = "Webhooks"
			}
			o, err := o.withDefaults("dest")
			if err != nil {
				t.Fatal(err)
			}
			if got := newFilter("dest", o).reason(&tt.msg); got != tt.want {
				t.Errorf("reason = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFanOut feeds one set of messages through the real log to destinations
// with different filters, and checks what each one received (in log order)
// and what it filtered, by reason.
func TestFanOut(t *testing.T) {
	l := openLog(t, eventlog.Config{Partitions: 1})
	msgs := []router.Message{
		routed(0, "identify", "", ""),
		routed(1, "track", "referral_created", ""),
		routed(2, "track", "referral_converted", ""),
		routed(3, "track", "Order Completed", ""),
		routed(4, "page", "", ""),
		routed(5, "track", "referral_test", ""),
		routed(6, "group", "", ""),
		routed(7, "track", "signup", `{"All":true,"Warehouses":{"all":false}}`), // T38
		routed(8, "track", "signup", `{"All":false,"Customer.io":true}`),        // T39
		routed(9, "alias", "", ""),
		routed(10, "screen", "", ""),
		routed(11, "track", "signup", `{"All":false,"Warehouses":{"warehouseIds":["dw"]}}`),
		routed(12, "track", "nobody", `{"All":false}`), // no destination takes it
	}
	all := func(except ...int) []int {
		var out []int
	next:
		for i := range msgs {
			for _, e := range except {
				if i == e {
					continue next
				}
			}
			out = append(out, i)
		}
		return out
	}
	type counts map[string]float64
	tests := []struct {
		name     string
		opts     Options
		want     []int // indexes of msgs, in order
		filtered counts
	}{
		{"hook", Options{Integration: "Webhooks"}, all(8, 11, 12), counts{ReasonIntegrations: 3}},
		{"types", Options{Integration: "Webhooks", Types: []string{"identify", "track"}}, []int{0, 1, 2, 3, 5, 7},
			counts{ReasonType: 4, ReasonIntegrations: 3}},
		{"events", Options{Integration: "Customer.io", Events: []string{"referral_*"}}, []int{0, 1, 2, 4, 5, 6, 9, 10},
			counts{ReasonEvent: 5}},
		{"exclude", Options{Integration: "Customer.io", Events: []string{"referral_*"}, ExcludeEvents: []string{"*_test"}}, []int{0, 1, 2, 4, 6, 9, 10},
			counts{ReasonEvent: 5, ReasonExcluded: 1}},
		{"only-exclude", Options{Integration: "Customer.io", ExcludeEvents: []string{"referral_*", "Order *"}}, []int{0, 4, 6, 7, 8, 9, 10},
			counts{ReasonExcluded: 4, ReasonIntegrations: 2}},
		{"cio", Options{Integration: "Customer.io"}, all(11, 12), counts{ReasonIntegrations: 2}},
		{"dw", Options{Integration: "Warehouses"}, all(7, 8, 12), counts{ReasonIntegrations: 3}},
		{"dw2", Options{Integration: "Warehouses"}, all(7, 8, 11, 12), counts{ReasonIntegrations: 4}},
	}
	sinks := map[string]*sink{}
	var routes []Route
	for _, tt := range tests {
		sinks[tt.name] = &sink{}
		routes = append(routes, Route{Name: tt.name, Destination: sinks[tt.name], Options: fast(tt.opts)})
	}
	// A disabled destination: nothing sent, everything kept for later.
	routes = append(routes, Route{Name: "off", Options: fast(Options{Disabled: true})})
	r := start(t, l, routes...)
	if _, err := l.Append(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			total := func() float64 {
				n := float64(len(sinks[tt.name].messages()))
				for _, why := range reasons {
					n += r.filtered(t, tt.name, why)
				}
				return n
			}
			waitFor(t, 10*time.Second, "every message sent or filtered", func() bool { return total() >= float64(len(msgs)) })
			var want []string
			for _, i := range tt.want {
				want = append(want, msgs[i].ID)
			}
			if got := ids(sinks[tt.name].messages()); !reflect.DeepEqual(got, want) {
				t.Errorf("delivered %s\nwant      %s", strings.Join(got, " "), strings.Join(want, " "))
			}
			for _, why := range reasons {
				if got := r.filtered(t, tt.name, why); got != tt.filtered[why] {
					t.Errorf("filtered{reason=%q} = %v, want %v", why, got, tt.filtered[why])
				}
			}
			waitFor(t, 5*time.Second, "pending 0", func() bool { return r.counter(t, "eventrouter_dispatch_pending", tt.name) == 0 })
		})
	}

	t.Run("disabled", func(t *testing.T) {
		// Pending counts the log's records (one per partition of the
		// Append): every one of them is still there for the disabled
		// destination.
		info, err := l.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "pending of the disabled destination", func() bool {
			return r.counter(t, "eventrouter_dispatch_pending", "off") == float64(info.Messages)
		})
		for _, why := range reasons {
			if got := r.filtered(t, "off", why); got != 0 {
				t.Errorf("filtered{reason=%q} = %v, want 0", why, got)
			}
		}
		// Enabled again, it receives what it takes of the messages that
		// waited, in order.
		r.stop(t)
		s := &sink{}
		r2 := start(t, l, Route{Name: "off", Destination: s, Options: fast(Options{Integration: "Webhooks"})})
		waitFor(t, 10*time.Second, "delivery once enabled", func() bool { return r2.filtered(t, "off", ReasonIntegrations) >= 3 && len(s.messages()) >= len(msgs)-3 })
		var want []router.Message
		for _, i := range all(8, 11, 12) {
			want = append(want, msgs[i])
		}
		if got := ids(s.messages()); !reflect.DeepEqual(got, ids(want)) {
			t.Errorf("delivered %v, want %v", got, ids(want))
		}
	})

	t.Run("kept in the log", func(t *testing.T) {
		// Every destination has acknowledged every message, and the log
		// still holds them all, message 12 that no destination took too.
		rd, err := l.Reader(context.Background(), router.ReaderConfig{Destination: "audit", AckWait: time.Second, FromStart: true})
		if err != nil {
			t.Fatal(err)
		}
		ds, err := rd.Fetch(context.Background(), 100, 500*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]string, len(ds))
		for i, d := range ds {
			got[i] = d.Message.ID
		}
		if !reflect.DeepEqual(got, ids(msgs)) {
			t.Errorf("the log holds %v, want %v", got, ids(msgs))
		}
	})
}
