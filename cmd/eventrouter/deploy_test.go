package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/eventrouter/eventrouter/router/config"
)

// composeFile is the part of deploy/compose.yaml the tests check.
type composeFile struct {
	Name         string         `yaml:"name"`
	XNats        any            `yaml:"x-nats"`
	XEventrouter any            `yaml:"x-eventrouter"`
	Volumes      map[string]any `yaml:"volumes"`
	Services     map[string]struct {
		Restart     string                    `yaml:"restart"`
		Healthcheck map[string]any            `yaml:"healthcheck"`
		DependsOn   map[string]map[string]any `yaml:"depends_on"`
		Image       string                    `yaml:"image"`
		Command     []string                  `yaml:"command"`
		Environment map[string]string         `yaml:"environment"`
		Volumes     []string                  `yaml:"volumes"`
		Ports       []string                  `yaml:"ports"`
		Build       *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
	} `yaml:"services"`
}

// composeVars stand for the variables the compose file asks for.
var composeVars = map[string]string{
	"EVENTROUTER_WRITE_KEY": "compose-write-key", "EVENTROUTER_ADMIN_TOKEN": "compose-admin-token", "POSTGRES_PASSWORD": "compose-pg-password",
}

// interpolate expands ${VAR}, ${VAR:?message} and ${VAR:-default} as
// docker compose does, with composeVars.
func interpolate(t *testing.T, s string) string {
	t.Helper()
	return regexp.MustCompile(`\$\{([A-Z_]+)(:[?-][^}]*)?\}`).ReplaceAllStringFunc(s, func(m string) string {
		name := regexp.MustCompile(`^\$\{([A-Z_]+)`).FindStringSubmatch(m)[1]
		v, ok := composeVars[name]
		if !ok {
			t.Errorf("compose.yaml uses ${%s}, which the README's instructions do not set", name)
		}
		return v
	})
}

// TestComposeConfigs checks deploy/compose.yaml: three NATS nodes routed
// to each other with JetStream, NATS at the version eventrouter embeds,
// PostgreSQL, and two eventrouter instances built from the Dockerfile,
// whose mounted config passes `eventrouter check` with the environment
// the compose file gives them — with the static binary the image runs,
// and with the default build — with queue.replicas 3 and a postgres
// warehouse, publishing only the ingest port (the operator's routes on
// http.admin_listen, not published).
func TestComposeConfigs(t *testing.T) {
	var c composeFile
	readYAML(t, "../../deploy/compose.yaml", &c)

	var nats, routers []string
	for name, s := range c.Services {
		switch {
		case strings.HasPrefix(s.Image, "nats:"):
			nats = append(nats, name)
			if want := "nats:" + strings.TrimPrefix(natsServerVersion(t), "v") + "-alpine"; s.Image != want {
				t.Errorf("service %s runs %s; eventrouter embeds and tests against %s", name, s.Image, want)
			}
			if len(s.Ports) > 0 {
				t.Errorf("service %s publishes %v", name, s.Ports)
			}
		case s.Build != nil:
			routers = append(routers, name)
		}
	}
	slices.Sort(nats)
	if !slices.Equal(nats, []string{"nats-1", "nats-2", "nats-3"}) || len(routers) != 2 {
		t.Fatalf("compose.yaml: NATS services %v, eventrouter services %v; want nats-1..3 and two instances", nats, routers)
	}
	natsConf, err := os.ReadFile("../../deploy/compose/nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nats {
		if !strings.Contains(string(natsConf), "nats-route://"+n+":6222") || c.Services[n].Environment["NATS_SERVER_NAME"] != n {
			t.Errorf("nats.conf does not route to %s, or the service is not named so", n)
		}
	}
	if !strings.Contains(string(natsConf), "jetstream {") {
		t.Error("nats.conf does not enable JetStream")
	}
	if pg, ok := c.Services["postgres"]; !ok || !strings.HasPrefix(pg.Image, "postgres:") {
		t.Error("compose.yaml has no postgres service")
	}

	for _, name := range routers {
		s := c.Services[name]
		if s.Build.Context != ".." || s.Build.Dockerfile != "Dockerfile" {
			t.Errorf("%s builds %+v, want the repository's Dockerfile", name, *s.Build)
		}
		var cfgFile string
		for _, v := range s.Volumes {
			if src, dst, ok := strings.Cut(strings.TrimSuffix(v, ":ro"), ":"); ok && dst == "/etc/eventrouter/eventrouter.yaml" {
				cfgFile = filepath.Join("../../deploy", src)
			}
		}
		if cfgFile == "" {
			t.Fatalf("%s mounts no config at /etc/eventrouter/eventrouter.yaml", name)
		}
		var env []string
		for k, v := range s.Environment {
			env = append(env, k+"="+interpolate(t, v))
		}
		for _, bin := range []string{staticBinary(t), binPath} {
			code, out, stderr := runBin(t, bin, env, "check", "--config", cfgFile)
			if code != 0 {
				t.Errorf("%s: %s check --config %s: exit %d\n%s%s", name, filepath.Base(bin), cfgFile, code, out, stderr)
			}
		}
		cfg := loadForTest(t, cfgFile, env)
		if cfg.Queue.Replicas != 3 || !strings.Contains(cfg.Queue.URL, "nats-3:4222") {
			t.Errorf("%s: queue.replicas %d, url %q; want 3 and the three nodes", name, cfg.Queue.Replicas, cfg.Queue.URL)
		}
		wh, ok := cfg.Destinations["warehouse"]
		if !ok || wh.Type != "warehouse" {
			t.Errorf("%s: no warehouse destination", name)
		}
		_, port, _ := strings.Cut(cfg.HTTP.Listen, ":")
		for _, p := range s.Ports {
			if !strings.HasSuffix(p, ":"+port) {
				t.Errorf("%s publishes %s, which is not the ingest port %s", name, p, port)
			}
		}
		if len(s.Ports) != 1 {
			t.Errorf("%s publishes %v; want the ingest port alone", name, s.Ports)
		}
		// The operator's routes on a port of their own, not published.
		_, adminPort, ok := strings.Cut(cfg.HTTP.AdminListen, ":")
		if !ok || adminPort == port {
			t.Errorf("%s: http.admin_listen %q; want the admin API on a port of its own", name, cfg.HTTP.AdminListen)
		}
		for _, p := range s.Ports {
			if strings.HasSuffix(p, ":"+adminPort) {
				t.Errorf("%s publishes the operator port: %s", name, p)
			}
		}
	}
}

