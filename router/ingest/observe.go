package ingest

import (
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// Observer is told about every request ingest stored, for the live
// debugger. ObserveIngest is called from the request's goroutine, after the
// log stored the request's messages and before the answer is written, so it
// must be quick and must not block; the record's slices belong to ingest
// and are reused once it returns.
type Observer interface {
	ObserveIngest(rec router.IngestRecord)
}

// Observe makes h report to o. Call it before serving; nil (the default)
// reports nothing, and then the request path does no work for it.
func (h *Handler) Observe(o Observer) { h.obs = o }

// observe reports a stored request.
func (q *request) observe() {
	o := q.h.obs
	if o == nil {
		return
	}
	var raw []byte
	if q.buf != nil {
		raw = q.buf.Bytes()
	}
	o.ObserveIngest(router.IngestRecord{
		Raw:         raw,
		ReceivedAt:  q.receivedAt,
		Accepted:    q.accepted,
		Rejected:    q.rejected,
		Quarantined: q.pc.quarantined,
	})
}

// observeWebhook reports a stored webhook delivery.
func (h *Handler) observeWebhook(body []byte, receivedAt time.Time, accepted []router.Message, rejected []router.Rejected, pc *planCheck) {
	if h.obs == nil {
		return
	}
	rec := router.IngestRecord{Raw: body, ReceivedAt: receivedAt, Accepted: accepted, Rejected: rejected}
	if pc != nil {
		rec.Quarantined = pc.quarantined
	}
	h.obs.ObserveIngest(rec)
}
