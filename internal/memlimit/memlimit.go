package memlimit

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
)

// Off is the limit that means "no limit": math.MaxInt64, which is how the
// runtime reports GOMEMLIMIT=off.
const Off int64 = math.MaxInt64

// Default is the limit used without a configured limit, GOMEMLIMIT or a
// cgroup limit: 180 MiB. On a machine without limits it keeps the heap from
// growing to twice its live size (GOGC=100) unchecked, without capping
// anything: it is a soft limit, so a process that needs more gets it, with
// the garbage collector working harder. Measured at full batch ingest on
// the shipped defaults for a minute (not only the first 20 seconds: the
// dedupe index's cache outside the heap fills in about 40), it keeps the
// whole process (the heap, the dedupe index's cache, the binary's mapped
// pages, the rest) at 287 MB with 8 partitions, where 190 MiB reached
// 300 MB (280 MB with 16 partitions, whose smaller records ingest a third
// slower), 200 MiB 293–297 MB with 16 partitions and a 32 MiB index and
// 318–327 MB with a 64 MiB one, and 512 MiB reached
// 540–610 MB: the embedded NATS server's block buffers and the
// debugger's recorder are freed only by a collection, and with twice the
// live heap as the target collections came too seldom. The cost was
// 0–12 % of throughput at full ingest, none at a steady load (see
// docs/performance.md).
const Default int64 = 180 << 20

// minCgroupShareDivisor: the smallest share of CgroupPercent of a cgroup's
// limit left to the heap when memory outside it (Input.OutsideHeap) would
// take more: half.
const minCgroupShareDivisor = 2

// CgroupPercent is the share of the cgroup's memory limit, in percent, used
// as the soft limit: the rest is left for memory the Go runtime does not count
// (cgo allocations, the kernel's page cache charged to the cgroup) so that
// the garbage collector works harder before the kernel's OOM killer steps
// in.
const CgroupPercent = 90

// Source says where a [Limit] comes from.
type Source string

// The sources of a limit, in order of precedence.
const (
	// SourceConfig is the config's memory_limit key.
	SourceConfig Source = "config"
	// SourceEnv is the GOMEMLIMIT environment variable.
	SourceEnv Source = "GOMEMLIMIT"
	// SourceCgroup is the memory limit of the process's cgroup.
	SourceCgroup Source = "cgroup"
	// SourceDefault is [Default].
	SourceDefault Source = "default"
)

// Input is what [Decide] chooses from.
type Input struct {
	// Configured is the configured limit in bytes: 0 when none is
	// configured, [Off] to turn the limit off.
	Configured int64
	// GOMEMLIMIT is the value of the environment variable, empty when it
	// is unset or empty (the runtime then ignores it too).
	GOMEMLIMIT string
	// FS is the file system in which the cgroup files are read, rooted at
	// "/" (os.DirFS("/") in production); nil skips the cgroup.
	FS fs.FS
	// OutsideHeap is memory the process is configured to use outside the
	// Go heap (the dedupe index's cache, allocated by cgo), taken off a
	// cgroup-derived limit so that heap and cache together stay within
	// the cgroup.
	OutsideHeap int64
}

// Limit is a chosen soft memory limit.
type Limit struct {
	// Bytes is the limit in bytes, [Off] for none. When Source is
	// [SourceEnv], [Decide] leaves it 0 (the runtime holds the value) and
	// [Apply] fills it in.
	Bytes int64
	// Source says where the limit comes from.
	Source Source
	// Detail explains the choice in words, for the log.
	Detail string
}

// String formats the limit for people: "off", "512MiB", "921.6MiB".
func (l Limit) String() string { return Format(l.Bytes) }

// Decide chooses the soft memory limit from in (see the package
// documentation for the order). It always returns a usable Limit; a
// non-nil error reports a cgroup file that could not be read or parsed, in
// which case the cgroup is ignored and the limit is [Default].
func Decide(in Input) (Limit, error) {
	switch {
	case in.Configured < 0:
		return Limit{}, fmt.Errorf("choosing memory limit: negative configured limit %d", in.Configured)
	case in.Configured > 0:
		l := Limit{Bytes: in.Configured, Source: SourceConfig, Detail: "memory_limit in the config"}
		if in.GOMEMLIMIT != "" {
			l.Detail += " (overrides GOMEMLIMIT=" + in.GOMEMLIMIT + ")"
		}
		return l, nil
	case in.GOMEMLIMIT != "":
		return Limit{Source: SourceEnv, Detail: "GOMEMLIMIT=" + in.GOMEMLIMIT + " in the environment"}, nil
	}
	def := Limit{Bytes: Default, Source: SourceDefault, Detail: "no memory_limit, GOMEMLIMIT or cgroup limit"}
	if in.FS == nil {
		return def, nil
	}
	c, err := CgroupLimit(in.FS)
	if err != nil {
		return def, err
	}
	if c.Bytes == 0 {
		return def, nil
	}
	l := Limit{
		Bytes:  percent(c.Bytes),
		Source: SourceCgroup,
		Detail: fmt.Sprintf("%d%% of the cgroup limit %s in /%s", CgroupPercent, Format(c.Bytes), c.File),
	}
	if in.OutsideHeap > 0 {
		l.Bytes = max(l.Bytes-in.OutsideHeap, l.Bytes/minCgroupShareDivisor)
		l.Detail += fmt.Sprintf(", less %s used outside the Go heap", Format(in.OutsideHeap))
	}
	return l, nil
}