// loadForTest loads a config file with extra environment variables.
func loadForTest(t *testing.T, file string, env []string) *config.Config {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := loadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// natsServerVersion returns the nats-server version go.mod requires.
func natsServerVersion(t *testing.T) string {
	t.Helper()
	f, err := os.Open("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) >= 2 && fs[0] == "github.com/nats-io/nats-server/v2" {
			return fs[1]
		}
	}
	t.Fatal("go.mod does not require nats-server")
	return ""
}

// dockerfile returns the instructions of the Dockerfile (continuation
// lines joined, comments dropped), by stage: stage i is the instructions
// after the i-th FROM.
func dockerfile(t *testing.T) [][]string {
	t.Helper()
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stages [][]string
	var cur string
	for _, line := range strings.Split(string(data), "\n") {
		trim := strings.TrimSpace(line)
		if cur == "" && (trim == "" || strings.HasPrefix(trim, "#")) {
			continue
		}
		if strings.HasSuffix(trim, "\\") {
			cur += strings.TrimSuffix(trim, "\\") + " "
			continue
		}
		cur += trim
		if strings.HasPrefix(cur, "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], cur)
		}
		cur = ""
	}
	return stages
}

// TestDockerfile checks the container image's recipe: a build stage that
// builds the static binary with the release command (the build
// TestStaticBuild runs), a minimal final stage as a non-root user with
// /var/lib/eventrouter as a volume, a HEALTHCHECK running `eventrouter
// health` (which TestVersionDefaultBuild and TestDebianPackage run), the
// packaged config, and the systemd unit's command.
func TestDockerfile(t *testing.T) {
	stages := dockerfile(t)
	if len(stages) != 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and the image", len(stages))
	}
	build := strings.Join(stages[0], "\n")
	if !strings.Contains(build, "go run ./internal/release/cmd/release build -static -o /out/eventrouter") {
		t.Errorf("the build stage does not build the static binary with the release command:\n%s", build)
	}
	final := stages[1]
	has := func(prefix string) string {
		for _, ins := range final {
			if strings.HasPrefix(ins, prefix) {
				return ins
			}
		}
		t.Errorf("the image has no %q instruction", prefix)
		return ""
	}
	if from := final[0]; !strings.Contains(from, "distroless/static") {
		t.Errorf("the image is %s, want distroless/static (the static build needs no libc)", from)
	}
	if u := has("USER "); u != "USER 65532:65532" {
		t.Errorf("%s: want the non-root user 65532", u)
	}
	if v := has("VOLUME "); v != "VOLUME /var/lib/eventrouter" {
		t.Errorf("%s", v)
	}
	if h := has("HEALTHCHECK "); !strings.HasSuffix(h, `CMD ["/usr/bin/eventrouter", "health"]`) {
		t.Errorf("%s: want eventrouter health", h)
	}
	if c := has("COPY deploy/eventrouter.yaml "); c != "COPY deploy/eventrouter.yaml /etc/eventrouter/eventrouter.yaml" {
		t.Errorf("%s", c)
	}
	unit := readUnit(t, "../../deploy/eventrouter.service")
	entry, cmd := has("ENTRYPOINT "), has("CMD [")
	var ep, args []string
	if err := yaml.Unmarshal([]byte(strings.TrimPrefix(entry, "ENTRYPOINT ")), &ep); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(strings.TrimPrefix(cmd, "CMD ")), &args); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(append(ep, args...), " "), unit["ExecStart"][0]; got != want {
		t.Errorf("the image runs %q, the systemd unit %q", got, want)
	}
}

