package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// numbers turns json.Numbers into int when integral and in range, else
// float64 (json.Number beyond float64's range), as the webhook source does.
func numbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil && n >= math.MinInt && n <= math.MaxInt {
			return int(n)
		}
		if f, err := strconv.ParseFloat(string(v), 64); err == nil {
			return f
		}
		return v // out of float64's range: kept as written
	case map[string]any:
		for k, x := range v {
			v[k] = numbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = numbers(x)
		}
	}
	return v
}

// jsonValue turns an expression's result into a JSON value owned by the
// caller: objects and arrays are copied (so that setting one field to
// another's object does not tie them together), times become strings in
// router.TimeLayout, and what JSON cannot hold is an error.
func jsonValue(v any) (any, error) {
	switch v := v.(type) {
	case nil, string, bool, int, json.Number:
		return v, nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errors.New("the value is not a finite number")
		}
		return v, nil
	case int64:
		return int(v), nil
	case int32:
		return int(v), nil
	case float32:
		return jsonValue(float64(v))
	case time.Time:
		return router.FormatTime(v), nil
	case time.Duration:
		return v.String(), nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			c, err := jsonValue(x)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			c, err := jsonValue(x)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case []string:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = x
		}
		return out, nil
	}
	return nil, fmt.Errorf("a value of type %T cannot be written to a message", v)
}
