// Package pgtest starts throwaway PostgreSQL servers for tests, from the
// system's server binaries (initdb, pg_ctl, postgres) found on PATH or
// under /usr/lib/postgresql/*/bin.
//
// A test package that needs PostgreSQL calls [Main] from its TestMain and
// [DB] in each test: the package's tests share one server, started on the
// first call, and each test gets a database of its own, so tests stay fast
// and independent. [New] starts a server of the test's own.
//
// Where the binaries are missing the tests skip, with a message saying how
// to install them (apt-get install -y postgresql); when the environment
// variable CI is set they fail instead, so that CI cannot pass without
// running them. initdb refuses to run as root: as root the server runs as
// the "postgres" user (else "nobody"), in a temporary directory that user
// owns.
package pgtest