// readUnit parses a systemd unit file into its settings (all sections),
// each with its values in order.
func readUnit(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: bad line %q", path, line)
		}
		out[k] = append(out[k], v)
	}
	return out
}

// TestWorkflows checks the repository's own CI: ci.yml runs `make test`
// and `make package` on pull requests, main and tags, in Debian as root
// (as .ci/run does, so the package test installs the .deb); release.yml
// makes the packages of a pushed tag with the tag as the version, and
// attaches them and SHA256SUMS to a GitHub release. Every script is valid
// bash.
func TestWorkflows(t *testing.T) {
	type workflow struct {
		On   map[string]any `yaml:"on"`
		Jobs map[string]struct {
			Container string `yaml:"container"`
			Steps     []struct {
				Uses string `yaml:"uses"`
				Run  string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	read := func(name string) (workflow, string) {
		data, err := os.ReadFile("../../.github/workflows/" + name)
		if err != nil {
			t.Fatal(err)
		}
		var w workflow
		if err := yaml.Unmarshal(data, &w); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var runs []string
		for job, j := range w.Jobs {
			for _, s := range j.Steps {
				if s.Run == "" {
					continue
				}
				if out, err := exec.Command("bash", "-n", "-c", s.Run).CombinedOutput(); err != nil {
					t.Errorf("%s, job %s: bash syntax error in %q: %v\n%s", name, job, s.Run, err, out)
				}
				runs = append(runs, s.Run)
			}
		}
		return w, strings.Join(runs, "\n")
	}
	ci, runs := read("ci.yml")
	push, _ := ci.On["push"].(map[string]any)
	if _, ok := ci.On["pull_request"]; !ok || push == nil || !slices.Contains(push["tags"].([]any), any("v*")) {
		t.Errorf("ci.yml runs on %v; want pull_request and tags v*", ci.On)
	}
	for _, want := range []string{"make test", "make package"} {
		if !strings.Contains(runs, want) {
			t.Errorf("ci.yml does not run %s", want)
		}
	}
	if ci.Jobs["test"].Container != "debian:bookworm" {
		t.Errorf("ci.yml's test job runs in %q, want debian:bookworm (root, as .ci/run)", ci.Jobs["test"].Container)
	}
	rel, runs := read("release.yml")
	push, _ = rel.On["push"].(map[string]any)
	if push == nil || len(rel.On) != 1 || !slices.Contains(push["tags"].([]any), any("v*")) {
		t.Errorf("release.yml runs on %v; want tags v* only", rel.On)
	}
	for _, want := range []string{`make package RELEASE_VERSION="$TAG"`, "make test", `gh release create "$TAG" dist/*`, "SHA256SUMS"} {
		if !strings.Contains(runs, want) {
			t.Errorf("release.yml does not run %s", want)
		}
	}
}

// TestPackagedConfig checks deploy/eventrouter.yaml, the config the
// Debian package, the archives and the image install: with the write key
// set it passes `check` in both builds, listening on 127.0.0.1:8080 with
// its data in /var/lib/eventrouter; without it, it fails, naming the key.
func TestPackagedConfig(t *testing.T) {
	const file = "../../deploy/eventrouter.yaml"
	for _, bin := range []string{staticBinary(t), binPath} {
		code, out, stderr := runBin(t, bin, []string{"EVENTROUTER_WRITE_KEY=k", "EVENTROUTER_LISTEN=", "EVENTROUTER_DATA_DIR="}, "check", "--config", file)
		if code != 0 {
			t.Errorf("%s check: exit %d\n%s%s", filepath.Base(bin), code, out, stderr)
		}
		code, _, stderr = runBin(t, bin, []string{"EVENTROUTER_WRITE_KEY="}, "check", "--config", file)
		if code != 1 || !strings.Contains(stderr, "sources.default.write_keys") {
			t.Errorf("%s check without EVENTROUTER_WRITE_KEY: exit %d\n%s", filepath.Base(bin), code, stderr)
		}
	}
	cfg := loadForTest(t, file, []string{"EVENTROUTER_WRITE_KEY=k", "EVENTROUTER_LISTEN=", "EVENTROUTER_DATA_DIR=", "EVENTROUTER_NATS_URL="})
	if cfg.HTTP.Listen != "127.0.0.1:8080" || cfg.DataDir != "/var/lib/eventrouter" || cfg.Queue.URL != "" || len(cfg.Destinations) != 0 {
		t.Errorf("listen %q, data_dir %q, queue.url %q, destinations %d", cfg.HTTP.Listen, cfg.DataDir, cfg.Queue.URL, len(cfg.Destinations))
	}
}
