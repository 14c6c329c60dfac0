package admin

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, 200, map[string]string{"ok": "yes"}) })
	on := New("s3cret-token", nil)
	on.Handle("GET /admin/ping", ok)
	on.HandlePublic("GET /debugger", ok)
	off := New("", nil)
	off.Handle("GET /admin/ping", ok)
	off.HandlePublic("GET /debugger", ok)

	tests := []struct {
		name   string
		srv    *Server
		path   string
		auth   string
		status int
	}{
		{"no token header", on, "/admin/ping", "", 401},
		{"wrong token", on, "/admin/ping", "Bearer nope", 401},
		{"prefix of the token", on, "/admin/ping", "Bearer s3cret", 401},
		{"basic scheme", on, "/admin/ping", "Basic s3cret-token", 401},
		{"right token", on, "/admin/ping", "Bearer s3cret-token", 200},
		{"scheme case-insensitive", on, "/admin/ping", "bearer s3cret-token", 200},
		{"unknown path with token", on, "/admin/nope", "Bearer s3cret-token", 404},
		{"unknown path without token", on, "/admin/nope", "", 401},
		{"public shell without token", on, "/debugger", "", 200},
		{"off: api", off, "/admin/ping", "Bearer s3cret-token", 404},
		{"off: page", off, "/debugger", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.path, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			tt.srv.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, tt.status, w.Body.String())
			}
		})
	}
}

func TestPathValue(t *testing.T) {
	s := New("tok", nil)
	s.HandleFunc("GET /admin/items/{seq}", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, 200, map[string]string{"seq": r.PathValue("seq")})
	})
	r := httptest.NewRequest("GET", "/admin/items/42", nil)
	r.Header.Set("Authorization", "Bearer tok")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 200 || w.Body.String() != "{\"seq\":\"42\"}\n" {
		t.Fatalf("got %d %q, want the path value 42", w.Code, w.Body.String())
	}
}
