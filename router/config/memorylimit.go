package config

import (
	"errors"
	"math"
	"reflect"
	"strings"
)

// MemoryLimit is the value of the top-level memory_limit key: the Go
// runtime's soft memory limit (GOMEMLIMIT semantics). It is written "auto"
// (the default, also when the key is left out), "off" (or 0) for no limit,
// or a size such as 1GiB, at least 32MiB. The zero MemoryLimit is
// [MemoryLimitAuto]; any other value is the number of bytes, with
// [MemoryLimitOff] (math.MaxInt64, the runtime's "no limit") for off.
type MemoryLimit int64

const (
	// MemoryLimitAuto leaves the choice to the command: GOMEMLIMIT when it
	// is set, else 90% of the cgroup's memory limit when the process runs
	// in a cgroup with one (less the dedupe index's cache, outside the Go
	// heap), else 180MiB.
	MemoryLimitAuto MemoryLimit = 0
	// MemoryLimitOff sets no soft limit.
	MemoryLimitOff MemoryLimit = math.MaxInt64
)

// minMemoryLimit is the smallest memory_limit accepted: below it the
// garbage collector would run all the time.
const minMemoryLimit = 32 << 20

var memoryLimitType = reflect.TypeFor[MemoryLimit]()

// ParseMemoryLimit parses a memory_limit value as written in the config:
// "auto", "off", 0 (off) or a size of at least 32MiB.
func ParseMemoryLimit(s string) (MemoryLimit, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "auto":
		return MemoryLimitAuto, nil
	case "off":
		return MemoryLimitOff, nil
	}
	b, err := ParseByteSize(s)
	if err != nil {
		return 0, errors.New("must be auto, off or a size such as 512MiB or 2GiB")
	}
	if b == 0 {
		return MemoryLimitOff, nil
	}
	if b < minMemoryLimit {
		return 0, errors.New("must be at least 32MiB (or off, or auto)")
	}
	return MemoryLimit(b), nil
}

// String formats the limit as the config writes it: "auto", "off" or a
// size.
func (m MemoryLimit) String() string {
	switch m {
	case MemoryLimitAuto:
		return "auto"
	case MemoryLimitOff:
		return "off"
	}
	return ByteSize(m).String()
}
