package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// ndjsonLines posts body to path on s and returns the status and the
// answer's lines, each decoded.
func ndjsonLines(t *testing.T, s *Server, path, body string) (int, []map[string]json.RawMessage) {
	t.Helper()
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	var lines []map[string]json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(w.Body.Bytes()))
	for sc.Scan() {
		var l map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("POST %s: line %q: %v", path, sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return w.Code, lines
}

// TestRedriveSelection: an empty ids list is refused (it would select
// every dead letter of the destination); ids that are not dead letters of
// the destination are reported in not_found; the final progress line is
// written once.
func TestRedriveSelection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := openTestLog(t)
	for i, dest := range []string{"d", "d", "other"} {
		if err := l.DeadLetter(ctx, router.DeadLetter{Destination: dest, Message: msg(i, time.Now()), Seq: uint64(10 + i), Attempts: 3, LastError: "boom"}); err != nil {
			t.Fatal(err)
		}
	}
	ids := map[string][]uint64{}
	if err := l.ScanDeadLetters(ctx, "", func(dl router.DeadLetter) bool {
		ids[dl.Destination] = append(ids[dl.Destination], dl.ID)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	s := New("tok", nil)
	Operations{Log: l, Recorder: NewRecorder(RecorderConfig{}), Destinations: []DestinationInfo{{Name: "d", Type: "x"}, {Name: "other", Type: "x"}}}.Mount(s)

	type result struct {
		Redriven int      `json:"redriven"`
		Matched  int      `json:"matched"`
		NotFound []uint64 `json:"not_found"`
	}
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantCode   string
		want       result
	}{
		{"empty ids", `{"destination":"d","ids":[]}`, 400, "empty_ids", result{}},
		{"missing and other destination's ids, dry run",
			`{"destination":"d","dry_run":true,"ids":[` + jsonNumber(ids["d"][0]) + `,999,` + jsonNumber(ids["other"][0]) + `]}`,
			200, "", result{Matched: 1, NotFound: []uint64{999, ids["other"][0]}}},
		{"missing and other destination's ids",
			`{"destination":"d","ids":[` + jsonNumber(ids["d"][0]) + `,999,` + jsonNumber(ids["other"][0]) + `]}`,
			200, "", result{Redriven: 1, Matched: 1, NotFound: []uint64{999, ids["other"][0]}}},
		{"an id redriven already", `{"destination":"d","ids":[` + jsonNumber(ids["d"][0]) + `]}`,
			200, "", result{NotFound: []uint64{ids["d"][0]}}},
		{"no ids: the rest of the destination", `{"destination":"d"}`, 200, "", result{Redriven: 1, Matched: 1, NotFound: []uint64{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, lines := ndjsonLines(t, s, "/admin/dlq/redrive", tt.body)
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %v", status, tt.wantStatus, lines)
			}
			if tt.wantCode != "" {
				var e struct{ Code, Message string }
				if len(lines) != 1 || json.Unmarshal(lines[0]["error"], &e) != nil || e.Code != tt.wantCode || !strings.Contains(e.Message, "ids") {
					t.Fatalf("answer %v, want error %s", lines, tt.wantCode)
				}
				return
			}
			var res result
			var progress []string
			for _, l := range lines {
				if b, ok := l["progress"]; ok {
					progress = append(progress, string(b))
				}
				if b, ok := l["result"]; ok {
					if err := json.Unmarshal(b, &res); err != nil {
						t.Fatal(err)
					}
				}
			}
			if !reflect.DeepEqual(res, tt.want) {
				t.Errorf("result %+v, want %+v", res, tt.want)
			}
			if n := len(progress); n == 0 || n > 1 && progress[n-1] == progress[n-2] {
				t.Errorf("progress lines %q: want the final one once", progress)
			}
		})
	}
}
