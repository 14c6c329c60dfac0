package debugger

import (
	"bytes"
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/router/admin"
)

//go:embed static
var static embed.FS

// contentSecurityPolicy lets the page load only its own files and talk
// only to its own origin: no inline script, no third-party anything.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Register serves the debugger page on s without the token check (the
// shell holds no data): GET /debugger and GET /debugger/ answer the page,
// GET /debugger/<file> its stylesheet and script. Every request the page
// makes for data goes to the token-guarded /admin/ routes.
func Register(s *admin.Server) {
	h := Handler()
	s.HandlePublic("GET /debugger", h)
	s.HandlePublic("GET /debugger/", h)
}

// Handler returns the http.Handler behind [Register], for mounting the page
// elsewhere: it answers /debugger and /debugger/ with the page, and
// /debugger/<file> with the embedded file of that name, 404 otherwise.
func Handler() http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		// The embed pattern above guarantees the directory exists.
		panic("debugger: embedded static directory missing: " + err.Error())
	}
	return &handler{files: files, modTime: time.Now()}
}

type handler struct {
	files   fs.FS
	modTime time.Time
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/debugger")
	name = strings.TrimPrefix(name, "/")
	if name == "" {
		name = "index.html"
	}
	if name != path.Clean(name) || strings.HasPrefix(name, ".") || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(h.files, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		hd.Set("Content-Type", ct)
	}
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	// The files change only with the binary: revalidate on every load so
	// an upgrade never runs an old script against a new API.
	hd.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, h.modTime, bytes.NewReader(b))
}
