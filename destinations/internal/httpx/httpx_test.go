package httpx

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

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
