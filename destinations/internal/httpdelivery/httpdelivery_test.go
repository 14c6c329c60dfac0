package httpdelivery

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		code int
		want router.Kind
	}{
		{"200 ok", 200, router.KindOK},
		{"201 ok", 201, router.KindOK},
		{"204 ok", 204, router.KindOK},
		{"299 ok", 299, router.KindOK},
		{"408 request timeout retryable", 408, router.KindRetryable},
		{"429 too many requests retryable", 429, router.KindRetryable},
		{"500 retryable", 500, router.KindRetryable},
		{"501 not implemented retryable", 501, router.KindRetryable},
		{"502 retryable", 502, router.KindRetryable},
		{"503 retryable", 503, router.KindRetryable},
		{"504 retryable", 504, router.KindRetryable},
		{"505 retryable", 505, router.KindRetryable},
		{"507 retryable", 507, router.KindRetryable},
		{"599 unknown 5xx retryable", 599, router.KindRetryable},
		{"400 permanent", 400, router.KindPermanent},
		{"401 permanent", 401, router.KindPermanent},
		{"403 permanent", 403, router.KindPermanent},
		{"404 permanent", 404, router.KindPermanent},
		{"409 permanent", 409, router.KindPermanent},
		{"413 permanent", 413, router.KindPermanent},
		{"418 unknown 4xx permanent", 418, router.KindPermanent},
		{"422 permanent", 422, router.KindPermanent},
		{"499 permanent", 499, router.KindPermanent},
		{"100 permanent", 100, router.KindPermanent},
		{"101 permanent", 101, router.KindPermanent},
		{"300 permanent", 300, router.KindPermanent},
		{"301 permanent", 301, router.KindPermanent},
		{"304 permanent", 304, router.KindPermanent},
		{"307 permanent", 307, router.KindPermanent},
		{"600 outside the range permanent", 600, router.KindPermanent},
		{"999 permanent", 999, router.KindPermanent},
		{"0 permanent", 0, router.KindPermanent},
		{"-1 permanent", -1, router.KindPermanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.code); got != tt.want {
				t.Errorf("Classify(%d) = %v, want %v", tt.code, got, tt.want)
			}
		})
	}
}

func TestRead(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		status    int
		header    string // Retry-After
		body      string
		wantNil   bool
		wantKind  router.Kind
		wantDelay time.Duration
		wantText  string
	}{
		{name: "204 is nil", status: 204, wantNil: true},
		{name: "200 with a body is nil", status: 200, body: strings.Repeat("x", 2*DrainLimit), wantNil: true},
		{name: "429 with seconds", status: 429, header: "7", body: "slow down", wantKind: router.KindRetryable, wantDelay: 7 * time.Second,
			wantText: `answered 429 Too Many Requests: "slow down"`},
		{name: "503 with an HTTP date", status: 503, header: now.Add(90 * time.Second).Format(http.TimeFormat), wantKind: router.KindRetryable,
			wantDelay: 90 * time.Second, wantText: "answered 503 Service Unavailable"},
		{name: "599 without Retry-After", status: 599, wantKind: router.KindRetryable, wantText: "answered 599"},
		{name: "418 permanent, Retry-After ignored", status: 418, header: "5", body: "teapot", wantKind: router.KindPermanent,
			wantText: `answered 418 I'm a teapot: "teapot"`},
		{name: "600 permanent", status: 600, wantKind: router.KindPermanent, wantText: "answered 600"},
		{name: "long body bounded", status: 400, body: strings.Repeat("y", 10*SnippetLen), wantKind: router.KindPermanent,
			wantText: `answered 400 Bad Request: "` + strings.Repeat("y", SnippetLen) + `…"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			se := Read(resp, now)
			if tt.wantNil {
				if se != nil {
					t.Fatalf("Read = %v, want nil", se)
				}
				return
			}
			if se == nil {
				t.Fatalf("Read = nil for %d", tt.status)
			}
			if se.Error() != tt.wantText {
				t.Errorf("Error() = %s, want %s", se.Error(), tt.wantText)
			}
			err = se.Classified(fmt.Errorf("sending batch to test: %w", se))
			kind, delay := router.Classify(err)
			if kind != tt.wantKind || delay != tt.wantDelay {
				t.Errorf("Classified = %v, classified %v %v, want %v %v", err, kind, delay, tt.wantKind, tt.wantDelay)
			}
			var got *StatusError
			if !errors.As(err, &got) || got.Code != tt.status {
				t.Errorf("Classified(%v) does not wrap the *StatusError", err)
			}
		})
	}
}

func TestClassifiedSuccessIsNil(t *testing.T) {
	// go-customerio reports a 201 as an error; the kit calls it success.
	se := &StatusError{Code: 201}
	if err := se.Classified(se); err != nil {
		t.Errorf("Classified for 201 = %v, want nil", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header string
		want   time.Duration
		ok     bool
	}{
		{"absent", "", 0, false},
		{"seconds", "3", 3 * time.Second, true},
		{"spaces", " 7 ", 7 * time.Second, true},
		{"negative", "-1", 0, false},
		{"capped", "999999999", MaxRetryAfter, true},
		{"http date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"date in the past", now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"far date capped", now.Add(48 * time.Hour).Format(http.TimeFormat), MaxRetryAfter, true},
		{"garbage", "soon", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := RetryAfter(tt.header, now)
			if got != tt.want || ok != tt.ok {
				t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tt.header, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestSnippet(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"empty", "", ""},
		{"blank", " \n ", ""},
		{"short", "bad request", `: "bad request"`},
		{"control characters", "a\nb\tc", `: "a b c"`},
		{"truncated", strings.Repeat("x", SnippetLen+10), `: "` + strings.Repeat("x", SnippetLen) + `…"`},
		{"cut rune dropped", strings.Repeat("x", SnippetLen-1) + "é", `: "` + strings.Repeat("x", SnippetLen-1) + `…"`},
		{"invalid utf-8", "a\xffb", `: "a` + "\uFFFD" + `b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Snippet(strings.NewReader(tt.body)); got != tt.want {
				t.Errorf("Snippet(%q) = %s, want %s", tt.body, got, tt.want)
			}
		})
	}
}

func TestStatusText(t *testing.T) {
	if got := StatusText(429); got != "429 Too Many Requests" {
		t.Errorf("StatusText(429) = %q", got)
	}
	if got := StatusText(599); got != "599" {
		t.Errorf("StatusText(599) = %q", got)
	}
}
