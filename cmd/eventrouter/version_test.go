package main

import (
	"context"
	"debug/elf"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/eventrouter/eventrouter/internal/buildinfo"
	"github.com/eventrouter/eventrouter/internal/pgtest"
	"github.com/eventrouter/eventrouter/internal/release"
)

// versionJSON runs `bin version --json` and decodes it.
func versionJSON(t *testing.T, bin string) buildinfo.Info {
	t.Helper()
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatalf("%s version --json: %v", bin, err)
	}
	var b buildinfo.Info
	dec := json.NewDecoder(strings.NewReader(string(out)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("version --json printed %s: %v", out, err)
	}
	return b
}

// TestVersionDefaultBuild checks `version` of the default build (the
// binary TestMain built): DuckDB's version is there, and a running
// server exports the same facts as eventrouter_build_info; `health`
// probes it.
func TestVersionDefaultBuild(t *testing.T) {
	b := versionJSON(t, binPath)
	if b.Build != "default" || !strings.HasPrefix(b.DuckDB, "v1.") || b.NATSServer != "v"+server.VERSION || b.Go != runtime.Version() {
		t.Fatalf("version --json = %+v; want build default, a DuckDB v1.x, nats-server v%s", b, server.VERSION)
	}
	out, err := exec.Command(binPath, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"eventrouter " + b.Version + " " + b.Go + "\n", "  nats-server: " + b.NATSServer + "\n", "  duckdb:      " + b.DuckDB + "\n", "  build:       default"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("version printed\n%s\nwithout %q", out, want)
		}
	}

	addr := freeAddr(t)
	p := startServer(t, `
http: {listen: "`+addr+`"}
data_dir: "`+t.TempDir()+`"
log: {level: warn}
sources: {web: {type: segment, write_keys: [k1]}}
`, addr)
	metrics := mustGet(t, p.base+"/metrics")
	want := `eventrouter_build_info{build="default",duckdb="` + b.DuckDB + `",goversion="` + b.Go + `",nats_server="` + b.NATSServer + `",revision="` + b.Commit + `",version="` + b.Version + `"} 1`
	if !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %s", want)
	}
	code, stdout, stderr := runBin(t, binPath, nil, "health", "--config", p.cfgPath)
	if code != 0 || !strings.Contains(stdout, "http://"+addr+"/healthz: 200 OK") {
		t.Errorf("health --config: exit %d, %s%s", code, stdout, stderr)
	}
	code, _, stderr = runBin(t, binPath, nil, "health", "--url", "http://"+freeAddr(t)+"/healthz", "--timeout", "1s")
	if code != 1 || !strings.Contains(stderr, "connection refused") {
		t.Errorf("health of nothing: exit %d, %s", code, stderr)
	}
}

func mustGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", url, resp.Status, body)
	}
	return string(body)
}

// runBin runs bin with args and extra environment, and returns its exit
// code and output.
func runBin(t *testing.T, bin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running %s %v: %v", bin, args, err)
		}
		code = ee.ExitCode()
	}
	return code, stdout.String(), stderr.String()
}

// The static binary, built once by staticBinary with the release code
// (the Dockerfile's build) and a version set.
var static struct {
	once sync.Once
	path string
	err  error
}

const (
	staticVersion = "v0.1.0"
	staticCommit  = "0123456789abcdef0123456789abcdef01234567"
	staticDate    = "2026-01-02T03:04:05Z"
)

func staticBinary(t *testing.T) string {
	t.Helper()
	static.once.Do(func() {
		root, err := filepath.Abs("../..")
		if err != nil {
			static.err = err
			return
		}
		static.path = filepath.Join(filepath.Dir(binPath), "eventrouter-static")
		b := release.Build{Root: root, Output: static.path, Static: true, Version: staticVersion, Commit: staticCommit, Date: staticDate}
		static.err = b.Run(context.Background())
	})
	if static.err != nil {
		t.Fatal(static.err)
	}
	return static.path
}

