package push

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/assent-auth/assent/store"
)

// Fatigue defence ("push bombing"): besides at most one pending request per
// user and relying party (kept by the store), a user may be sent at most
// MaxRequests requests within RequestWindow, and MaxDenials denials or
// wrong numbers within DenialWindow lock the user's push approvals for
// LockFor: new requests are refused with ErrLocked and approvals of what is
// still pending with ErrLocked, while denials are still taken. The person
// is offered another method meanwhile.

// Errors of the fatigue defence.
var (
	ErrRateLimited = errors.New("push: too many requests for this user")
	ErrLocked      = errors.New("push: push approvals are locked for this user after repeated denials")
)

// Fatigue configures the fatigue defence. Zero fields take the defaults.
type Fatigue struct {
	// MaxRequests per user within RequestWindow (default 10 in 15 minutes).
	MaxRequests   int
	RequestWindow time.Duration
	// MaxDenials (denials and wrong numbers) within DenialWindow lock the
	// user's push approvals for LockFor (default 3 in 10 minutes lock for
	// 15 minutes).
	MaxDenials   int
	DenialWindow time.Duration
	LockFor      time.Duration
}

func (f *Fatigue) defaults() {
	if f.MaxRequests == 0 {
		f.MaxRequests = 10
	}
	if f.RequestWindow == 0 {
		f.RequestWindow = 15 * time.Minute
	}
	if f.MaxDenials == 0 {
		f.MaxDenials = 3
	}
	if f.DenialWindow == 0 {
		f.DenialWindow = 10 * time.Minute
	}
	if f.LockFor == 0 {
		f.LockFor = 15 * time.Minute
	}
}

func (f Fatigue) validate() error {
	var errs []error
	if f.MaxRequests < 0 || f.MaxDenials < 0 {
		errs = append(errs, errors.New("fatigue: max_requests and max_denials must not be negative"))
	}
	if f.RequestWindow < 0 || f.DenialWindow < 0 || f.LockFor < 0 || f.LockFor > 24*time.Hour {
		errs = append(errs, errors.New("fatigue: windows must not be negative and the lock at most 24 hours"))
	}
	return errors.Join(errs...)
}

// maxTracked bounds the users the fatigue state remembers; beyond it the
// entries with nothing recent are swept.
const maxTracked = 100_000

// fatigue is the per-user state, in this process. A restart forgets it,
// which only shortens a lock.
type fatigue struct {
	cfg   Fatigue
	mu    sync.Mutex
	users map[string]*userFatigue
}

type userFatigue struct {
	requests []time.Time
	denials  []time.Time
	locked   time.Time // locked until
}

func recent(ts []time.Time, now time.Time, window time.Duration) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].After(now.Add(-window)) {
		i++
	}
	return ts[i:]
}

func (f *fatigue) get(userID string, now time.Time) *userFatigue {
	u := f.users[userID]
	if u == nil {
		if len(f.users) >= maxTracked {
			f.sweep(now)
		}
		u = &userFatigue{}
		f.users[userID] = u
	}
	u.requests = recent(u.requests, now, f.cfg.RequestWindow)
	u.denials = recent(u.denials, now, f.cfg.DenialWindow)
	return u
}

func (f *fatigue) sweep(now time.Time) {
	for id, u := range f.users {
		if len(recent(u.requests, now, f.cfg.RequestWindow)) == 0 && len(recent(u.denials, now, f.cfg.DenialWindow)) == 0 && !now.Before(u.locked) {
			delete(f.users, id)
		}
	}
}

// lockedUntil returns when the user's lock ends, if locked at now.
func (f *fatigue) lockedUntil(userID string, now time.Time) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.users[userID]
	if u == nil || !now.Before(u.locked) {
		return time.Time{}, false
	}
	return u.locked, true
}

// admit checks the lock and the rate limit for a new request and counts
// it when admitted.
func (f *fatigue) admit(userID string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.get(userID, now)
	if now.Before(u.locked) {
		return ErrLocked
	}
	if len(u.requests) >= f.cfg.MaxRequests {
		return ErrRateLimited
	}
	u.requests = append(u.requests, now)
	return nil
}

// deny counts a denial or a wrong number; it returns the lock's end when
// this one locked the user.
func (f *fatigue) deny(userID string, now time.Time) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.get(userID, now)
	if now.Before(u.locked) {
		return time.Time{}, false
	}
	u.denials = append(u.denials, now)
	if len(u.denials) < f.cfg.MaxDenials {
		return time.Time{}, false
	}
	u.locked, u.denials = now.Add(f.cfg.LockFor), nil
	return u.locked, true
}

// unlock ends a user's lock (an operator's decision).
func (f *fatigue) unlock(userID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.users[userID]
	if u == nil || u.locked.IsZero() {
		return false
	}
	delete(f.users, userID)
	return true
}

// LockedUntil reports whether the user's push approvals are locked, and
// until when.
func (s *Service) LockedUntil(userID string) (time.Time, bool) {
	return s.fatigue.lockedUntil(userID, s.now())
}

// Unlock lifts the fatigue lock of the user, audited with actor as the
// one who lifted it. It reports whether there was a lock.
func (s *Service) Unlock(ctx context.Context, userID, actor string) bool {
	if !s.fatigue.unlock(userID) {
		return false
	}
	s.audit(ctx, store.AuditEvent{Kind: "push.unlocked", Actor: actor, Subject: userID, Outcome: "ok"})
	return true
}

// denied counts a denial (or a wrong number) towards the lock, auditing
// and announcing the lock when it engages.
func (s *Service) denied(ctx context.Context, userID, requestID string) {
	until, locked := s.fatigue.deny(userID, s.now())
	if !locked {
		return
	}
	s.audit(ctx, store.AuditEvent{Kind: "push.locked", Actor: "system", Subject: userID, Outcome: "denied",
		Details: map[string]string{"until": until.UTC().Format(time.RFC3339), "request_id": requestID,
			"denials": strconv.Itoa(s.fatigue.cfg.MaxDenials), "window": s.fatigue.cfg.DenialWindow.String()}})
	s.log.WarnContext(ctx, "push approvals locked after repeated denials", "user_id", userID, "until", until)
	s.hub.publish(userID, Event{LockedUntil: until})
}
