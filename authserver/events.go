package authserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/assent-auth/assent/store"
)

// The event stream serves the audit log to the operator console over
// server-sent events. A client names the last sequence number it has seen
// (?after= or the Last-Event-ID header) and gets every later event: first
// those already stored, read in pages, then new ones as they are appended.
// It never misses one: the subscription starts before the stored events
// are read, and any gap between what it has sent and a live event is
// filled from the store (appends are committed before they are published,
// so the store has every event below a published one).

// eventHub fans appended audit events out to the open streams and feeds
// the in-memory statistics. Publishing never blocks: a subscriber whose
// buffer is full is dropped, and its client resumes from its last seq.
type eventHub struct {
	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	buffer int // per-subscriber buffer; set before the first subscribe
	stats  *eventStats
	closed bool // the server is shutting down: streams end, none start
}

// subscriber is one open stream. Its channel is closed when it is
// unsubscribed or dropped.
type subscriber struct {
	ch chan store.AuditEvent
}

func newEventHub(now func() time.Time) *eventHub {
	return &eventHub{subs: map[*subscriber]struct{}{}, buffer: 1024, stats: newEventStats(now)}
}

// publish hands e, already stored with its Seq, to every subscriber.
func (h *eventHub) publish(e store.AuditEvent) {
	h.stats.add(e)
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		select {
		case sub.ch <- e:
		default:
			close(sub.ch)
			delete(h.subs, sub)
		}
	}
}

func (h *eventHub) subscribe() *subscriber {
	h.mu.Lock()
	defer h.mu.Unlock()
	sub := &subscriber{ch: make(chan store.AuditEvent, h.buffer)}
	if h.closed {
		close(sub.ch)
		return sub
	}
	h.subs[sub] = struct{}{}
	return sub
}

// CloseStreams ends every event stream, for a graceful shutdown
// (http.Server.RegisterOnShutdown): open streams never become idle, so
// Shutdown would otherwise wait for them until its deadline. Clients
// reconnect and resume from their last sequence number.
func (s *Server) CloseStreams() {
	h := s.events
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for sub := range h.subs {
		close(sub.ch)
		delete(h.subs, sub)
	}
}

func (h *eventHub) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

func (h *eventHub) unsubscribe(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[sub]; ok {
		delete(h.subs, sub)
		close(sub.ch)
	}
}

// eventFilter selects events by kind (exact, or a prefix ending in "."),
// subject user id and risk decision; empty fields match everything.
type eventFilter struct {
	kinds    []string
	user     string
	decision string
}

func (f eventFilter) match(e store.AuditEvent) bool {
	if len(f.kinds) > 0 {
		ok := false
		for _, k := range f.kinds {
			if k == e.Kind || (strings.HasSuffix(k, ".") && strings.HasPrefix(e.Kind, k)) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if f.user != "" && e.Subject != f.user && e.Actor != f.user {
		return false
	}
	if f.decision != "" && e.Details["decision"] != f.decision {
		return false
	}
	return true
}

// heartbeatEvery keeps idle streams (and the proxies between) alive and
// tells the client how far the log has been read.
const heartbeatEvery = 15 * time.Second

// streamWriteTimeout bounds one write to a stream.
const streamWriteTimeout = 30 * time.Second

func (s *Server) adminEventRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/v1/events", s.adminEvents)
	mux.HandleFunc("GET /admin/v1/stats", s.adminStats)
	s.adminConsoleRoutes(mux)
}

func (s *Server) adminEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after := q.Get("after")
	if after == "" {
		after = r.Header.Get("Last-Event-ID")
	}
	var last uint64
	if after != "" {
		n, err := strconv.ParseUint(after, 10, 64)
		if err != nil {
			writeProblem(w, http.StatusBadRequest, "Invalid query.", FieldError{Field: "after", Detail: "must be a sequence number"})
			return
		}
		last = n
	}
	f := eventFilter{user: q.Get("user"), decision: q.Get("decision")}
	for _, k := range q["kind"] {
		for k := range strings.SplitSeq(k, ",") {
			if k = strings.TrimSpace(k); k != "" {
				f.kinds = append(f.kinds, k)
			}
		}
	}
	if f.user != "" && strings.Contains(f.user, "@") {
		u, err := s.profiles.GetByEmail(r.Context(), f.user)
		if err != nil {
			s.writeDomainError(w, r, err)
			return
		}
		f.user = u.ID
	}
	rc := http.NewResponseController(w)
	// The server's write timeout would end the stream; each write gets
	// its own deadline instead, so a client that stops reading is let go.
	rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	sub := s.events.subscribe()
	defer s.events.unsubscribe(sub)

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	if rc.Flush() != nil {
		return
	}

	// catchUp sends the stored events after last, up to and including
	// upTo (0: all of them).
	catchUp := func(upTo uint64) bool {
		for {
			rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
			evs, err := s.store.ListAudit(r.Context(), last, 500)
			if err != nil {
				s.log.ErrorContext(r.Context(), "event stream: list audit failed", "err", err)
				return false
			}
			for _, e := range evs {
				if upTo != 0 && e.Seq > upTo {
					return rc.Flush() == nil
				}
				if f.match(e) && !writeEvent(w, e) {
					return false
				}
				last = e.Seq
			}
			if rc.Flush() != nil {
				return false
			}
			if len(evs) < 500 {
				return true
			}
		}
	}
	if !catchUp(0) {
		return
	}
	tick := time.NewTicker(heartbeatEvery)
	defer tick.Stop()
	for {
		rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			fmt.Fprintf(w, "event: heartbeat\ndata: {\"seq\":%d}\n\n", last)
			if rc.Flush() != nil {
				return
			}
		case e, ok := <-sub.ch:
			if !ok {
				// Too slow (the buffer filled up), or the server is
				// stopping. The client resumes from the last seq it has.
				why := "dropped"
				if s.events.isClosed() {
					why = "closing"
				}
				fmt.Fprintf(w, "event: %s\ndata: {\"seq\":%d}\n\n", why, last)
				rc.Flush()
				return
			}
			if e.Seq > last {
				if e.Seq > last+1 && !catchUp(e.Seq-1) {
					return
				}
				if f.match(e) && !writeEvent(w, e) {
					return
				}
				last = e.Seq
			}
			// Write what is buffered in one go, but never leave it
			// waiting once the queue is empty.
			if len(sub.ch) == 0 && rc.Flush() != nil {
				return
			}
		}
	}
}

func writeEvent(w http.ResponseWriter, e store.AuditEvent) bool {
	b, err := json.Marshal(e)
	if err != nil {
		return false
	}
	_, err = fmt.Fprintf(w, "id: %d\nevent: audit\ndata: %s\n\n", e.Seq, b)
	return err == nil
}

func (s *Server) adminStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.events.stats.snapshot())
}
