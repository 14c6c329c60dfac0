// Package progress draws the progress of a long operation on a terminal
// or in a log: a bar that redraws in place with the percentage and an ETA
// when the output is a terminal, a plain line at most every two seconds
// otherwise. The admin commands of cmd/eventrouter (dlq redrive, replay,
// quarantine replay) show the admin API's NDJSON progress lines with it.
// It is internal because it is a presentation detail of the command line,
// with no project imports.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Bar shows a long operation's progress: on a terminal a bar that
// redraws in place, with the percentage and an ETA; otherwise a plain line
// at most every two seconds (and a last one at the end). It is not safe
// for concurrent use.
type Bar struct {
	w       io.Writer
	label   string
	tty     bool
	start   time.Time
	last    time.Time
	drawn   bool
	every   time.Duration
	lastLen int
}

// New returns a bar labelled label writing to w (a terminal is detected
// when w is an *os.File on a character device).
func New(w io.Writer, label string) *Bar {
	return &Bar{w: w, label: label, tty: isTerminal(w), start: time.Now(), every: 2 * time.Second}
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
func (p *Bar) Update(done, total, matched uint64) {
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
func (p *Bar) Finish(done, total, matched uint64) {
	if p.tty {
		p.last = time.Time{}
		p.Update(done, total, matched)
		fmt.Fprintln(p.w)
		return
	}
	fmt.Fprintf(p.w, "%s: %d/%d, %d matched, done in %s\n", p.label, done, total, matched, time.Since(p.start).Round(time.Millisecond))
}
