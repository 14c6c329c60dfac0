package eventlog

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Start-up on a cluster: several processes may start at once, on a
// cluster that has just started itself (its JetStream meta leader not yet
// elected, its servers not all known to each other). Every creation of a
// stream, bucket or consumer is idempotent (create-or-update, with the same
// configuration from every process) and retried with a bounded backoff on
// anything that can pass: a timeout, no responders, "JetStream system
// temporarily unavailable", insufficient resources (peers not known yet),
// "already in use" (another process created it a moment ago with another
// configuration: the next attempt updates it). Each retry logs a WARN line
// naming the step, the attempt and the error; a configuration the cluster
// refuses for good (invalid, overlapping subjects, more replicas than a
// single server can hold) fails at once.

// Bounds of retry.
const (
	// setupRetryFor is how long a step is retried before Open (or Reader)
	// gives up.
	setupRetryFor = 2 * time.Minute
	// setupAttemptTimeout bounds one attempt: the first gets 2s, each
	// next one twice as long up to this. JetStream answers a stream
	// creation once the stream's replicas have elected a leader, which
	// takes a few seconds on a fresh cluster; and two processes creating
	// the same stream at the same moment may both get no answer at all
	// (seen with nats-server 2.15.2: the second proposal replaces the
	// first's reply), although the stream is created: the next attempt
	// then finds it and updates it, which is answered at once.
	setupAttemptTimeout = 15 * time.Second
)

// retry runs op until it succeeds, fails for good, ctx ends or
// setupRetryFor has passed, waiting 250ms doubled per attempt up to 5s
// (half of it jittered) in between, and logs every failed attempt that is
// retried.
func (l *Log) retry(ctx context.Context, what string, op func(context.Context) error) error {
	deadline := time.Now().Add(setupRetryFor)
	wait, timeout := 250*time.Millisecond, 2*time.Second
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, timeout)
		timeout = min(timeout*2, setupAttemptTimeout)
		err := op(actx)
		cancel()
		if err == nil {
			if attempt > 1 {
				l.log.Info("log set-up step done after retries", "step", what, "attempts", attempt)
			}
			return nil
		}
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("%s: %w", what, err)
		case permanentSetupError(err):
			return fmt.Errorf("%s: %w", what, err)
		case time.Now().Add(wait).After(deadline):
			return fmt.Errorf("%s: still failing after %d attempts in %s: %w", what, attempt, setupRetryFor, err)
		}
		// Jittered, so that processes that collided do not collide again.
		pause := wait/2 + rand.N(wait/2+1)
		l.log.Warn("log set-up step failed; retrying", "step", what, "attempt", attempt, "retry_in", pause.String(), "err", err)
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w", what, err)
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// permanentSetupError reports whether err is JetStream refusing a
// configuration for good, which no retry changes.
func permanentSetupError(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case 10052, // stream configuration invalid
		10065, // subjects overlap with an existing stream
		10074, // replicas > 1 not supported in non-clustered mode
		10039, // jetstream not enabled for account
		10076: // jetstream not enabled
		return true
	}
	return false
}

// minServer is the oldest nats-server eventrouter works with: 2.14 brought
// the consumer reset (ADR-60) that readers need to keep per-user order
// through connection losses and takeovers (see reader).
var minServer = [3]int{2, 14, 0}

var versionRE = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)`)

// checkServerVersion fails when the connected server is older than
// minServer.
func checkServerVersion(nc *nats.Conn) error {
	v := nc.ConnectedServerVersion()
	old, err := olderThanMin(v)
	if err != nil {
		return err
	}
	if old {
		return fmt.Errorf("nats-server %s at %s is older than %d.%d.%d, which eventrouter needs (its consumer reset keeps per-user order through connection losses and takeovers)",
			v, nc.ConnectedUrlRedacted(), minServer[0], minServer[1], minServer[2])
	}
	return nil
}

// olderThanMin reports whether the server version v is older than
// minServer.
func olderThanMin(v string) (bool, error) {
	m := versionRE.FindStringSubmatch(v)
	if m == nil {
		return false, fmt.Errorf("reading the nats-server version %q", v)
	}
	for i := range minServer {
		n, _ := strconv.Atoi(m[i+1])
		if n != minServer[i] {
			return n < minServer[i], nil
		}
	}
	return false, nil
}
