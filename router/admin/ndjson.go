package admin

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// NDJSON streams the answer of a long operation as newline-delimited JSON
// (ADMIN_API.md): progress lines {"progress":{"done","total","matched"}} at
// most every 200 ms, then one final {"result":...} or {"error":...} line.
// The server's write timeout does not apply to it.
type NDJSON struct {
	mu   sync.Mutex
	w    http.ResponseWriter
	rc   *http.ResponseController
	enc  *json.Encoder
	last time.Time
	// sent is the last progress line written; wrote tells whether there
	// was one.
	sent  Progress
	wrote bool
}

// Progress is one progress line's content.
type Progress struct {
	Done    uint64 `json:"done"`
	Total   uint64 `json:"total"`
	Matched uint64 `json:"matched"`
}

// StartNDJSON writes the 200 header of an NDJSON answer.
func StartNDJSON(w http.ResponseWriter) *NDJSON {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	return &NDJSON{w: w, rc: rc, enc: json.NewEncoder(w)}
}

// Progress writes a progress line unless one was written less than 200 ms
// ago.
func (n *NDJSON) Progress(p Progress) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if time.Since(n.last) < 200*time.Millisecond {
		return
	}
	n.last = time.Now()
	n.progress(p)
}

// Result writes the final progress line (unless the last progress line
// written already says the same) and the result line.
func (n *NDJSON) Result(p Progress, v any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.wrote || n.sent != p {
		n.progress(p)
	}
	n.line(map[string]any{"result": v})
}

func (n *NDJSON) progress(p Progress) {
	n.sent, n.wrote = p, true
	n.line(map[string]any{"progress": p})
}

// Error writes the final error line.
func (n *NDJSON) Error(code, message string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.line(errorBody{Error: &APIError{Code: code, Message: message}})
}

func (n *NDJSON) line(v any) {
	_ = n.enc.Encode(v)
	_ = n.rc.Flush()
}
