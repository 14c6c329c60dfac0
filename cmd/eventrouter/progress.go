package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progressBar shows a long operation's progress: on a terminal a bar that
// redraws in place, with the percentage and an ETA; otherwise a plain line
// at most every two seconds (and a last one at the end). Any admin command
// with NDJSON progress uses it.
type progressBar struct {
	w       io.Writer
	label   string
	tty     bool
	start   time.Time
	last    time.Time
	drawn   bool
	every   time.Duration
	lastLen int
}

// newProgressBar returns a bar writing to w (a terminal is detected when w
// is an *os.File on a character device).
func newProgressBar(w io.Writer, label string) *progressBar {
	return &progressBar{w: w, label: label, tty: isTerminal(w), start: time.Now(), every: 2 * time.Second}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// eta estimates the time left from the rate so far.
func eta(elapsed time.Duration, done, total uint64) string {
	if done == 0 || total <= done {
		if total > 0 && total <= done {
			return "0s"
		}
		return "?"
	}
	left := time.Duration(float64(elapsed) / float64(done) * float64(total-done))
	return left.Round(time.Second).String()
}

// Update shows done of total, with matched.
func (p *progressBar) Update(done, total, matched uint64) {
	now := time.Now()
	if p.tty {
		if now.Sub(p.last) < 100*time.Millisecond && done < total {
			return
		}
		p.last = now
		const width = 30
		frac := 0.0
		if total > 0 {
			frac = min(float64(done)/float64(total), 1)
		}
		n := int(frac * width)
		line := fmt.Sprintf("\r%s [%s%s] %3.0f%% %d/%d, %d matched, ETA %s", p.label,
			strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100, done, total, matched, eta(now.Sub(p.start), done, total))
		pad := max(p.lastLen-len(line), 0)
		p.lastLen = len(line)
		fmt.Fprint(p.w, line+strings.Repeat(" ", pad))
		p.drawn = true
		return
	}
	if !p.last.IsZero() && now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	pct := 0.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	fmt.Fprintf(p.w, "%s: %d/%d (%.0f%%), %d matched, ETA %s\n", p.label, done, total, pct, matched, eta(now.Sub(p.start), done, total))
}

// Finish ends the bar's line with the final counts.
func (p *progressBar) Finish(done, total, matched uint64) {
	if p.tty {
		p.last = time.Time{}
		p.Update(done, total, matched)
		fmt.Fprintln(p.w)
		return
	}
	fmt.Fprintf(p.w, "%s: %d/%d, %d matched, done in %s\n", p.label, done, total, matched, time.Since(p.start).Round(time.Millisecond))
}
