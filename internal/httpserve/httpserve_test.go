package httpserve

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func answer(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
}

func get(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestTwoListeners serves the public and admin handlers on their own
// addresses, and shuts both down: Serve's channel gets
// http.ErrServerClosed from each.
func TestTwoListeners(t *testing.T) {
	s, err := Listen(Options{Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", ReadTimeout: time.Second, WriteTimeout: time.Second, Logger: quiet()}, answer("public"), answer("admin"))
	if err != nil {
		t.Fatal(err)
	}
	done := s.Serve()
	if s.Addr() == s.AdminAddr() {
		t.Fatalf("one address for both: %s", s.Addr())
	}
	if got := get(t, s.Addr()); got != "public" {
		t.Errorf("public listener: %q", got)
	}
	if got := get(t, s.AdminAddr()); got != "admin" {
		t.Errorf("admin listener: %q", got)
	}
	s.Shutdown(time.Second)
	for range 2 {
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	}
}

// TestOneListener serves only public when there is no admin address.
func TestOneListener(t *testing.T) {
	s, err := Listen(Options{Listen: "127.0.0.1:0", Logger: quiet()}, answer("public"), answer("admin"))
	if err != nil {
		t.Fatal(err)
	}
	done := s.Serve()
	if s.AdminAddr() != s.Addr() || get(t, s.AdminAddr()) != "public" {
		t.Errorf("admin address %s, public %s", s.AdminAddr(), s.Addr())
	}
	s.Shutdown(time.Second)
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
}

// TestAddressInUse: an admin address in use stops Listen with an error
// naming it, and the public listener it had opened is closed again.
func TestAddressInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()
	_, err = Listen(Options{Listen: freeAddr, AdminListen: busy.Addr().String(), Logger: quiet()}, answer(""), answer(""))
	if err == nil || !strings.Contains(err.Error(), busy.Addr().String()+" (http.admin_listen)") {
		t.Fatalf("admin address in use: %v", err)
	}
	again, err := net.Listen("tcp", freeAddr)
	if err != nil {
		t.Fatalf("the public listener was left open: %v", err)
	}
	again.Close()
	if _, err := Listen(Options{Listen: busy.Addr().String(), Logger: quiet()}, answer(""), nil); err == nil || !strings.HasPrefix(err.Error(), "listening on "+busy.Addr().String()) {
		t.Errorf("public address in use: %v", err)
	}
}

// TestShutdownWaitsForRequestsInFlight: a request that is running when
// Shutdown starts is answered in full, and Shutdown returns after it.
func TestShutdownWaitsForRequestsInFlight(t *testing.T) {
	started := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "finished")
	})
	s, err := Listen(Options{Listen: "127.0.0.1:0", WriteTimeout: 5 * time.Second, Logger: quiet()}, slow, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Serve()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + s.Addr() + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-started
	begin := time.Now()
	s.Shutdown(5 * time.Second)
	if waited := time.Since(begin); waited < 200*time.Millisecond {
		t.Errorf("Shutdown returned after %v, before the request in flight finished", waited)
	}
	if body := <-got; body != "finished" {
		t.Errorf("the request in flight got %q", body)
	}
}
