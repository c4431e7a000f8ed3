package authserver

import (
	"context"
	"time"

	"github.com/assent-auth/assent/store"
)

// The console's list of waiting approval requests comes from the audit
// stream's index, which only knows what this process has seen. Requests
// created before a restart are still waiting in the store, so the first
// listing after a start takes them in from there, once: from then on the
// stream keeps the index current, and every listing confirms each entry in
// the store as before.

// seedPendingPush takes the store's pending, unexpired requests into the
// stream's index unless that was done already. A failure is logged and
// retried at the next listing; the stream's own entries are listed
// meanwhile.
func (s *Server) seedPendingPush(ctx context.Context, now time.Time) {
	if s.events.stats.pushSeeded() {
		return
	}
	rs, more, err := s.store.ListPendingPushRequests(ctx, now, pushMaxOpen)
	if err != nil {
		s.log.WarnContext(ctx, "pending push: reading the waiting requests from the store failed", "err", err)
		return
	}
	if more > 0 {
		s.log.WarnContext(ctx, "pending push: more requests wait than the console follows", "followed", len(rs), "left_out", more)
	}
	s.events.stats.seedPush(rs)
}

// pushSeeded reports whether the index has taken in the store's waiting
// requests.
func (st *eventStats) pushSeeded() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.push.seeded
}

// seedPush adds the waiting requests rs to the index, within its bound,
// keeping what the stream has already told about each.
func (st *eventStats) seedPush(rs []store.PushRequest) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.push.open == nil {
		st.push.open = map[string]pushRef{}
	}
	for _, r := range rs {
		if len(st.push.open) >= pushMaxOpen {
			break
		}
		if _, ok := st.push.open[r.ID]; !ok {
			st.push.open[r.ID] = pushRef{userID: r.UserID, created: r.CreatedAt}
		}
	}
	st.push.seeded = true
}
