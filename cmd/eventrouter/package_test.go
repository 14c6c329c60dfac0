package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/release"
)

// needTools skips the test when a program it runs is missing, or fails
// it under CI, where `make deps` installs them.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("missing %s (make deps installs them: apt-get install -y dpkg systemd util-linux)", strings.Join(missing, ", "))
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// sh runs a command and fails the test when it fails; it returns the
// combined output.
func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestDebianPackage builds the Debian package of the default build with
// the release code (`make package`'s), installs it on this machine with
// dpkg, checks what the package put where, runs the installed unit's
// ExecStart as the unit's user with the unit's environment file (as
// systemd would), sends an event, checks /readyz, reloads with the unit's
// ExecReload, probes it with `eventrouter health` (the image's
// HEALTHCHECK), stops it with SIGTERM, reinstalls it over itself (an
// upgrade: the edited conffile is kept), removes it (config and data
// kept) and purges it (both gone). The unit is checked with
// `systemd-analyze verify` and its exposure with `systemd-analyze
// security --offline`. It needs root, dpkg and systemd-analyze; it takes
// a lock so that two runs on one machine do not install at once.
func TestDebianPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("installs a package: not in -short")
	}
	needTools(t, "dpkg", "dpkg-deb", "dpkg-query", "systemd-analyze", "setpriv", "getent")
	if os.Getuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("installing a package needs root")
		}
		t.Skip("installing a package needs root")
	}
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "eventrouter-package-test.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", "eventrouter").Output(); err == nil && strings.Contains(string(out), "installed") {
		t.Fatalf("eventrouter is installed on this machine (%s); the test would replace it: remove it first (dpkg -P eventrouter)", out)
	}

	// Build: the default build with a version, as `make package` does
	// (without -trimpath, so that it only links).
	start := time.Now()
	root, _ := filepath.Abs("../..")
	dir := t.TempDir()
	b := release.Build{Root: root, Output: filepath.Join(dir, "eventrouter"), Version: "v0.1.0", Commit: staticCommit, Date: staticDate}
	if err := b.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	d, err := release.NewDist(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	deb, err := d.Deb(dir, release.DebOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s in %v", filepath.Base(deb), time.Since(start).Round(time.Millisecond))
	if filepath.Base(deb) != "eventrouter_0.1.0-1_"+debArch()+".deb" {
		t.Errorf("package file %s", filepath.Base(deb))
	}
	info := sh(t, "dpkg-deb", "-f", deb, "Package", "Version", "Depends")
	if !strings.Contains(info, "Version: 0.1.0-1") || !strings.Contains(info, "libc6 (>= 2.") || !strings.Contains(info, "libstdc++6 (>= ") {
		t.Errorf("control fields:\n%s", info)
	}

	// Install.
	start = time.Now()
	t.Cleanup(func() { _ = exec.Command("dpkg", "--purge", "eventrouter").Run() })
	out := sh(t, "dpkg", "-i", deb)
	t.Logf("installed in %v", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(out, "set EVENTROUTER_WRITE_KEY in /etc/eventrouter/eventrouter.env") {
		t.Errorf("dpkg -i said:\n%s\nwithout telling what to set", out)
	}
	if v := versionJSON(t, "/usr/bin/eventrouter"); v.Version != "v0.1.0" || v.Build != "default" || v.DuckDB == "" {
		t.Errorf("installed eventrouter version: %+v", v)
	}
	u, err := user.Lookup("eventrouter")
	if err != nil {
		t.Fatalf("no system user: %v", err)
	}
	if uid, _ := strconv.Atoi(u.Uid); uid == 0 || uid >= 1000 || u.HomeDir != "/var/lib/eventrouter" {
		t.Errorf("user eventrouter: uid %s, home %s; want a system user at /var/lib/eventrouter", u.Uid, u.HomeDir)
	}
	owner := func(path string) string {
		return strings.TrimSpace(sh(t, "stat", "-c", "%U:%G %a", path))
	}
	for path, want := range map[string]string{
		"/var/lib/eventrouter":                 "eventrouter:eventrouter 750",
		"/etc/eventrouter/eventrouter.env":     "root:eventrouter 640",
		"/etc/eventrouter/eventrouter.yaml":    "root:root 644",
		"/usr/bin/eventrouter":                 "root:root 755",
		"/usr/share/doc/eventrouter/copyright": "root:root 644",
		// The manual README.md links to.
		"/usr/share/doc/eventrouter/docs":              "root:root 755",
		"/usr/share/doc/eventrouter/docs/operating.md": "root:root 644",
	} {
		if got := owner(path); got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}
	conffiles := sh(t, "dpkg-query", "-W", "-f=${Conffiles}", "eventrouter")
	for _, f := range []string{"/etc/eventrouter/eventrouter.yaml", "/etc/eventrouter/eventrouter.env"} {
		if !strings.Contains(conffiles, f+" ") {
			t.Errorf("%s is not a conffile: %s", f, conffiles)
		}
	}
	copyright, _ := os.ReadFile("/usr/share/doc/eventrouter/copyright")
	for _, want := range []string{"Apache License", "github.com/nats-io/nats-server/v2@", "github.com/duckdb/duckdb-go-bindings/lib/", "router/cdn/analyticsjs/LICENSE.MD", "router/cdn/analyticsjs/LICENSE-bundled.txt", "js-cookie"} {
		if !strings.Contains(string(copyright), want) {
			t.Errorf("the copyright file lacks %q", want)
		}
	}

	// The unit.
	const unitPath = "/lib/systemd/system/eventrouter.service"
	if out, err := exec.Command("systemd-analyze", "verify", unitPath).CombinedOutput(); err != nil || strings.Contains(string(out), "eventrouter.service") {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	if out, err := exec.Command("systemd-analyze", "security", "--offline=true", "--threshold=25", unitPath).CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze security: %v\n%s", err, out)
	} else {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		t.Logf("systemd-analyze security: %s", lines[len(lines)-1])
	}
	unit := readUnit(t, unitPath)
	for k, want := range map[string]string{
		"User": "eventrouter", "Group": "eventrouter", "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/eventrouter",
		"NoNewPrivileges": "yes", "Restart": "on-failure", "ExecReload": "/bin/kill -HUP $MAINPID",
		"EnvironmentFile": "-/etc/eventrouter/eventrouter.env", "WorkingDirectory": "/var/lib/eventrouter",
		"CapabilityBoundingSet": "",
	} {
		if got := unit[k]; len(got) != 1 || got[0] != want {
			t.Errorf("unit %s = %q, want %q", k, got, want)
		}
	}

	// Configure it as the operator would, then run the unit's command as
	// the unit's user with the unit's environment.
	addr := freeAddr(t)
	envFile := "/etc/eventrouter/eventrouter.env"
	orig, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(orig), "EVENTROUTER_WRITE_KEY=\n", "EVENTROUTER_WRITE_KEY=pkg-write-key\n", 1) +
		"EVENTROUTER_LISTEN=" + addr + "\n"
	if edited == string(orig)+"EVENTROUTER_LISTEN="+addr+"\n" {
		t.Fatalf("the environment file has no empty EVENTROUTER_WRITE_KEY= line:\n%s", orig)
	}
	if err := os.WriteFile(envFile, []byte(edited), 0o640); err != nil {
		t.Fatal(err)
	}
	env := unitEnvironment(t, unit)
	exe := strings.Fields(unit["ExecStart"][0])
	cmd := exec.Command("setpriv", append([]string{"--reuid=" + unit["User"][0], "--regid=" + unit["Group"][0], "--init-groups", "--no-new-privs", "--"}, exe...)...)
	cmd.Dir = unit["WorkingDirectory"][0]
	cmd.Env = env
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	base := "http://" + addr
	waitReady(t, base, &logs)
	mustPost(t, base+"/v1/track", "pkg-write-key", `{"userId":"u1","event":"Package Tested","messageId":"pkg-1"}`)
	if m := mustGet(t, base+"/metrics"); !strings.Contains(m, `eventrouter_events_accepted_total{source="default"} 1`) ||
		!strings.Contains(m, `eventrouter_build_info{build="default"`) || !strings.Contains(m, `version="v0.1.0"`) {
		t.Errorf("/metrics does not count the event or name the build")
	}
	// The container image's HEALTHCHECK, with the service's environment.
	hc := exec.Command("/usr/bin/eventrouter", "health", "--config", "/etc/eventrouter/eventrouter.yaml")
	hc.Env = env
	if out, err := hc.CombinedOutput(); err != nil || !strings.Contains(string(out), "200 OK") {
		t.Errorf("eventrouter health: %v %s", err, out)
	}
	// ExecReload, with $MAINPID.
	reload := strings.Fields(strings.ReplaceAll(unit["ExecReload"][0], "$MAINPID", strconv.Itoa(cmd.Process.Pid)))
	sh(t, reload[0], reload[1:]...)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "SIGHUP") {
		if time.Now().After(deadline) {
			t.Fatalf("no sign of the reload in the log:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	mustGet(t, base+"/readyz") // still ready after the reload
	// The data directory is the user's.
	walkOwned(t, "/var/lib/eventrouter", u.Uid)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("did not stop within the unit's TimeoutStopSec")
	}

	// Upgrade (the same version over itself): the edited conffile stays.
	sh(t, "dpkg", "-i", deb)
	if got, _ := os.ReadFile(envFile); string(got) != edited {
		t.Errorf("reinstalling replaced the edited %s", envFile)
	}
	// Remove: config and data stay; purge: both go.
	sh(t, "dpkg", "--remove", "eventrouter")
	if _, err := os.Stat("/usr/bin/eventrouter"); !os.IsNotExist(err) {
		t.Errorf("/usr/bin/eventrouter after remove: %v", err)
	}
	for _, p := range []string{envFile, "/etc/eventrouter/eventrouter.yaml", "/var/lib/eventrouter/nats", "/var/lib/eventrouter/dedupe"} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("after remove: %v (kept for a reinstall)", err)
		}
	}
	sh(t, "dpkg", "--purge", "eventrouter")
	for _, p := range []string{"/etc/eventrouter", "/var/lib/eventrouter", unitPath} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s after purge: %v", p, err)
		}
	}
}

