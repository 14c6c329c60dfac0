package config

import (
	"io"
	"log/slog"
)

// NewLogger returns the logger these settings describe, writing to w: JSON
// lines, or slog's text format when Format is "text", from Level up (info
// when Level is empty; the loader has refused any other value).
func (l Logging) NewLogger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(l.Level))
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
