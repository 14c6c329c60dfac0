package config

import (
	"errors"
	"testing"
)

func TestParseMemoryLimit(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string // appended to minimal
		env     map[string]string
		want    MemoryLimit
		wantErr string // the problem reported for memory_limit
	}{
		{name: "left out is auto", yaml: "", want: MemoryLimitAuto},
		{name: "null is auto", yaml: "memory_limit:\n", want: MemoryLimitAuto},
		{name: "auto", yaml: "memory_limit: auto\n", want: MemoryLimitAuto},
		{name: "auto in capitals", yaml: "memory_limit: AUTO\n", want: MemoryLimitAuto},
		{name: "off", yaml: "memory_limit: off\n", want: MemoryLimitOff},
		{name: "zero is off", yaml: "memory_limit: 0\n", want: MemoryLimitOff},
		{name: "binary size", yaml: "memory_limit: 1GiB\n", want: 1 << 30},
		{name: "decimal size with a space", yaml: "memory_limit: 600 MB\n", want: 600e6},
		{name: "number of bytes", yaml: "memory_limit: 536870912\n", want: 512 << 20},
		{name: "exactly the minimum", yaml: "memory_limit: 32MiB\n", want: 32 << 20},
		{name: "from the environment", yaml: "memory_limit: ${MEM:-auto}\n", env: map[string]string{"MEM": "2GiB"}, want: 2 << 30},
		{name: "environment default", yaml: "memory_limit: ${MEM:-auto}\n", want: MemoryLimitAuto},
		{name: "below the minimum", yaml: "memory_limit: 16MiB\n", wantErr: "must be at least 32MiB (or off, or auto)"},
		{name: "negative", yaml: "memory_limit: -1\n", wantErr: "must be auto, off or a size"},
		{name: "a word", yaml: "memory_limit: lots\n", wantErr: "must be auto, off or a size"},
		{name: "a fraction", yaml: "memory_limit: 1.5GiB\n", wantErr: "must be auto, off or a size"},
		{name: "a list", yaml: "memory_limit: [1GiB]\n", wantErr: "must be auto, off or a size"},
		{name: "empty expansion", yaml: "memory_limit: ${MEM}\n", wantErr: "must be auto, off or a size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse([]byte(minimal+tt.yaml), builtinSources(t), env(tt.env))
			if tt.wantErr != "" {
				var cerr *Error
				if !errors.As(err, &cerr) || !cerr.Has("memory_limit", tt.wantErr) {
					t.Fatalf("error %v, want memory_limit: %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MemoryLimit != tt.want {
				t.Fatalf("memory_limit = %s (%d), want %s (%d)", cfg.MemoryLimit, int64(cfg.MemoryLimit), tt.want, int64(tt.want))
			}
		})
	}
}

func TestMemoryLimitString(t *testing.T) {
	tests := []struct {
		in   MemoryLimit
		want string
	}{
		{MemoryLimitAuto, "auto"},
		{MemoryLimitOff, "off"},
		{1 << 30, "1GiB"},
		{600e6, "600000000B"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("%d.String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		if tt.in == MemoryLimitAuto || tt.in == MemoryLimitOff || tt.in >= minMemoryLimit {
			if back, err := ParseMemoryLimit(tt.in.String()); err != nil || back != tt.in {
				t.Errorf("ParseMemoryLimit(%q) = %d, %v; want %d", tt.in.String(), int64(back), err, int64(tt.in))
			}
		}
	}
}
