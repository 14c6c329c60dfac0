package memlimit

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"testing/fstest"
)

// files builds a fake root file system from path → content.
func files(m map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for p, c := range m {
		fsys[p] = &fstest.MapFile{Data: []byte(c)}
	}
	return fsys
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name       string
		in         Input
		want       Limit
		wantDetail string // a substring of Detail
		wantErr    string // a substring of the error
	}{
		{
			name: "config wins over everything",
			in:   Input{Configured: 300 << 20, FS: files(map[string]string{"sys/fs/cgroup/memory.max": "1073741824\n"})},
			want: Limit{Bytes: 300 << 20, Source: SourceConfig}, wantDetail: "memory_limit in the config",
		},
		{
			name: "config overrides GOMEMLIMIT",
			in:   Input{Configured: 300 << 20, GOMEMLIMIT: "1GiB"},
			want: Limit{Bytes: 300 << 20, Source: SourceConfig}, wantDetail: "overrides GOMEMLIMIT=1GiB",
		},
		{
			name: "config off",
			in:   Input{Configured: Off, FS: files(map[string]string{"sys/fs/cgroup/memory.max": "1073741824\n"})},
			want: Limit{Bytes: Off, Source: SourceConfig},
		},
		{
			name: "GOMEMLIMIT is left to the runtime",
			in:   Input{GOMEMLIMIT: "700MiB", FS: files(map[string]string{"sys/fs/cgroup/memory.max": "1073741824\n"})},
			want: Limit{Source: SourceEnv}, wantDetail: "GOMEMLIMIT=700MiB",
		},
		{
			name: "GOMEMLIMIT=off is a choice too",
			in:   Input{GOMEMLIMIT: "off"},
			want: Limit{Source: SourceEnv},
		},
		{
			name: "cgroup v2 limit",
			in:   Input{FS: files(map[string]string{"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "1073741824\n"})},
			want: Limit{Bytes: 966367641, Source: SourceCgroup}, wantDetail: "90% of the cgroup limit 1GiB in /sys/fs/cgroup/memory.max",
		},
		{
			name: "cgroup v2 limit less the memory outside the heap",
			in:   Input{OutsideHeap: 48 << 20, FS: files(map[string]string{"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "1073741824\n"})},
			want: Limit{Bytes: 966367641 - 48<<20, Source: SourceCgroup}, wantDetail: "90% of the cgroup limit 1GiB in /sys/fs/cgroup/memory.max, less 48MiB used outside the Go heap",
		},
		{
			name: "memory outside the heap leaves the heap at least half",
			in:   Input{OutsideHeap: 900 << 20, FS: files(map[string]string{"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "1073741824\n"})},
			want: Limit{Bytes: 966367641 / 2, Source: SourceCgroup},
		},
		{
			name: "no cgroup: the default, whatever is outside the heap",
			in:   Input{OutsideHeap: 48 << 20, FS: files(map[string]string{"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "max\n"})},
			want: Limit{Bytes: Default, Source: SourceDefault},
		},
		{
			name: "cgroup v2 without proc/self/cgroup",
			in:   Input{FS: files(map[string]string{"sys/fs/cgroup/memory.max": "2147483648"})},
			want: Limit{Bytes: 1932735283, Source: SourceCgroup},
		},
		{
			name: "cgroup v2 max is no limit",
			in:   Input{FS: files(map[string]string{"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "max\n"})},
			want: Limit{Bytes: Default, Source: SourceDefault},
		},
		{
			name: "cgroup v2 systemd service: its own limit",
			in: Input{FS: files(map[string]string{
				"proc/self/cgroup":                                          "0::/system.slice/eventrouter.service\n",
				"sys/fs/cgroup/system.slice/memory.max":                     "max\n",
				"sys/fs/cgroup/system.slice/eventrouter.service/memory.max": "1073741824\n",
			})},
			want: Limit{Bytes: 966367641, Source: SourceCgroup}, wantDetail: "/sys/fs/cgroup/system.slice/eventrouter.service/memory.max",
		},
		{
			name: "cgroup v2 a parent's smaller limit applies",
			in: Input{FS: files(map[string]string{
				"proc/self/cgroup":                                       "0::/app.slice/eventrouter.service\n",
				"sys/fs/cgroup/app.slice/memory.max":                     "536870912\n",
				"sys/fs/cgroup/app.slice/eventrouter.service/memory.max": "max\n",
			})},
			want: Limit{Bytes: 483183820, Source: SourceCgroup}, wantDetail: "512MiB in /sys/fs/cgroup/app.slice/memory.max",
		},
		{
			name: "cgroup v2 path outside the namespace reads the root only",
			in: Input{FS: files(map[string]string{
				"proc/self/cgroup":         "0::/../../other\n",
				"sys/fs/cgroup/memory.max": "1073741824\n",
			})},
			want: Limit{Bytes: 966367641, Source: SourceCgroup},
		},
		{
			name: "cgroup v1 limit",
			in: Input{FS: files(map[string]string{
				"proc/self/cgroup":                           "12:pids:/docker/abc\n4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824\n",
			})},
			want: Limit{Bytes: 966367641, Source: SourceCgroup}, wantDetail: "/sys/fs/cgroup/memory/memory.limit_in_bytes",
		},
		{
			name: "cgroup v1 huge value is no limit",
			in: Input{FS: files(map[string]string{
				"proc/self/cgroup":                           "3:memory:/\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
			})},
			want: Limit{Bytes: Default, Source: SourceDefault},
		},
		{
			name: "hybrid: v1 memory limit with a v2 hierarchy",
			in: Input{FS: files(map[string]string{
				"proc/self/cgroup": "3:memory:/user.slice\n0::/user.slice\n",
				"sys/fs/cgroup/memory/user.slice/memory.limit_in_bytes": "4294967296\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes":            "9223372036854771712\n",
			})},
			want: Limit{Bytes: 3865470566, Source: SourceCgroup},
		},
		{
			name: "no cgroup files",
			in:   Input{FS: files(map[string]string{"proc/self/cgroup": "0::/\n"})},
			want: Limit{Bytes: Default, Source: SourceDefault}, wantDetail: "no memory_limit, GOMEMLIMIT or cgroup limit",
		},
		{
			name: "no file system",
			in:   Input{},
			want: Limit{Bytes: Default, Source: SourceDefault},
		},
		{
			name:    "malformed memory.max falls back to the default",
			in:      Input{FS: files(map[string]string{"sys/fs/cgroup/memory.max": "lots\n"})},
			want:    Limit{Bytes: Default, Source: SourceDefault},
			wantErr: `reading cgroup memory limit: /sys/fs/cgroup/memory.max holds "lots"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decide(tt.in)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("error %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if got.Bytes != tt.want.Bytes || got.Source != tt.want.Source {
				t.Fatalf("got %d from %s (%s), want %d from %s", got.Bytes, got.Source, got.Detail, tt.want.Bytes, tt.want.Source)
			}
			if !strings.Contains(got.Detail, tt.wantDetail) {
				t.Fatalf("detail %q lacks %q", got.Detail, tt.wantDetail)
			}
		})
	}
}

// TestCgroupLimitOnDisk reads fake cgroup files through os.DirFS, as the
// command does with the real root.
func TestCgroupLimitOnDisk(t *testing.T) {
	root := t.TempDir()
	for p, c := range map[string]string{
		"proc/self/cgroup":                       "0::/kubepods/pod1\n",
		"sys/fs/cgroup/kubepods/pod1/memory.max": "268435456\n",
	} {
		p = filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := CgroupLimit(os.DirFS(root))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Cgroup{Bytes: 256 << 20, File: "sys/fs/cgroup/kubepods/pod1/memory.max"}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestDecideNegative(t *testing.T) {
	if _, err := Decide(Input{Configured: -1}); err == nil {
		t.Fatal("no error for a negative configured limit")
	}
}

// TestApply sets the runtime's limit (restored afterwards), so it does not
// run in parallel.
func TestApply(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })

	tests := []struct {
		name    string
		runtime int64 // the runtime's limit before Apply
		limit   Limit
		want    int64
	}{
		{"config", Off, Limit{Bytes: 300 << 20, Source: SourceConfig}, 300 << 20},
		{"default", Off, Limit{Bytes: Default, Source: SourceDefault}, Default},
		{"off", 1 << 30, Limit{Bytes: Off, Source: SourceConfig}, Off},
		{"GOMEMLIMIT keeps the runtime's value", 700 << 20, Limit{Source: SourceEnv}, 700 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			debug.SetMemoryLimit(tt.runtime)
			got := Apply(tt.limit)
			if got.Bytes != tt.want || Current() != tt.want {
				t.Fatalf("Apply returned %d, runtime holds %d; want %d", got.Bytes, Current(), tt.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{Off, "off"},
		{512 << 20, "512MiB"},
		{966367641, "921.6MiB"},
		{3 << 30, "3GiB"},
		{1536, "1.5KiB"},
		{100, "100B"},
		{5 << 40, "5TiB"},
	}
	for _, tt := range tests {
		if got := Format(tt.n); got != tt.want {
			t.Errorf("Format(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// TestSetup applies a configured limit (the runtime's is restored
// afterwards) and logs it with its source.
func TestSetup(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	var logs bytes.Buffer
	l := Setup(300<<20, 0, slog.New(slog.NewTextHandler(&logs, nil)))
	if l.Bytes != 300<<20 || l.Source != SourceConfig || Current() != 300<<20 {
		t.Errorf("Setup = %+v, runtime holds %d; want the configured 300MiB", l, Current())
	}
	if want := `msg="memory limit set" limit=300MiB bytes=314572800 source=config`; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs.String())
	}
}
