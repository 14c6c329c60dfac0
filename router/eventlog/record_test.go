package eventlog

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/eventlog/dedupe"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

func recordMessages(n int) ([]*router.Message, []dedupe.Key) {
	msgs := make([]*router.Message, n)
	keys := make([]dedupe.Key, n)
	for i := range msgs {
		id := fmt.Sprintf("m-%d", i)
		msgs[i] = &router.Message{
			ID: id, Source: "web", Type: "track", UserID: fmt.Sprintf("u-%d", i%3), Event: "Order Completed",
			ReceivedAt: time.Date(2026, 12, 5, 13, 0, 0, i, time.UTC), Violations: i % 2,
			Body: []byte(fmt.Sprintf(`{"type":"track","messageId":%q,"event":"Order Completed","properties":{"revenue":%d,"currency":"USD"},"context":{"library":{"name":"analytics.js","version":"1.0.0"}}}`, id, i)),
		}
		keys[i] = dedupe.KeyOf("web", id)
	}
	return msgs, keys
}

// A record round-trips through its encoding, compressed when that is
// smaller (S2 when small, zstd when large) and plain otherwise, and its
// keys come back from the headers.
func TestRecordRoundTrip(t *testing.T) {
	for _, n := range []int{1, 5, 200} {
		msgs, keys := recordMessages(n)
		if n == 1 {
			msgs[0].Body = []byte(`{}`) // too small to compress
		}
		nm := encodeRecord("events.p0", msgs, keys)
		plain := 0
		for _, m := range msgs {
			plain += encodedSize(m)
		}
		switch v := nm.Data[0]; {
		case n == 1 && v != recordV1:
			t.Fatalf("%d messages: version %d, want plain %d", n, v, recordV1)
		case n == 5 && v != recordV2:
			t.Fatalf("%d messages: version %d, want S2-compressed %d", n, v, recordV2)
		case n == 200 && v != recordV3:
			t.Fatalf("%d messages: version %d, want zstd-compressed %d", n, v, recordV3)
		case n > 1 && len(nm.Data)*2 > plain:
			t.Fatalf("%d messages: %d bytes compressed of about %d: less than half expected", n, len(nm.Data), plain)
		}
		got, err := decodeRecord(nm.Header, nm.Data)
		if err != nil {
			t.Fatalf("%d messages: %v", n, err)
		}
		if len(got) != n {
			t.Fatalf("%d messages: decoded %d", n, len(got))
		}
		for i, m := range got {
			w := msgs[i]
			if m.ID != w.ID || m.Source != w.Source || m.Type != w.Type || m.UserID != w.UserID || m.Event != w.Event ||
				!m.ReceivedAt.Equal(w.ReceivedAt) || m.Violations != w.Violations || !bytes.Equal(m.Body, w.Body) {
				t.Fatalf("%d messages: message %d = %+v, want %+v", n, i, m, *w)
			}
		}
		k, err := recordKeys(nm.Header)
		if err != nil || len(k) != n || k[n-1] != keys[n-1] {
			t.Fatalf("%d messages: keys %v, %v", n, len(k), err)
		}
	}
}

// A damaged record is an error, never a panic or a short read; a
// compressed body claiming more than a record can hold is refused before
// anything is allocated for it.
func TestRecordDamaged(t *testing.T) {
	msgs, keys := recordMessages(20)
	nm := encodeRecord("events.p0", msgs, keys)
	cases := map[string][]byte{
		"empty":           {},
		"unknown version": append([]byte{9}, nm.Data[1:]...),
		"truncated":       nm.Data[:len(nm.Data)/2],
		"bomb":            {recordV2, 0xff, 0xff, 0xff, 0xff, 0x0f}, // claims 4 GiB
		"garbage":         append([]byte{recordV2}, []byte(strings.Repeat("\x00\x01", 50))...),
		"zstd bomb":       append([]byte{recordV3}, zstdEncoder().EncodeAll(make([]byte, maxDecodedRecord+1), nil)...),
		"zstd no size":    append([]byte{recordV3}, zstdNoSize(t, plainBody(msgs))...),
		"zstd garbage":    append([]byte{recordV3}, []byte(strings.Repeat("\x28\xb5\x2f\xfd", 25))...),
		"zstd truncated":  nm.Data[:len(nm.Data)-3],
	}
	for name, data := range cases {
		if _, err := decodeRecord(nm.Header, data); !errors.Is(err, errRecord) {
			t.Errorf("%s: err = %v, want errRecord", name, err)
		}
	}
}

// plainBody is the uncompressed body of a record of msgs, without its
// version byte.
func plainBody(msgs []*router.Message) []byte {
	bufs := &recordBuffers{}
	encodeRecordWith(bufs, "events.p0", msgs, nil)
	return bufs.raw[1:]
}

// zstdNoSize compresses b as a zstd stream whose frame does not state its
// decoded size, which a record must.
func zstdNoSize(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	// Flushed before the end, the frame's header is written before its
	// size is known.
	if _, err := w.Write(b[:len(b)/2]); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b[len(b)/2:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A large record compressed with S2 (as earlier versions wrote them) is
// read.
func TestRecordV2Read(t *testing.T) {
	msgs, keys := recordMessages(20)
	nm := encodeRecord("events.p0", msgs, keys)
	body := plainBody(msgs)
	v2 := append([]byte{recordV2}, s2.Encode(nil, body)...)
	got, err := decodeRecord(nm.Header, v2)
	if err != nil || len(got) != 20 || got[19].ID != "m-19" || !bytes.Equal(got[19].Body, msgs[19].Body) {
		t.Fatalf("version 2 record: %d messages, %v", len(got), err)
	}
}