// TestStaticBuild checks the static build as shipped: a binary with no
// dynamic section, whose `version` says what it is with the version it
// was built with; that refuses a DuckDB warehouse in `check` with the
// way out; and that loads into PostgreSQL and reads it back with `sql`.
func TestStaticBuild(t *testing.T) {
	bin := staticBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the static binary has a %v program header: it is dynamically linked", p.Type)
		}
	}
	f.Close()

	b := versionJSON(t, bin)
	want := buildinfo.Info{Version: staticVersion, Commit: staticCommit, Date: staticDate, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		Build: "static", NATSServer: "v" + server.VERSION, DuckDB: ""}
	if b != want {
		t.Errorf("version --json = %+v\nwant %+v", b, want)
	}
	code, out, _ := runBin(t, bin, nil, "version")
	wantText := "eventrouter v0.1.0 " + runtime.Version() + "\n" +
		"  commit:      " + staticCommit + "\n" +
		"  date:        " + staticDate + "\n" +
		"  platform:    " + runtime.GOOS + "/" + runtime.GOARCH + "\n" +
		"  build:       static (no cgo, tag noduckdb; warehouses use driver: postgres)\n" +
		"  nats-server: v" + server.VERSION + "\n" +
		"  duckdb:      none\n"
	if code != 0 || out != wantText {
		t.Errorf("version printed\n%s\nwant\n%s", out, wantText)
	}

	code, _, stderr := runBin(t, bin, nil, "check", "--config", "../../configs/eventrouter.yaml")
	if code != 1 || !strings.Contains(stderr, "destinations.warehouse.driver: duckdb: this build has no DuckDB; use driver: postgres") {
		t.Errorf("check of a DuckDB config: exit %d, %s", code, stderr)
	}

	dsn := pgtest.New(t).CreateDB(t)
	addr := freeAddr(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "eventrouter.yaml")
	if err := os.WriteFile(cfg, []byte(`
http: {listen: "`+addr+`"}
data_dir: "`+filepath.Join(dir, "data")+`"
log: {level: warn}
sources: {web: {type: segment, write_keys: [k1]}}
destinations:
  warehouse: {type: warehouse, driver: postgres, dsn: "${WAREHOUSE_DSN}", batch_timeout: 100ms}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"WAREHOUSE_DSN=" + dsn}
	if code, out, stderr := runBin(t, bin, env, "check", "--config", cfg); code != 0 {
		t.Fatalf("check: exit %d %s%s", code, out, stderr)
	}
	srv := exec.Command(bin, "serve", "--config", cfg)
	srv.Env = append(os.Environ(), env...)
	var logs syncBuffer
	srv.Stderr = &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = srv.Process.Signal(os.Interrupt)
		_ = srv.Wait()
	}()
	waitReady(t, "http://"+addr, &logs)
	mustPost(t, "http://"+addr+"/v1/track", "k1", `{"userId":"u1","event":"Static Tested","messageId":"static-1","properties":{"n":7}}`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, out, stderr := runBin(t, bin, env, "sql", "--config", cfg, "--format", "csv", "SELECT id, n FROM web.static_tested")
		if code == 0 && strings.Contains(out, "static-1,7") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the event did not reach PostgreSQL: sql exit %d %s%s\nserver log:\n%s", code, out, stderr, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitReady polls base/readyz until 200.
func waitReady(t *testing.T, base string, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz not ready after 30s; log:\n%s", base, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mustPost sends a JSON body with a write key and wants 200.
func mustPost(t *testing.T, url, key, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.SetBasicAuth(key, "")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %s %s", url, resp.Status, b)
	}
}

// TestVersionOfGoBuild checks `version` of a binary built by the Go
// toolchain alone, with no -ldflags, as `go install ...@v0.1.0` and a
// build of a clone are: the version, commit and date come from the build
// information Go records. It clones this repository (with the work
// tree's uncommitted changes committed in the clone), tags it v0.1.0,
// builds the static binary with VCS stamping on and runs `version
// --json`; release.GitStamp, which stamps the release builds, agrees.
func TestVersionOfGoBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds eventrouter in a clone: not in -short")
	}
	root, _ := filepath.Abs("../..")
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@example.com", "GIT_COMMITTER_DATE=2026-12-05T14:03:59Z", "GIT_AUTHOR_DATE=2026-12-05T14:03:59Z")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if _, err := exec.LookPath("git"); err != nil || exec.Command("git", "-C", root, "rev-parse", "HEAD").Run() != nil {
		msg := "the repository is not a git work tree (or git is missing): cannot clone it"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	clone := filepath.Join(t.TempDir(), "eventrouter")
	git(root, "clone", "-q", "--shared", "--no-checkout", root, clone)
	git(clone, "checkout", "-q", "--detach", git(root, "rev-parse", "HEAD"))
	// The work tree as it is: changed and new files copied, deleted ones
	// removed, and committed.
	for _, f := range strings.Split(git(root, "ls-files", "-z", "--modified", "--others", "--exclude-standard"), "\x00") {
		if f == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, f))
		if os.IsNotExist(err) {
			_ = os.Remove(filepath.Join(clone, f))
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(filepath.Join(root, f))
		if err := os.MkdirAll(filepath.Dir(filepath.Join(clone, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(clone, f), data, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	git(clone, "add", "-A")
	if git(clone, "status", "--porcelain") != "" {
		git(clone, "commit", "-qm", "the work tree under test")
	}
	git(clone, "tag", "v0.1.0")
	head := git(clone, "rev-parse", "HEAD")
	secs, err := strconv.ParseInt(git(clone, "log", "-1", "--format=%ct"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	date := time.Unix(secs, 0).UTC().Format(time.RFC3339)

	bin := filepath.Join(t.TempDir(), "eventrouter")
	cmd := exec.Command("go", "build", "-tags", "noduckdb", "-o", bin, "./cmd/eventrouter")
	cmd.Dir = clone
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=true", "GOWORK=off")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build in the clone: %v\n%s", err, out)
	}
	t.Logf("built in %v", time.Since(start).Round(time.Millisecond))
	want := buildinfo.Info{Version: "v0.1.0", Commit: head, Date: date, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		Build: "static", NATSServer: "v" + server.VERSION}
	if got := versionJSON(t, bin); got != want {
		t.Errorf("version --json of a build at the tag v0.1.0 = %+v\nwant %+v", got, want)
	}
	// The release build reads the same version from git.
	stamp, _, _, err := release.GitStamp(context.Background(), clone)
	if err != nil || stamp != want.Version {
		t.Errorf("release.GitStamp = %q, %v; Go stamped %q", stamp, err, want.Version)
	}
}
