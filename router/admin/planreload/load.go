package planreload

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/eventrouter/eventrouter/schemas"
)

// LoadAtStart loads the tracking plan at path (tracking_plan.path) as the
// server starts, or returns nil when path is empty (no plan). A plan that
// does not load is an error listing every problem, one per line: the
// server does not start without the plan it was given.
func LoadAtStart(path string) (*schemas.Plan, error) {
	if path == "" {
		return nil, nil
	}
	p, err := schemas.Load(path)
	if err != nil {
		var le *schemas.LoadError
		if errors.As(err, &le) {
			var b strings.Builder
			fmt.Fprintf(&b, "tracking_plan.path: the plan in %s does not load (%d problem(s)):", path, len(le.Problems))
			for _, f := range le.Problems {
				b.WriteString("\n  " + f.String())
			}
			return nil, errors.New(b.String())
		}
		return nil, fmt.Errorf("tracking_plan.path: %w", err)
	}
	return p, nil
}

// Check is `eventrouter check`'s look at the tracking plan at path: a plan
// directory that exists (relative to the working directory, as the server
// reads it) must load ([LoadAtStart]'s error if not); one that does not
// exist from here is only mentioned, on w, since check may run elsewhere
// than the server.
func Check(path string, w io.Writer) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); err != nil {
		fmt.Fprintf(w, "note: tracking_plan.path %s is not found from the working directory; not checked (serve refuses to start without it)\n", path)
		return nil
	}
	_, err := LoadAtStart(path)
	return err
}
