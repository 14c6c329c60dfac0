package transform

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// Suppressor is a destination's compiled suppress block. It is immutable
// and safe for concurrent use.
type Suppressor struct {
	key    *program
	window time.Duration
}

// CompileSuppress checks s and compiles its key, reporting every problem
// with its key path relative to the destination block ("suppress.key:
// ..."). It returns nil and no error for a nil s.
func CompileSuppress(s *Suppress) (*Suppressor, error) {
	if s == nil {
		return nil, nil
	}
	var errs []error
	sp := &Suppressor{window: s.Window}
	if strings.TrimSpace(s.Key) == "" {
		errs = append(errs, errors.New("suppress.key: required"))
	} else if p, err := compileExpr(s.Key, false); err != nil {
		errs = append(errs, fmt.Errorf("suppress.key: %w", err))
	} else {
		sp.key = p
	}
	switch {
	case s.Window == 0:
		errs = append(errs, errors.New("suppress.window: required: how long a delivered key suppresses others, such as 24h"))
	case s.Window < time.Second || s.Window > MaxWindow:
		errs = append(errs, fmt.Errorf("suppress.window: must be between 1s and %s", MaxWindow))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return sp, nil
}

// Window is how long a delivered key suppresses others.
func (s *Suppressor) Window() time.Duration { return s.window }

// Key evaluates the key of m (the message as it would be delivered): ok is
// false when the key is null or empty, and then m is not suppressed. A
// key that is not a string or a number is an error.
func (s *Suppressor) Key(m *router.Message) (key string, ok bool, err error) {
	a := arenas.Get().(*arena)
	defer a.release()
	doc, err := newObject(m.Body, a)
	if err != nil {
		return "", false, fmt.Errorf("suppress.key: decoding message: %w", err)
	}
	e := &a.env
	e.Source = m.Source
	v, err := s.key.run(doc, e)
	if err != nil {
		return "", false, fmt.Errorf("suppress.key: %w", err)
	}
	if v == nil {
		return "", false, nil
	}
	k, isID := idOf(v).(string)
	if !isID {
		if str, isStr := v.(string); isStr && strings.TrimSpace(str) == "" {
			return "", false, nil
		}
		return "", false, fmt.Errorf("suppress.key: the key is %s, not a string or a number", kindOf(v))
	}
	return k, true, nil
}
