package eventlog

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/eventrouter/eventrouter/router"
)

// DefaultSampleMaxBytes is the default size cap of the sample stream
// (Config.SampleMaxBytes).
const DefaultSampleMaxBytes = 8 << 20

// sampleMaxMsgSize is the largest entry the sample stream takes; ingest
// keeps at most 4 KiB of a body (as a JSON string, up to six times that
// when escaped) plus the entry's fields.
const sampleMaxMsgSize = 32 << 10

// sampleStream is the name of the stream that keeps the sample of
// unauthenticated requests.
func (l *Log) sampleStream() string { return l.cfg.StreamPrefix + "_SAMPLE" }

// sampleConfig is the configuration of the sample stream: subjects
// <prefix>.sample.<reason>, the log's retention, and a size cap of its own,
// Config.SampleMaxBytes, with the DiscardOld policy. Unlike the other
// streams it never refuses a write because it is full: the oldest entries
// make room. What unauthenticated clients send can therefore neither grow
// the disk past the cap nor fill another stream's.
func (l *Log) sampleConfig() jetstream.StreamConfig {
	cfg := l.streamConfig(l.sampleStream(), l.cfg.StreamPrefix+".sample.>")
	cfg.Description = "eventrouter sample of unauthenticated requests (capped; the oldest entries make room)"
	cfg.MaxBytes = int64(l.cfg.SampleMaxBytes)
	cfg.Discard = jetstream.DiscardOld
	cfg.MaxMsgSize = sampleMaxMsgSize
	cfg.Duplicates = 0
	return cfg
}

// Sample stores entries of the sample of unauthenticated requests
// (ingest.Sampler), as the JSON of router.Rejected, on subject
// <prefix>.sample.<reason> of the sample stream. Errors wrap
// router.ErrUnavailable; the caller (ingest) only counts them.
func (l *Log) Sample(ctx context.Context, sampled []router.Rejected) error {
	if len(sampled) == 0 {
		return nil
	}
	pubs := make([]*nats.Msg, len(sampled))
	for i := range sampled {
		r := &sampled[i]
		data, err := marshalEntry(r)
		if err != nil {
			return fmt.Errorf("encoding sample entry: %w", err)
		}
		h := nats.Header{hdrReason: []string{escape(r.Reason)}}
		pubs[i] = &nats.Msg{Subject: l.cfg.StreamPrefix + ".sample." + subjectToken(r.Reason), Header: h, Data: data}
	}
	if _, err := l.publishAll(ctx, pubs); err != nil {
		return fmt.Errorf("storing %d sample entr(ies): %w", len(sampled), err)
	}
	return nil
}
