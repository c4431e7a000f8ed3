package authserver

import (
	"context"
	"strconv"
	"time"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/store"
)

// RunRetention erases accounts past the profile schema's retention limits
// (profiles.Retention): once shortly after start, then every hour, until
// ctx ends. Without limits it returns at once.
func (s *Server) RunRetention(ctx context.Context) {
	r := s.profiles.Schema().Retention
	if r.Unverified == 0 && r.Inactive == 0 {
		return
	}
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.purgeExpired(ctx)
		t.Reset(time.Hour)
	}
}

// purgeExpired runs the retention limits once and reports what it did:
// a user.erased audit event (under the pseudonym) and a user.erased
// webhook per account, then a retention.completed event with the counts.
func (s *Server) purgeExpired(ctx context.Context) {
	counts := map[string]int{}
	checked, err := s.profiles.PurgeExpired(ctx, s.now(), func(p profiles.Purged) {
		counts[p.Reason]++
		s.auditSystem(ctx, store.AuditEvent{Kind: "user.erased", Actor: "system", Subject: p.Pseudonym, Outcome: "ok",
			Details: map[string]string{"via": "retention", "reason": p.Reason}})
		s.syncErased(ctx, p.UserID, p.Pseudonym)
	})
	if err != nil && ctx.Err() == nil {
		s.log.ErrorContext(ctx, "retention run incomplete", "err", err)
	}
	outcome := "ok"
	if err != nil {
		outcome = "failed"
	}
	s.auditSystem(ctx, store.AuditEvent{Kind: "retention.completed", Actor: "system", Outcome: outcome,
		Details: map[string]string{"checked": strconv.Itoa(checked), profiles.ReasonUnverified: strconv.Itoa(counts[profiles.ReasonUnverified]),
			profiles.ReasonInactive: strconv.Itoa(counts[profiles.ReasonInactive])}})
	s.log.InfoContext(ctx, "retention run", "checked", checked, "erased_unverified", counts[profiles.ReasonUnverified],
		"erased_inactive", counts[profiles.ReasonInactive])
}
