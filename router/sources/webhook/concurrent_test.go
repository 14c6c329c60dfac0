package webhook

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
)

// TestConvertConcurrent: conversions on many goroutines at once, each
// reusing the buffers, VM and maps of earlier ones (see scratch), give
// what one conversion at a time gives. Run with -race.
func TestConvertConcurrent(t *testing.T) {
	src := mustCompile(t, `
path: /h
allow_unsigned: true
delivery_id: body.id
rules:
  - when: body.kind == "a"
    emit:
      - {type: identify, userId: body.user.email, traits: {plan: lower(body.plan), n: body.n / 100, whole: body.user}}
      - {type: track, userId: body.user.email, event: body.kind, properties: {n: body.n}}
  - when: body.kind == "b"
    reject: other
    detail: body.user.email
`)
	var bodies [][]byte
	var want []Result
	for i := range 40 {
		kind := []string{"a", "b", "c"}[i%3]
		b := []byte(fmt.Sprintf(`{"id":"d%d","kind":%q,"plan":"P%d","n":%d,"user":{"email":"u%d@example.com","tags":{"t":%d}}}`, i, kind, i, i*7, i, i))
		res, err := src.Convert(nil, b, testReceived)
		if err != nil {
			t.Fatal(err)
		}
		bodies, want = append(bodies, b), append(want, res)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 50 {
				i := (g*13 + round*7) % len(bodies)
				got, err := src.Convert(nil, bodies[i], testReceived)
				if err != nil || !reflect.DeepEqual(got, want[i]) {
					t.Errorf("body %d: got %+v (%v), want %+v", i, got, err, want[i])
					return
				}
			}
		}()
	}
	wg.Wait()
}
