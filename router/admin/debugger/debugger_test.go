package debugger

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/router/admin"
)

func TestServesShellWithoutToken(t *testing.T) {
	on := admin.New("page-token", nil)
	Register(on)
	off := admin.New("", nil)
	Register(off)

	tests := []struct {
		name     string
		srv      *admin.Server
		path     string
		status   int
		ctype    string
		contains string
	}{
		{"page", on, "/debugger", 200, "text/html", `id="token-input"`},
		{"page with slash", on, "/debugger/", 200, "text/html", `id="token-form"`},
		{"index by name", on, "/debugger/index.html", 200, "text/html", `id="app"`},
		{"script", on, "/debugger/app.js", 200, "text/javascript", "Authorization: 'Bearer '"},
		{"stylesheet", on, "/debugger/style.css", 200, "text/css", "system-ui"},
		{"unknown file", on, "/debugger/nope.js", 404, "", ""},
		{"dot file", on, "/debugger/.hidden", 404, "", ""},
		{"page when admin is off", off, "/debugger", 404, "", "admin_token"},
		{"script when admin is off", off, "/debugger/app.js", 404, "", "admin_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			tt.srv.ServeHTTP(w, httptest.NewRequest("GET", tt.path, nil))
			body, _ := io.ReadAll(w.Result().Body)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, body)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, tt.ctype) {
				t.Errorf("Content-Type %q, want %s", ct, tt.ctype)
			}
			if !strings.Contains(string(body), tt.contains) {
				t.Errorf("body does not contain %q", tt.contains)
			}
			if tt.status == 200 {
				for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options"} {
					if w.Header().Get(h) == "" {
						t.Errorf("header %s missing", h)
					}
				}
			}
		})
	}
}

// TestDataStaysBehindToken checks that registering the page opens nothing
// else: the admin routes beside it still need the token.
func TestDataStaysBehindToken(t *testing.T) {
	s := admin.New("page-token", nil)
	Register(s)
	s.HandleFunc("GET /admin/destinations", func(w http.ResponseWriter, r *http.Request) {
		admin.WriteJSON(w, 200, map[string]any{"destinations": []any{}})
	})
	tests := []struct {
		name   string
		path   string
		auth   string
		status int
	}{
		{"no token", "/admin/destinations", "", 401},
		{"wrong token", "/admin/destinations", "Bearer nope", 401},
		{"right token", "/admin/destinations", "Bearer page-token", 200},
		{"debugger-looking admin path", "/admin/debugger/app.js", "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.path, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}
		})
	}
}

// TestNoExternalResources keeps the page self-contained: no CDN, no
// third-party script, font or stylesheet.
func TestNoExternalResources(t *testing.T) {
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range external.FindAllString(string(b), -1) {
			t.Errorf("%s refers to an external resource: %s", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestScriptFindsItsElements checks that every element the script looks
// up by a literal id exists in the page, so a renamed id fails here and not
// silently in a browser.
func TestScriptFindsItsElements(t *testing.T) {
	js, err := static.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	html, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bid="([^"]+)"`).FindAllStringSubmatch(string(html), -1) {
		if ids[m[1]] {
			t.Errorf("id %q appears twice in index.html", m[1])
		}
		ids[m[1]] = true
	}
	refs := regexp.MustCompile(`\$\('([^']+)'\)`).FindAllStringSubmatch(string(js), -1)
	if len(refs) < 20 {
		t.Fatalf("found only %d element lookups in app.js; the pattern no longer matches the script", len(refs))
	}
	for _, m := range refs {
		if !ids[m[1]] {
			t.Errorf("app.js looks up #%s, which index.html does not have", m[1])
		}
	}
	// Lookups built from a view name: $(kind + '-list') and the like.
	for _, kind := range []string{"dlq", "quarantine"} {
		for _, suffix := range []string{"-list", "-filters", "-more", "-resend-selected"} {
			if !ids[kind+suffix] {
				t.Errorf("index.html has no #%s%s", kind, suffix)
			}
		}
	}
	for _, tab := range []string{"stream", "dlq", "quarantine", "log"} {
		if !ids["tab-"+tab] || !ids["view-"+tab] {
			t.Errorf("index.html lacks #tab-%s or #view-%s", tab, tab)
		}
	}
}
