package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// InstallHint tells how to get the server binaries.
const InstallHint = "apt-get install -y postgresql"

// errNoBinaries is returned by start when initdb or pg_ctl is missing.
var errNoBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under /usr/lib/postgresql/*/bin")

// Server is a running throwaway PostgreSQL server listening on 127.0.0.1,
// with trust authentication for the superuser "postgres".
type Server struct {
	bin  string // directory of initdb and pg_ctl
	dir  string // temporary directory holding data and socket
	port int
	cred *syscall.Credential // user to run as, when running as root
	dbs  atomic.Int64
}

// Port returns the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// DSN returns a connection URL for database db.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// CreateDB creates a new, empty database and returns its DSN; it is
// dropped when tb ends.
func (s *Server) CreateDB(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), s.dbs.Add(1))
	if err := s.exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("pgtest: creating database: %v", err)
	}
	tb.Cleanup(func() {
		_ = s.exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return s.DSN(name)
}

func (s *Server) exec(ctx context.Context, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// New starts a server for tb alone, stopped when tb ends. It skips tb (or
// fails it when CI is set) if the binaries are missing.
func New(tb testing.TB) *Server {
	tb.Helper()
	s, err := start()
	if err != nil {
		skipOrFail(tb, err)
	}
	tb.Cleanup(s.Stop)
	return s
}

var shared struct {
	once    sync.Once
	srv     *Server
	err     error
	running atomic.Bool // Main is running the tests
}

// Main runs the package's tests and then stops the shared server that
// [DB] started; call it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	shared.running.Store(true)
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Stop()
	}
	return code
}

// DB returns the DSN of a new, empty database on the package's shared
// server (started on first use, stopped by [Main]); the database is
// dropped when tb ends. It skips tb (or fails it when CI is set) if the
// binaries are missing.
func DB(tb testing.TB) string {
	tb.Helper()
	if !shared.running.Load() {
		tb.Fatal("pgtest.DB needs the package's TestMain to call pgtest.Main, which stops the shared server")
	}
	shared.once.Do(func() { shared.srv, shared.err = start() })
	if shared.err != nil {
		skipOrFail(tb, shared.err)
	}
	return shared.srv.CreateDB(tb)
}

func skipOrFail(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, errNoBinaries) {
		if os.Getenv("CI") != "" {
			tb.Fatalf("pgtest: %v (CI is set, so this fails instead of skipping): %s", err, InstallHint)
			return
		}
		tb.Skipf("pgtest: %v; to run this test: %s", err, InstallHint)
		return
	}
	tb.Fatalf("pgtest: starting PostgreSQL: %v", err)
}

// libGlob is where Debian's packages put the server binaries.
var libGlob = "/usr/lib/postgresql/*/bin/initdb"

// findBin returns the directory holding initdb and pg_ctl.
func findBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob(libGlob)
	sort.Slice(matches, func(i, j int) bool { return version(matches[i]) > version(matches[j]) })
	for _, m := range matches {
		dir := filepath.Dir(m)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	return "", errNoBinaries
}

func version(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

// start initialises a cluster in a new temporary directory and starts it
// on a free port.
func start() (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	if os.Geteuid() == 0 {
		if s.cred, err = unprivileged(); err != nil {
			return nil, err
		}
	}
	if s.dir, err = os.MkdirTemp("", "pgtest-"); err != nil {
		return nil, err
	}
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			os.RemoveAll(s.dir)
			return nil, fmt.Errorf("handing %s to the server's user: %w", s.dir, err)
		}
	}
	data := filepath.Join(s.dir, "data")
	if out, err := s.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		os.RemoveAll(s.dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			os.RemoveAll(s.dir)
			return nil, err
		}
		opts := fmt.Sprintf("-p %d -h 127.0.0.1 -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100", s.port, s.dir)
		out, err := s.run("pg_ctl", "-D", data, "-l", filepath.Join(s.dir, "server.log"), "-w", "-t", "60", "-o", opts, "start")
		if err == nil {
			return s, nil
		}
		if attempt == 2 {
			log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
			os.RemoveAll(s.dir)
			return nil, fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, log)
		}
	}
}

// Stop stops the server and removes its files.
func (s *Server) Stop() {
	_, _ = s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "fast", "-w", "-t", "30", "stop")
	_ = os.RemoveAll(s.dir)
}

func (s *Server) run(prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, prog), args...)
	cmd.Dir = s.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
		cmd.Env = append(os.Environ(), "HOME="+s.dir)
	}
	err := cmd.Run()
	return out.Bytes(), err
}

// unprivileged returns the user the server runs as when the tests run as
// root: postgres, else nobody.
func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root, and neither a postgres nor a nobody user exists for the server (initdb refuses root)")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
