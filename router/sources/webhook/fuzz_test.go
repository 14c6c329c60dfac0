package webhook

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// FuzzConvert runs the GrowSurf example's rules (the largest mapping: 27
// vars, 9 rules) and a source using every function on random bodies: no
// panic, no error but ErrMalformed, every message valid JSON, and each
// conversion bounded in time (the VM's memory budget bounds allocation).
func FuzzConvert(f *testing.F) {
	for _, p := range []string{"../growsurf/testdata/T2-referred-signup/request.json", "../growsurf/testdata/T3-reward-approved/request.json", "../growsurf/testdata/L4-legacy-reward/request.json"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"event":"x","data":{"amount":1e308,"n":-9223372036854775808,"s":"\u0000","a":[[[[]]]]}}`))
	f.Add([]byte(`[1,"a",null]`))
	f.Add([]byte(`"str"`))
	gs := loadSettings(f, "examples/growsurf.yaml", map[string]string{"GROWSURF_WEBHOOK_SECRET": "s"})
	growsurfSrc, err := Compile("g", gs)
	if err != nil {
		f.Fatal(err)
	}
	all := mustCompile(f, `
path: /h
allow_unsigned: true
delivery_id: body.id ?? body.event.id
rules:
  - when: body.event == "x" || body.type != nil
    emit:
      - type: track
        userId: text(body.data.email) ?? id(body.id)
        anonymousId: '"anon"'
        event: lower(text(body.event)) ?? "e"
        timestamp: unix(body.data.ts) ?? parse_time(body.data.at) ?? unix_ms(body.data.ms)
        properties:
          amount: 'type(body.data.amount) in ["int", "float"] ? body.data.amount / 100 : nil'
          n: integer(body.data.n)
          s: upper(text(body.data.s))
          q: query(text(body.data.u), "ref")
          h: sha256(id(body.data.n))
          count: 'len(filter(body.data.a ?? [], # != nil))'
          r: 'type(body.data.n) == "int" && body.data.n >= 0 && body.data.n < 100000 ? len(0..body.data.n) : nil'
          whole: body.data
  - reject: other
`)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, src := range []*Source{growsurfSrc, all} {
			start := time.Now()
			res, err := src.Convert(nil, body, testReceived)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("conversion took %s", d)
			}
			if err != nil {
				if !strings.Contains(err.Error(), ErrMalformed.Error()) {
					t.Fatalf("error %v", err)
				}
				continue
			}
			if res.DeliveryKey == "" || (res.Unmapped == "") == (len(res.Messages) == 0) {
				t.Fatalf("inconsistent result %+v", res)
			}
			for _, m := range res.Messages {
				var v map[string]any
				if err := json.Unmarshal(m.Body, &v); err != nil {
					t.Fatalf("message body %s: %v", m.Body, err)
				}
				if v["messageId"] != m.ID || len(m.ID) > maxIDLength || m.UserID == "" && m.AnonymousID == "" {
					t.Fatalf("message %+v", m)
				}
			}
		}
	})
}

// BenchmarkConvert10Rules converts one delivery with a source of 10 rules,
// the last one matching, which emits an identify and a track of 4
// traits/properties each: the figure of the budget (10 rules add
// at most 3 µs per event at ingest). The rules choose by body.event, so
// they are indexed (see ruleGroup); BenchmarkConvert10RulesUnindexed
// tries the 10 conditions one by one.
//
// An event is one message: a delivery producing N messages costs N events,
// so µs/event is the time per delivery divided by 2 here (µs/delivery is
// ns/op). cpu-µs/event is the process's CPU time (user and system, every
// thread, so the GC's share too) per message, which other jobs on a shared
// machine disturb less than the wall-clock time.
func BenchmarkConvert10Rules(b *testing.B) {
	benchConvert(b, true)
}

// BenchmarkConvert10RulesUnindexed is BenchmarkConvert10Rules with the
// rules tried one by one (each when a comparison, as in a source whose
// rules test different fields).
func BenchmarkConvert10RulesUnindexed(b *testing.B) {
	benchConvert(b, false)
}

func benchConvert(b *testing.B, indexed bool) {
	var y strings.Builder
	y.WriteString("path: /h\nallow_unsigned: true\ndelivery_id: body.id\nrules:\n")
	for i := range 10 {
		fmt.Fprintf(&y, `  - name: r%d
    when: body.event == "referral.e%d"
    emit:
      - type: identify
        userId: body.data.customer.email
        traits: { referral_source: '"rewardful"', affiliate_id: body.data.affiliate.id, plan: lower(body.data.plan), joined: unix(body.data.at) }
      - type: track
        userId: body.data.customer.email
        event: '"referral_converted"'
        timestamp: unix(body.data.at)
        properties: { amount: body.data.amount / 100, currency: upper(body.data.currency), affiliate_id: body.data.affiliate.id, rule: '"r%d"' }
`, i, i, i)
	}
	src := mustCompile(b, y.String())
	if !indexed {
		src.groups = nil
	} else if src.groups == nil {
		b.Fatal("the rules are not indexed")
	}
	body := []byte(`{"id":"evt_123","event":"referral.e9","data":{"amount":1999,"currency":"usd","plan":"Pro","at":1772445600,"customer":{"email":"ada@example.com"},"affiliate":{"id":"aff_7"}}}`)
	const events = 2
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		res, err := src.Convert(nil, body, testReceived)
		if err != nil || len(res.Messages) != events {
			b.Fatal(err, res)
		}
	}
	cpu := cpuTime() - cpu0
	n := float64(b.N)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/n/events, "µs/event")
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/n/events, "cpu-µs/event")
	b.ReportMetric(float64(testing.AllocsPerRun(100, func() { _, _ = src.Convert(nil, body, testReceived) }))/events, "allocs/event")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecodeOnly is the part of BenchmarkConvert10Rules that is not
// the rules: decoding the body, which ingest does for any webhook.
func BenchmarkDecodeOnly(b *testing.B) {
	body := []byte(`{"id":"evt_123","event":"referral.e9","data":{"amount":1999,"currency":"usd","plan":"Pro","at":1772445600,"customer":{"email":"ada@example.com"},"affiliate":{"id":"aff_7"}}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeBody(body, nil); err != nil {
			b.Fatal(err)
		}
	}
}
