package memlimit

import (
	"log/slog"
	"os"
)

// Setup decides the limit from configured (0 for none, [Off] for off),
// the process's GOMEMLIMIT and the cgroup under / (less outsideHeap, see
// Input.OutsideHeap), applies it, and logs it at INFO with where it came
// from. A cgroup file that cannot be read is
// logged at WARN and ignored. It returns the limit applied.
func Setup(configured, outsideHeap int64, logger *slog.Logger) Limit {
	l, err := Decide(Input{Configured: configured, GOMEMLIMIT: os.Getenv("GOMEMLIMIT"), FS: os.DirFS("/"), OutsideHeap: outsideHeap})
	if err != nil {
		logger.Warn("ignoring the cgroup's memory limit", "error", err.Error())
	}
	l = Apply(l)
	logger.Info("memory limit set", "limit", l.String(), "bytes", l.Bytes, "source", string(l.Source), "detail", l.Detail)
	return l
}
