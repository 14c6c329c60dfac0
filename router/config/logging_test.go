package config

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestLoggingNewLogger(t *testing.T) {
	tests := []struct {
		name     string
		l        Logging
		wantJSON bool
		debug    bool // whether a debug line is written
		info     bool // whether an info line is written
	}{
		{"defaults: json from info", Logging{Level: "info", Format: "json"}, true, false, true},
		{"empty: json from info", Logging{}, true, false, true},
		{"text from debug", Logging{Level: "debug", Format: "text"}, false, true, true},
		{"warn drops info", Logging{Level: "warn", Format: "json"}, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			lg := tt.l.NewLogger(&out)
			lg.Debug("a debug line")
			lg.Info("an info line", "k", "v")
			got := out.String()
			if strings.Contains(got, "a debug line") != tt.debug || strings.Contains(got, "an info line") != tt.info {
				t.Fatalf("output:\n%s", got)
			}
			if !tt.info {
				return
			}
			last := strings.TrimSpace(got[strings.LastIndex(strings.TrimSuffix(got, "\n"), "\n")+1:])
			var m map[string]any
			isJSON := json.Unmarshal([]byte(last), &m) == nil
			if isJSON != tt.wantJSON || (!isJSON && !strings.Contains(last, `msg="an info line" k=v`)) {
				t.Errorf("format of %q: JSON %v, want %v", last, isJSON, tt.wantJSON)
			}
		})
	}
}