// unitEnvironment is the environment systemd gives the unit's process:
// PATH, and the variables of its EnvironmentFile (KEY=VALUE lines; "#"
// comments; a leading "-" makes the file optional).
func unitEnvironment(t *testing.T, unit map[string][]string) []string {
	t.Helper()
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	for _, f := range unit["EnvironmentFile"] {
		data, err := os.ReadFile(strings.TrimPrefix(f, "-"))
		if err != nil {
			if strings.HasPrefix(f, "-") && os.IsNotExist(err) {
				continue
			}
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || line[0] == '#' || line[0] == ';' {
				continue
			}
			if !strings.Contains(line, "=") {
				t.Fatalf("%s: bad line %q", f, line)
			}
			env = append(env, line)
		}
	}
	return env
}

// walkOwned fails the test for any file under dir not owned by uid.
func walkOwned(t *testing.T, dir, uid string) {
	t.Helper()
	n := 0
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		n++
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && strconv.Itoa(int(st.Uid)) != uid {
			t.Errorf("%s is owned by uid %d, not the service's user (%s)", path, st.Uid, uid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Errorf("%s holds %d entries: the server stored nothing there", dir, n)
	}
}

// debArch is this machine's Debian architecture.
func debArch() string {
	out, err := exec.Command("dpkg", "--print-architecture").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
