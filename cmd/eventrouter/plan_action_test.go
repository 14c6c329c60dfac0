package main

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/eventrouter/eventrouter/internal/release"
)

// actionFile is the part of action.yml the tests check.
type actionFile struct {
	Name        string            `yaml:"name"`
	Description string            `yaml:"description"`
	Author      string            `yaml:"author"`
	Branding    map[string]string `yaml:"branding"`
	Inputs      map[string]struct {
		Description string  `yaml:"description"`
		Required    bool    `yaml:"required"`
		Default     *string `yaml:"default"`
	} `yaml:"inputs"`
	Runs struct {
		Using string       `yaml:"using"`
		Steps []actionStep `yaml:"steps"`
	} `yaml:"runs"`
}

// actionStep is one step of a composite action or a workflow job.
type actionStep struct {
	Name  string            `yaml:"name"`
	ID    string            `yaml:"id"`
	If    string            `yaml:"if"`
	Uses  string            `yaml:"uses"`
	Shell string            `yaml:"shell"`
	Run   string            `yaml:"run"`
	With  map[string]any    `yaml:"with"`
	Env   map[string]string `yaml:"env"`
}

// workflowFile is the part of a workflow the tests check.
type workflowFile struct {
	Name string `yaml:"name"`
	On   struct {
		PullRequest *struct {
			Types []string `yaml:"types"`
			Paths []string `yaml:"paths"`
		} `yaml:"pull_request"`
	} `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]struct {
		Name   string       `yaml:"name"`
		RunsOn string       `yaml:"runs-on"`
		Steps  []actionStep `yaml:"steps"`
	} `yaml:"jobs"`
}

func readYAML(t *testing.T, file string, v any) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true) // a misspelt key fails
	if err := dec.Decode(v); err != nil {
		t.Fatalf("parsing %s: %v", file, err)
	}
	return data
}

// allowBreakingExpr is the action's expression for --allow-breaking.
const allowBreakingExpr = "${{ inputs.breaking-label != '' && contains(github.event.pull_request.labels.*.name, inputs.breaking-label) }}"

func TestPlanActionStructure(t *testing.T) {
	var a actionFile
	raw := readYAML(t, "../../action.yml", &a)
	if a.Name == "" || a.Description == "" || a.Runs.Using != "composite" {
		t.Fatalf("action.yml: name %q, description %q, runs.using %q; want a described composite action", a.Name, a.Description, a.Runs.Using)
	}
	wantDefaults := map[string]string{"plan": "schemas", "base": "${{ github.base_ref }}", "version": "", "breaking-label": "tracking-plan-breaking"}
	for _, name := range []string{"plan", "base", "go-version", "version", "breaking-label"} {
		in, ok := a.Inputs[name]
		switch {
		case !ok:
			t.Errorf("input %q is missing", name)
		case in.Description == "" || in.Required || in.Default == nil:
			t.Errorf("input %q needs a description and a default, and must be optional", name)
		case wantDefaults[name] != "" && *in.Default != wantDefaults[name]:
			t.Errorf("input %q defaults to %q, want %q", name, *in.Default, wantDefaults[name])
		}
	}
	// Every ${{ inputs.x }} and steps.x names something that exists.
	for _, m := range regexp.MustCompile(`inputs\.([A-Za-z0-9_-]+)`).FindAllStringSubmatch(string(raw), -1) {
		if _, ok := a.Inputs[m[1]]; !ok {
			t.Errorf("action.yml uses undeclared input %q", m[1])
		}
	}
	ids := map[string]bool{}
	for _, s := range a.Runs.Steps {
		ids[s.ID] = true
	}
	for _, m := range regexp.MustCompile(`steps\.([A-Za-z0-9_-]+)\.`).FindAllStringSubmatch(string(raw), -1) {
		if !ids[m[1]] {
			t.Errorf("action.yml refers to unknown step %q", m[1])
		}
	}

	var install, setup bool
	found := map[string]bool{}
	mod := modulePath(t)
	for i, s := range a.Runs.Steps {
		if s.Uses != "" {
			setup = setup || strings.HasPrefix(s.Uses, "actions/setup-go@")
			continue
		}
		if s.Shell != "bash" || s.Run == "" || s.Name == "" {
			t.Errorf("step %d (%q): a composite run step needs a name, shell: bash and a script", i, s.Name)
		}
		if strings.Contains(s.Run, "${{") {
			t.Errorf("step %q interpolates an expression into its script; pass it through env", s.Name)
		}
		if out, err := exec.Command("bash", "-n", "-c", s.Run).CombinedOutput(); err != nil {
			t.Errorf("step %q: bash syntax error: %v\n%s", s.Name, err, out)
		}
		if s.ID == "install" {
			install = strings.Contains(s.Run, mod+"/cmd/eventrouter@$VERSION") && strings.Contains(s.Run, "go install -tags noduckdb ./cmd/eventrouter") &&
				strings.Contains(s.Run, "CGO_ENABLED=0")
			continue
		}
		if s.ID == "release" {
			continue // TestPlanActionRelease runs it
		}
		for _, cmd := range []string{"lint", "test", "diff"} {
			if regexp.MustCompile(`eventrouter (plan )?` + cmd + ` --format github|plan ` + cmd + ` --format github`).MatchString(s.Run) {
				found[cmd] = true
				if !strings.Contains(s.If, "steps.install.outcome == 'success'") || !strings.Contains(s.If, "!cancelled()") {
					t.Errorf("step %q runs only when %q; want it to run after a successful install even if an earlier check failed", s.Name, s.If)
				}
			}
		}
	}
	if !setup || !install {
		t.Errorf("action.yml: setup-go %v, go install of the static %s/cmd/eventrouter (by version or from the action path) %v", setup, mod, install)
	}
	for _, cmd := range []string{"lint", "test", "diff"} {
		if !found[cmd] {
			t.Errorf("no step runs `eventrouter plan %s --format github`", cmd)
		}
	}

	var w workflowFile
	readYAML(t, "../../.github/workflows/tracking-plan.yml", &w)
	if w.On.PullRequest == nil || !slices.Contains(w.On.PullRequest.Paths, "schemas/**") {
		t.Fatalf("tracking-plan.yml must run on pull_request with paths including schemas/**: %+v", w.On)
	}
	if !slices.Contains(w.On.PullRequest.Types, "labeled") || !slices.Contains(w.On.PullRequest.Types, "synchronize") {
		t.Errorf("tracking-plan.yml pull_request types %v: want synchronize, and labeled so the breaking label re-runs it", w.On.PullRequest.Types)
	}
	var usesAction, checkout bool
	for _, job := range w.Jobs {
		for _, s := range job.Steps {
			if strings.HasPrefix(s.Uses, "actions/checkout@") {
				checkout = s.With["fetch-depth"] == 0
			}
			if s.Uses == "./" {
				usesAction = checkout // after the checkout
				plan, _ := s.With["plan"].(string)
				if st, err := os.Stat(filepath.Join("../..", plan)); plan == "" || err != nil || !st.IsDir() {
					t.Errorf("the workflow checks plan %q, which is not a directory of this repository", plan)
				}
			}
		}
	}
	if !checkout || !usesAction {
		t.Errorf("tracking-plan.yml: checkout with fetch-depth 0 %v, then uses: ./ %v", checkout, usesAction)
	}
}

// modulePath returns the module path in go.mod.
func modulePath(t *testing.T) string {
	t.Helper()
	f, err := os.Open("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m, ok := strings.CutPrefix(sc.Text(), "module "); ok {
			return strings.TrimSpace(m)
		}
	}
	t.Fatal("go.mod has no module line")
	return ""
}

// TestPlanActionScripts runs the action's lint, test and diff scripts with
// bash, as the runner would, on a real git repository whose origin/main
// holds the base plan, with the eventrouter binary TestMain built on PATH.
func TestPlanActionScripts(t *testing.T) {
	var a actionFile
	readYAML(t, "../../action.yml", &a)
	steps := map[string]actionStep{}
	for _, s := range a.Runs.Steps {
		for _, cmd := range []string{"lint", "test", "diff"} {
			if strings.Contains(s.Run, "plan "+cmd+" ") {
				steps[cmd] = s
			}
		}
	}
	if len(steps) != 3 {
		t.Fatalf("found steps for %v; want lint, test and diff", steps)
	}

	// repo: origin/main has plan "base"; the work tree (the pull request) has "head".
	repo := newGitRepo(t)
	repo.put("schemas", "testdata/plan/base")
	repo.commit("base plan")
	repo.git("update-ref", "refs/remotes/origin/main", "HEAD")
	repo.put("schemas", "testdata/plan/head")
	// repo2: origin/main has "added"; the work tree removes an event (breaking only).
	repo2 := newGitRepo(t)
	repo2.put("schemas", "testdata/plan/added")
	repo2.commit("base plan")
	repo2.git("update-ref", "refs/remotes/origin/main", "HEAD")
	if err := os.Remove(filepath.Join(repo2.dir, "schemas", "events", "product_viewed.schema.json")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		repo     *gitRepo
		step     string
		inputs   map[string]string
		allow    bool
		wantCode int
		want     []string // stdout fragments
		summary  string   // step summary fragment
	}{
		{name: "lint", repo: repo, step: "lint", wantCode: 0, want: []string{"Tracking plan lint: no findings in schemas"}, summary: "### Tracking plan lint: all clear"},
		{name: "test", repo: repo, step: "test", wantCode: 0, want: []string{"Tracking plan fixtures: no findings in schemas"}, summary: "### Tracking plan fixtures: all clear"},
		{name: "diff against origin/<base branch>", repo: repo, step: "diff", wantCode: 1,
			want: []string{
				"::error file=schemas/events/order_completed.schema.json,line=13,col=22,title=Breaking tracking plan change (type_narrowed)::",
				"Tracking plan diff against origin/main: 1 error, 4 breaking, 5 non-breaking",
			},
			summary: "### Tracking plan diff against `origin/main`: 1 error, 4 breaking, 5 non-breaking"},
		{name: "the label does not excuse an unbumped version", repo: repo, step: "diff", allow: true, wantCode: 1, want: []string{"1 error, 4 breaking"}},
		{name: "breaking change fails", repo: repo2, step: "diff", wantCode: 1, want: []string{"::error file=schemas/events/product_viewed.schema.json,title=Breaking"}},
		{name: "breaking change with the label passes", repo: repo2, step: "diff", allow: true, wantCode: 0,
			want: []string{"::warning file=schemas/events/product_viewed.schema.json,title=Breaking"}, summary: "Breaking changes are allowed for this pull request"},
		{name: "an explicit ref", repo: repo2, step: "diff", inputs: map[string]string{"base": "HEAD"}, wantCode: 1, want: []string{"Tracking plan diff against HEAD: 1 breaking"}},
		{name: "no base skips the diff", repo: repo, step: "diff", inputs: map[string]string{"base": ""}, wantCode: 0, want: []string{"::notice title=Tracking plan diff::no base ref"}},
		{name: "unknown base branch", repo: repo, step: "diff", inputs: map[string]string{"base": "no-such-branch"}, wantCode: 2},
		{name: "another plan path", repo: repo, step: "lint", inputs: map[string]string{"plan": "nope"}, wantCode: 2},
	}
	path := filepath.Dir(binPath) + string(os.PathListSeparator) + os.Getenv("PATH")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inputs := map[string]string{"plan": "schemas", "base": "main", "breaking-label": "tracking-plan-breaking"}
			for k, v := range tt.inputs {
				inputs[k] = v
			}
			s := steps[tt.step]
			summary := filepath.Join(t.TempDir(), "summary.md")
			cmd := exec.Command("bash", "-e", "-c", s.Run)
			cmd.Dir = tt.repo.dir
			cmd.Env = append(os.Environ(), "PATH="+path, "GITHUB_WORKSPACE="+tt.repo.dir, "GITHUB_STEP_SUMMARY="+summary,
				"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
			for k, v := range s.Env {
				switch m := regexp.MustCompile(`^\$\{\{ inputs\.([a-z-]+) \}\}$`).FindStringSubmatch(v); {
				case m != nil:
					cmd.Env = append(cmd.Env, k+"="+inputs[m[1]])
				case v == allowBreakingExpr:
					cmd.Env = append(cmd.Env, k+"="+map[bool]string{true: "true", false: "false"}[tt.allow])
				default:
					t.Fatalf("step %q: env %s = %q: the test does not know this expression", s.Name, k, v)
				}
			}
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d\n%s", code, tt.wantCode, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tt.summary != "" {
				md, _ := os.ReadFile(summary)
				if !strings.Contains(string(md), tt.summary) {
					t.Errorf("step summary lacks %q:\n%s", tt.summary, md)
				}
			}
		})
	}
}

// actionStepEnv returns the environment of one of action.yml's steps,
// with each ${{ ... }} expression given by exprs.
func actionStepEnv(t *testing.T, s actionStep, exprs map[string]string) []string {
	t.Helper()
	var env []string
	for k, v := range s.Env {
		val, ok := exprs[v]
		if !ok {
			t.Fatalf("step %q: env %s = %q: the test does not know this expression", s.Name, k, v)
		}
		env = append(env, k+"="+val)
	}
	return env
}

// TestPlanActionRelease runs the action's install steps with bash, as the
// runner would: a release tag downloads the release's static archive
// (made by the release code from the static binary, with its licences,
// configs and unit) from a server
// standing in for GitHub's release downloads, checks it against
// SHA256SUMS and installs it; a corrupted archive fails the step; no
// release falls back to go install of the static build from the action's
// checkout.
func TestPlanActionRelease(t *testing.T) {
	var a actionFile
	readYAML(t, "../../action.yml", &a)
	steps := map[string]actionStep{}
	for _, s := range a.Runs.Steps {
		steps[s.ID] = s
	}
	if steps["release"].Run == "" || steps["install"].Run == "" {
		t.Fatal("action.yml has no steps with ids release and install")
	}
	arch := map[string]string{"amd64": "X64", "arm64": "ARM64"}[runtime.GOARCH]
	if runtime.GOOS != "linux" || arch == "" {
		t.Skipf("release archives are made for linux amd64 and arm64, not %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	root, _ := filepath.Abs("../..")
	// The release archive of the static binary, as `make package` makes
	// it (its third-party licences collected for what it links).
	d, err := release.NewDist(context.Background(), release.Build{Root: root, Output: staticBinary(t), Static: true,
		Version: staticVersion, Commit: staticCommit, Date: staticDate})
	if err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	archive, err := d.Archive(dist)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := release.WriteChecksums(dist, []string{archive}); err != nil {
		t.Fatal(err)
	}
	corrupt := t.TempDir()
	data, _ := os.ReadFile(archive)
	data[len(data)/2] ^= 1
	_ = os.WriteFile(filepath.Join(corrupt, filepath.Base(archive)), data, 0o644)
	sums, _ := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	_ = os.WriteFile(filepath.Join(corrupt, "SHA256SUMS"), sums, 0o644)
	// /good/<tag>/<file> serves the release, /corrupt/<tag>/<file> the
	// corrupted copy.
	mux := http.NewServeMux()
	mux.Handle("/good/"+staticVersion+"/", http.StripPrefix("/good/"+staticVersion+"/", http.FileServer(http.Dir(dist))))
	mux.Handle("/corrupt/"+staticVersion+"/", http.StripPrefix("/corrupt/"+staticVersion+"/", http.FileServer(http.Dir(corrupt))))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	run := func(t *testing.T, id, releases string, exprs map[string]string) (code int, out, output, path string, tmp string) {
		t.Helper()
		tmp = t.TempDir()
		ghOutput, ghPath := filepath.Join(tmp, "output"), filepath.Join(tmp, "path")
		cmd := exec.Command("bash", "-e", "-c", steps[id].Run)
		cmd.Env = append(os.Environ(), "RUNNER_TEMP="+tmp, "RUNNER_OS=Linux", "RUNNER_ARCH="+arch,
			"GITHUB_OUTPUT="+ghOutput, "GITHUB_PATH="+ghPath, "EVENTROUTER_RELEASES_URL="+releases)
		cmd.Env = append(cmd.Env, actionStepEnv(t, steps[id], exprs)...)
		b, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		o, _ := os.ReadFile(ghOutput)
		p, _ := os.ReadFile(ghPath)
		return code, string(b), string(o), string(p), tmp
	}
	releaseExprs := func(version, ref string) map[string]string {
		return map[string]string{"${{ inputs.version }}": version, "${{ github.action_ref }}": ref, "${{ github.action_repository }}": "eventrouter/eventrouter"}
	}

	t.Run("a release tag downloads the release", func(t *testing.T) {
		code, out, output, _, tmp := run(t, "release", srv.URL+"/good", releaseExprs(staticVersion, "main"))
		if code != 0 || output != "found=true\n" {
			t.Fatalf("exit %d, output %q\n%s", code, output, out)
		}
		b := versionJSON(t, filepath.Join(tmp, "eventrouter-bin", "eventrouter"))
		if b.Version != staticVersion || b.Build != "static" {
			t.Errorf("installed %+v", b)
		}
		// What the archive holds beside the binary.
		unpacked := filepath.Join(tmp, "eventrouter-release", d.ArchiveName())
		for file, want := range map[string][]string{
			"LICENSE":              {"Apache License", "Version 2.0"},
			"THIRD_PARTY_LICENSES": {"github.com/nats-io/nats-server/v2@", "router/cdn/analyticsjs/LICENSE.MD", "router/cdn/analyticsjs/LICENSE-bundled.txt", "js-cookie"},
			"eventrouter.yaml":     {"EVENTROUTER_WRITE_KEY"},
			"eventrouter.service":  {"ProtectSystem=strict"},
		} {
			data, err := os.ReadFile(filepath.Join(unpacked, file))
			for _, w := range want {
				if err != nil || !strings.Contains(string(data), w) {
					t.Errorf("the archive's %s lacks %q (%v)", file, w, err)
				}
			}
		}
		if third, _ := os.ReadFile(filepath.Join(unpacked, "THIRD_PARTY_LICENSES")); strings.Contains(string(third), "duckdb") {
			t.Error("the static build's THIRD_PARTY_LICENSES lists DuckDB, which it does not link")
		}
		// The install step then only puts it on PATH.
		code, out, _, path, _ := run(t, "install", "", map[string]string{"${{ inputs.version }}": staticVersion, "${{ github.action_path }}": root, "${{ steps.release.outputs.found }}": "true"})
		if code == 0 || !strings.Contains(out, "eventrouter-bin/eventrouter: No such file") {
			// A fresh RUNNER_TEMP has no binary: the step must fail, not build.
			t.Errorf("install step without the downloaded binary: exit %d, PATH %q\n%s", code, path, out)
		}
	})
	t.Run("the action's own tag", func(t *testing.T) {
		code, out, output, _, _ := run(t, "release", srv.URL+"/good", releaseExprs("", staticVersion))
		if code != 0 || output != "found=true\n" {
			t.Fatalf("exit %d, output %q\n%s", code, output, out)
		}
	})
	t.Run("a corrupted archive fails", func(t *testing.T) {
		code, out, _, _, _ := run(t, "release", srv.URL+"/corrupt", releaseExprs(staticVersion, ""))
		if code == 0 || !strings.Contains(out, "does not match the release's SHA256SUMS") {
			t.Errorf("exit %d\n%s", code, out)
		}
	})
	for _, tt := range []struct{ name, version, ref string }{
		{"no such release", "v9.9.9", ""},
		{"a branch", "", "main"},
	} {
		t.Run(tt.name+" builds it", func(t *testing.T) {
			code, out, output, _, _ := run(t, "release", srv.URL+"/good", releaseExprs(tt.version, tt.ref))
			if code != 0 || output != "found=false\n" || !strings.Contains(out, "building it with go install") {
				t.Errorf("exit %d, output %q\n%s", code, output, out)
			}
		})
	}
	t.Run("go install from the action's checkout", func(t *testing.T) {
		code, out, _, path, tmp := run(t, "install", "", map[string]string{"${{ inputs.version }}": "", "${{ github.action_path }}": root, "${{ steps.release.outputs.found }}": "false"})
		if code != 0 || strings.TrimSpace(path) != filepath.Join(tmp, "eventrouter-bin") {
			t.Fatalf("exit %d, PATH %q\n%s", code, path, out)
		}
		if b := versionJSON(t, filepath.Join(tmp, "eventrouter-bin", "eventrouter")); b.Build != "static" {
			t.Errorf("go install built %+v, want the static build", b)
		}
	})
}
