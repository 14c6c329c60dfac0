package router

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ByteSize is a number of bytes, written in a config file as a plain integer
// ("1048576") or an integer with a unit ("512MiB", "10GiB", "100 MB"). Units
// are case-insensitive: B, KB, MB, GB, TB are powers of 1000 and KiB, MiB,
// GiB, TiB powers of 1024.
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	// Longest suffixes first, so that "kib" is not read as "b".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"b", 1},
}

// ParseByteSize parses a size as written in a config file.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			mult = u.mult
			break
		}
	}
	if t == "" || strings.HasPrefix(t, "+") || strings.HasPrefix(t, "-") {
		return 0, errors.New("must be a size such as 512MiB, 10GiB or a number of bytes")
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return 0, errors.New("must be a size such as 512MiB, 10GiB or a number of bytes")
	}
	if n > math.MaxInt64/mult {
		return 0, errors.New("size is too large")
	}
	return ByteSize(n * mult), nil
}

// String formats the size with the largest binary unit that divides it
// exactly ("16KiB", "10GiB", "1000B").
func (b ByteSize) String() string {
	units := []struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}
	for _, u := range units {
		if b != 0 && int64(b)%u.mult == 0 {
			return fmt.Sprintf("%d%s", int64(b)/u.mult, u.name)
		}
	}
	return fmt.Sprintf("%dB", int64(b))
}
