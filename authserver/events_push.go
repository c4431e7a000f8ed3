package authserver

import (
	"time"

	"github.com/assent-auth/assent/store"
)

// pushWatch follows approval requests through the audit stream: which are
// waiting (so the console can list them without scanning every user), how
// long each took to be approved, and the latest decisions. It lives
// inside eventStats, under its lock, and is bounded like the rest.
type pushWatch struct {
	open map[string]pushRef // request id -> still waiting, as far as the stream tells
	// recent holds the last pushRecent decisions, a ring.
	recent [pushRecent]pushDecision
	next   int
	n      int
	// seeded is set once the store's waiting requests (those created
	// before this process started) have been taken in
	// (admin_console_pending.go).
	seeded bool
}

type pushRef struct {
	userID  string
	created time.Time
}

// pushDecision is one decided request.
type pushDecision struct {
	Time      time.Time
	RequestID string
	UserID    string
	Status    string // approved, denied, or locked (approvals locked after repeated denials)
	NotMe     bool
	// LatencyMs is the time from creation to decision, 0 when the
	// creation was not seen (before a restart).
	LatencyMs float64
}

const (
	// pushMaxOpen bounds the requests followed at once; one pending
	// request per user makes it the number of users mid-approval.
	pushMaxOpen = 10000
	// pushForget drops a request never decided: the longest TTL a
	// request can have, and a margin.
	pushForget = 15 * time.Minute
	pushRecent = 20
)

// add follows e; for an approval it returns the time since the request
// was created, when that was seen.
func (p *pushWatch) add(e store.AuditEvent, now time.Time) (ms float64, matched bool) {
	id := e.Details["request_id"]
	if e.Kind == "push.locked" {
		// Approvals locked after repeated denials: worth an operator's eye.
		p.remember(pushDecision{Time: e.Time, RequestID: id, UserID: e.Subject, Status: "locked"})
		return 0, false
	}
	if id == "" {
		return 0, false
	}
	switch e.Kind {
	case "push.created":
		if p.open == nil {
			p.open = map[string]pushRef{}
		}
		if len(p.open) >= pushMaxOpen {
			p.prune(now)
		}
		if len(p.open) < pushMaxOpen {
			p.open[id] = pushRef{userID: e.Subject, created: e.Time}
		}
	case "push.approved", "push.denied":
		ref, ok := p.open[id]
		delete(p.open, id)
		d := pushDecision{Time: e.Time, RequestID: id, UserID: e.Subject, Status: e.Kind[len("push."):],
			NotMe: e.Details["not_me"] == "true"}
		if ok && !e.Time.Before(ref.created) {
			ms, matched = float64(e.Time.Sub(ref.created).Microseconds())/1000, true
			d.LatencyMs = ms
		}
		p.remember(d)
	}
	return ms, matched
}

func (p *pushWatch) remember(d pushDecision) {
	p.recent[p.next] = d
	p.next = (p.next + 1) % pushRecent
	p.n = min(p.n+1, pushRecent)
}

// prune forgets requests created longer than pushForget ago.
func (p *pushWatch) prune(now time.Time) {
	for id, ref := range p.open {
		if now.Sub(ref.created) > pushForget {
			delete(p.open, id)
		}
	}
}

// forget drops a request found decided or expired in the store.
func (st *eventStats) forgetPush(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.push.open, id)
}

// pushState returns the requests that may still be waiting and the latest
// decisions, newest first.
func (st *eventStats) pushState() (open map[string]pushRef, recent []pushDecision) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.push.prune(st.now())
	open = make(map[string]pushRef, len(st.push.open))
	for id, ref := range st.push.open {
		open[id] = ref
	}
	for i := range st.push.n {
		recent = append(recent, st.push.recent[(st.push.next-1-i+2*pushRecent)%pushRecent])
	}
	return open, recent
}
