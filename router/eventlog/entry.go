package eventlog

import (
	"bytes"
	"encoding/json"
)

// marshalEntry is json.Marshal without its HTML escaping, for the JSON
// entries of the rejected, sample and quarantine streams: escaping <, > and
// & as \u003c would grow a body of them six times, and an entry over NATS's
// max_payload (1 MiB by default) could never be stored. Readers decode both
// forms alike.
func marshalEntry(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
