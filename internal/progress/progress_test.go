package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestETA(t *testing.T) {
	tests := []struct {
		name        string
		elapsed     time.Duration
		done, total uint64
		want        string
	}{
		{"nothing done yet", time.Second, 0, 10, "?"},
		{"no total", time.Second, 0, 0, "?"},
		{"half way", 10 * time.Second, 5, 10, "10s"},
		{"done", 10 * time.Second, 10, 10, "0s"},
		{"more than the total", 10 * time.Second, 12, 10, "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := eta(tt.elapsed, tt.done, tt.total); got != tt.want {
				t.Errorf("eta(%v, %d, %d) = %q, want %q", tt.elapsed, tt.done, tt.total, got, tt.want)
			}
		})
	}
}

// TestPlainLines checks the output to a non-terminal: the first update is
// printed, the next ones only every two seconds, and Finish prints the
// final counts.
func TestPlainLines(t *testing.T) {
	var out bytes.Buffer
	b := New(&out, "replay")
	if b.tty {
		t.Fatal("a bytes.Buffer taken for a terminal")
	}
	b.Update(1, 4, 1)
	b.Update(2, 4, 2) // within two seconds: not printed
	b.Finish(4, 4, 3)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "replay: 1/4 (25%), 1 matched, ETA ") ||
		!strings.HasPrefix(lines[1], "replay: 4/4, 3 matched, done in ") {
		t.Errorf("output:\n%s", out.String())
	}
}

// TestBarRedraws checks the terminal form: each update redraws the line
// in place (a carriage return, the bar, padding over a longer earlier
// line) and Finish ends it with a line break.
func TestBarRedraws(t *testing.T) {
	var out bytes.Buffer
	b := New(&out, "redrive")
	b.tty = true // as if out were a terminal
	b.Update(0, 1000, 0)
	b.Finish(1000, 1000, 10)
	s := out.String()
	if !strings.HasPrefix(s, "\rredrive [..............................]   0% 0/1000, 0 matched, ETA ?") {
		t.Errorf("first draw: %q", s)
	}
	if !strings.Contains(s, "\rredrive [##############################] 100% 1000/1000, 10 matched, ETA 0s") || !strings.HasSuffix(s, "\n") {
		t.Errorf("final draw: %q", s)
	}
}