// percent returns CgroupPercent percent of n, rounded down, without
// overflowing.
func percent(n int64) int64 {
	return n/100*CgroupPercent + n%100*CgroupPercent/100
}

// Apply sets the runtime's soft memory limit to l.Bytes with
// debug.SetMemoryLimit, except when l.Source is [SourceEnv]: the runtime
// already holds GOMEMLIMIT's value, which Apply leaves alone. It returns l
// with Bytes set to the limit now in force.
func Apply(l Limit) Limit {
	if l.Source == SourceEnv {
		l.Bytes = debug.SetMemoryLimit(-1)
		return l
	}
	debug.SetMemoryLimit(l.Bytes)
	return l
}

// Current returns the runtime's soft memory limit, [Off] when there is
// none.
func Current() int64 { return debug.SetMemoryLimit(-1) }

// Cgroup is the memory limit of a cgroup.
type Cgroup struct {
	// Bytes is the limit, 0 when there is none.
	Bytes int64
	// File is the file it was read from, relative to the root of the file
	// system given to [CgroupLimit] ("sys/fs/cgroup/memory.max").
	File string
}

// v1Unlimited is the smallest cgroup v1 memory.limit_in_bytes taken for "no
// limit": the kernel reports none as the largest page-aligned int64
// (9223372036854771712 with 4 KiB pages), so anything from 4 EiB up is
// none.
const v1Unlimited = 1 << 62

// CgroupLimit returns the memory limit that applies to the process's
// cgroup, reading fsys rooted at "/": the smallest limit of the cgroup and
// its ancestors, in cgroup v2 (sys/fs/cgroup/<path>/memory.max, a number
// of bytes or "max") and in cgroup v1
// (sys/fs/cgroup/memory/<path>/memory.limit_in_bytes, where a huge value
// means none). The cgroup's <path> comes from proc/self/cgroup; without
// that file (or in a container, where it is "/") only the files at the
// root of the hierarchies are read. Missing files are no limit; an
// unreadable or malformed one is an error.
func CgroupLimit(fsys fs.FS) (Cgroup, error) {
	v2, v1, err := cgroupPaths(fsys)
	if err != nil {
		return Cgroup{}, err
	}
	var best Cgroup
	try := func(root, dir, name string, none func(string) bool) error {
		for {
			file := path.Join(root, dir, name)
			n, err := readLimit(fsys, file, none)
			if err != nil {
				return err
			}
			if n > 0 && (best.Bytes == 0 || n < best.Bytes) {
				best = Cgroup{Bytes: n, File: file}
			}
			if dir == "/" {
				return nil
			}
			dir = path.Dir(dir)
		}
	}
	if err := try("sys/fs/cgroup", v2, "memory.max", func(s string) bool { return s == "max" }); err != nil {
		return Cgroup{}, err
	}
	if err := try("sys/fs/cgroup/memory", v1, "memory.limit_in_bytes", func(string) bool { return false }); err != nil {
		return Cgroup{}, err
	}
	return best, nil
}

// cgroupPaths returns the process's cgroup paths in the v2 hierarchy and in
// v1's memory hierarchy, each "/" when proc/self/cgroup does not say (or
// says something that cannot be a path under the mount point).
func cgroupPaths(fsys fs.FS) (v2, v1 string, err error) {
	v2, v1 = "/", "/"
	data, err := fs.ReadFile(fsys, "proc/self/cgroup")
	if errors.Is(err, fs.ErrNotExist) {
		return v2, v1, nil
	}
	if err != nil {
		return "", "", fmt.Errorf("reading cgroup memory limit: %w", err)
	}
	clean := func(p string) string {
		if !strings.HasPrefix(p, "/") || slices.Contains(strings.Split(p, "/"), "..") {
			// Outside the cgroup namespace's root ("/../.."): only the
			// files at the root of the mount can be read.
			return "/"
		}
		return path.Clean(p)
	}
	for line := range strings.Lines(string(data)) {
		// hierarchy-ID:controller-list:cgroup-path
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2 = clean(parts[2])
		case containsWord(parts[1], "memory"):
			v1 = clean(parts[2])
		}
	}
	return v2, v1, nil
}

// containsWord reports whether the comma-separated list holds word.
func containsWord(list, word string) bool {
	for w := range strings.SplitSeq(list, ",") {
		if w == word {
			return true
		}
	}
	return false
}

// readLimit reads a limit file: 0 when it does not exist or says there is
// no limit (none reports the words that mean none).
func readLimit(fsys fs.FS, file string, none func(string) bool) (int64, error) {
	data, err := fs.ReadFile(fsys, file)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading cgroup memory limit: %w", err)
	}
	s := strings.TrimSpace(string(data))
	if none(s) {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading cgroup memory limit: /%s holds %q, not a number of bytes", file, s)
	}
	if n <= 0 || n >= v1Unlimited {
		return 0, nil
	}
	return n, nil
}

// Format formats a number of bytes for people, with the largest binary
// unit it reaches and at most one decimal ("512MiB", "921.6MiB", "100B");
// [Off] is "off".
func Format(n int64) string {
	if n == Off {
		return "off"
	}
	units := []struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}
	for _, u := range units {
		if n >= u.mult {
			s := strconv.FormatFloat(float64(n)/float64(u.mult), 'f', 1, 64)
			return strings.TrimSuffix(s, ".0") + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
