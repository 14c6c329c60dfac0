package file

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/eventrouter/eventrouter/router"
)

// errClosed is returned by Send after Close.
var errClosed = errors.New("file destination is closed")

// file is the router.Destination appending NDJSON to one file.
type file struct {
	cfg  Config
	name string

	mu     sync.Mutex // serialises writes and guards f and buf
	f      *os.File
	buf    bytes.Buffer
	closed bool
}

func open(cfg Config, name string) (*file, error) {
	if dir := filepath.Dir(cfg.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating directory: %w", err)
		}
	}
	f, err := os.OpenFile(cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening file: %w", err)
	}
	return &file{cfg: cfg, name: name, f: f}, nil
}

// Send appends the batch, one message per line, with one write call. A
// failed write is retryable (a full disk may clear); the file is truncated
// back to its previous size where possible, so a retry does not leave a
// partial line. A message whose body is not valid JSON fails permanently
// (in a *router.BatchError) while the others are written.
func (d *file) Send(ctx context.Context, batch []router.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("appending batch to file %q: %w", d.name, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("appending batch to file %q: %w", d.name, errClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("appending batch to file %q: %w", d.name, err)
	}

	d.buf.Reset()
	var failed map[int]error
	for i, m := range batch {
		if err := appendLine(&d.buf, m.Body); err != nil {
			if failed == nil {
				failed = map[int]error{}
			}
			failed[i] = router.Permanent(fmt.Errorf("message %s: %w", m.ID, err))
		}
	}
	if d.buf.Len() > 0 {
		if err := d.write(d.buf.Bytes()); err != nil {
			return fmt.Errorf("appending batch to file %q: %w", d.name, err)
		}
	}
	if d.buf.Cap() > 8<<20 {
		d.buf = bytes.Buffer{} // do not keep a huge buffer around
	}
	if failed != nil {
		return &router.BatchError{Failed: failed}
	}
	return nil
}

// appendLine writes body and a newline to buf, compacting a body that
// spans several lines. An empty or invalid multi-line body is an error and
// leaves buf unchanged.
func appendLine(buf *bytes.Buffer, body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("empty body")
	}
	if bytes.ContainsAny(body, "\r\n") {
		n := buf.Len()
		if err := json.Compact(buf, body); err != nil {
			buf.Truncate(n)
			return fmt.Errorf("compacting body: %w", err)
		}
	} else {
		buf.Write(body)
	}
	buf.WriteByte('\n')
	return nil
}

// write appends p with one write call, then fsyncs if configured. On error
// it truncates the file back to its previous size (best effort) so that a
// retry starts on a clean line.
func (d *file) write(p []byte) error {
	var before int64 = -1
	if st, err := d.f.Stat(); err == nil && st.Mode().IsRegular() {
		before = st.Size()
	}
	_, err := d.f.Write(p)
	if err == nil && d.cfg.Sync {
		if err = d.f.Sync(); err != nil {
			err = fmt.Errorf("syncing: %w", err)
		}
	}
	if err != nil && before >= 0 {
		_ = d.f.Truncate(before)
	}
	if err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	return nil
}

// Close syncs and closes the file. Later calls return nil.
func (d *file) Close(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	syncErr := d.f.Sync()
	if err := d.f.Close(); err != nil {
		return fmt.Errorf("closing file %q: %w", d.name, err)
	}
	if syncErr != nil && !errors.Is(syncErr, os.ErrInvalid) {
		return fmt.Errorf("closing file %q: syncing: %w", d.name, syncErr)
	}
	return nil
}
