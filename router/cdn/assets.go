package cdn

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"sync"
)

// vendored holds analytics.js as the npm package @segment/analytics-next
// ships it (dist/umd): standalone.js, the build the classic snippet loads,
// and the chunks it loads on demand. See analyticsjs/README.md.
//
//go:embed analyticsjs/*.js analyticsjs/VERSION
var vendored embed.FS

// AnalyticsJSVersion is the version of @segment/analytics-next that the
// binary embeds and serves.
var AnalyticsJSVersion = func() string {
	b, err := vendored.ReadFile("analyticsjs/VERSION")
	if err != nil {
		panic("cdn: the embedded analytics.js has no VERSION: " + err.Error())
	}
	return strings.TrimSpace(string(b))
}()

// writeKeyPlaceholder is the string literal that Segment's CDN replaces
// with the source's write key in analytics.min.js (the bundle reads it as
// window.analyticsWriteKey, its fallback when the snippet's
// analytics._writeKey is not there).
const writeKeyPlaceholder = `"__WRITE_KEY__"`

// asset is one file served, with its gzip encoding made on first use.
type asset struct {
	body        []byte
	etag        string
	contentType string
	cache       string

	gzOnce sync.Once
	gz     []byte
}

func newAsset(body []byte, contentType, cache string) *asset {
	sum := sha256.Sum256(body)
	return &asset{body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, contentType: contentType, cache: cache}
}

func (a *asset) gzipped() []byte {
	a.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(a.body)
		zw.Close()
		a.gz = buf.Bytes()
	})
	return a.gz
}

// serve writes a (HEAD: its headers only), gzip-encoded when the client
// accepts it, or 304 when the client's copy is current.
func (a *asset) serve(w http.ResponseWriter, r *http.Request) int {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", a.cache)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	body, etag := a.body, a.etag
	if acceptsGzip(r) {
		body, etag = a.gzipped(), strings.TrimSuffix(a.etag, `"`)+`-gz"`
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return http.StatusNotModified
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
	return http.StatusOK
}

// acceptsGzip reports whether Accept-Encoding lists gzip with a non-zero
// quality.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
				continue
			}
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

const (
	jsType         = "text/javascript; charset=utf-8"
	cacheImmutable = "public, max-age=31536000, immutable"
	// cacheLoader is for analytics.min.js: short, so that an upgraded
	// binary's analytics.js reaches browsers within minutes.
	cacheLoader = "public, max-age=300"
)

// bundles are the chunks by file name, served at /analytics-next/bundles/;
// their names carry a content hash, so they are cached for good.
var bundles = func() map[string]*asset {
	m := map[string]*asset{}
	files, err := fs.Glob(vendored, "analyticsjs/*.bundle.*.js")
	if err != nil || len(files) == 0 {
		panic("cdn: the embedded analytics.js has no chunks")
	}
	for _, f := range files {
		b, _ := vendored.ReadFile(f)
		m[strings.TrimPrefix(f, "analyticsjs/")] = newAsset(b, jsType, cacheImmutable)
	}
	return m
}()

// standalone is analytics.js's standalone build, with the write key
// placeholder still in it.
var standalone = func() []byte {
	b, err := vendored.ReadFile("analyticsjs/standalone.js")
	if err != nil {
		panic("cdn: the embedded analytics.js has no standalone.js: " + err.Error())
	}
	if n := bytes.Count(b, []byte(writeKeyPlaceholder)); n != 1 {
		panic(fmt.Sprintf("cdn: the embedded standalone.js holds the write key placeholder %d times, want 1", n))
	}
	return b
}()

// loaderFor returns analytics.min.js for writeKey: the standalone build
// with the key written in, as Segment's CDN serves it.
func loaderFor(writeKey string) []byte {
	q, _ := json.Marshal(writeKey) // escapes <, >, &, U+2028 and U+2029 too
	return bytes.Replace(standalone, []byte(writeKeyPlaceholder), q, 1)
}
