package push

import (
	"context"
	"errors"
	"hash/maphash"
	"slices"
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
// is offered another method meanwhile. The denials and the lock are kept
// in the store, so a restart does not end a lock; an operator's Unlock
// does.

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

// fatigue is the per-user state. The denials and the lock are kept in the
// store (store.PushLocks), so that a lock outlives a restart: every denial
// and every unlock is written there first, in one store transaction that
// shares its commit with concurrent writers. The locks in force are held
// in memory as well, loaded when the Service is made and kept in step with
// every write, so that the checks on the approval path (admit, lockedUntil)
// read no store; this assumes one server per store, as the bbolt file's
// lock ensures. The rate limit's request times live in memory only: a
// restart forgets them, which only lets a few more requests through.
type fatigue struct {
	cfg   Fatigue
	store store.PushLocks
	mu    sync.Mutex
	users map[string]*userFatigue
	// writes serialises each user's store writes with the update of the
	// in-memory lock that follows them, so that a denial and an unlock
	// cannot leave the two apart; a user maps to one stripe.
	writes [256]sync.Mutex
	seed   maphash.Seed
}

type userFatigue struct {
	requests []time.Time
	locked   time.Time // locked until
}

func newFatigue(cfg Fatigue, st store.PushLocks) *fatigue {
	return &fatigue{cfg: cfg, store: st, users: map[string]*userFatigue{}, seed: maphash.MakeSeed()}
}

// load drops the store's expired records and takes in the locks in force
// at now.
func (f *fatigue) load(ctx context.Context, now time.Time) error {
	if _, err := f.store.DeleteExpiredPushFatigue(ctx, now); err != nil {
		return err
	}
	locks, err := f.store.ListPushLocks(ctx, now)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range locks {
		f.get(l.UserID, now).locked = l.LockedUntil
	}
	return nil
}

func (f *fatigue) writer(userID string) *sync.Mutex {
	return &f.writes[maphash.String(f.seed, userID)%uint64(len(f.writes))]
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
	return u
}

func (f *fatigue) sweep(now time.Time) {
	for id, u := range f.users {
		if len(recent(u.requests, now, f.cfg.RequestWindow)) == 0 && !now.Before(u.locked) {
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

// setLocked records in memory the lock the store holds for the user.
func (f *fatigue) setLocked(userID string, until, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.users[userID]; u != nil {
		u.locked = until
	} else if now.Before(until) {
		f.get(userID, now).locked = until
	}
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

// errUnchanged ends a store update that has nothing to write.
var errUnchanged = errors.New("push: fatigue state unchanged")

// deny counts a denial or a wrong number in the store; it returns the
// lock's end when this one locked the user. While a lock is in force a
// denial does not count.
func (f *fatigue) deny(ctx context.Context, userID string, now time.Time) (time.Time, bool, error) {
	w := f.writer(userID)
	w.Lock()
	defer w.Unlock()
	var seen store.PushFatigue
	var engaged bool
	_, err := f.store.UpdatePushFatigue(ctx, userID, func(p store.PushFatigue) (store.PushFatigue, error) {
		engaged = false
		if now.Before(p.LockedUntil) {
			seen = p
			return p, errUnchanged
		}
		p.LockedUntil = time.Time{}
		p.Denials = append(slices.Clone(recent(p.Denials, now, f.cfg.DenialWindow)), now)
		if len(p.Denials) >= f.cfg.MaxDenials {
			p.Denials, p.LockedUntil, engaged = nil, now.Add(f.cfg.LockFor), true
		}
		p.ExpiresAt = now.Add(f.cfg.DenialWindow)
		if p.LockedUntil.After(p.ExpiresAt) {
			p.ExpiresAt = p.LockedUntil
		}
		seen = p
		return p, nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return time.Time{}, false, err
	}
	f.setLocked(userID, seen.LockedUntil, now)
	if !engaged {
		return time.Time{}, false, nil
	}
	return seen.LockedUntil, true, nil
}

// unlock ends a user's lock in force at now (an operator's decision),
// forgetting the user's denials and recent requests with it. It reports
// whether there was a lock.
func (f *fatigue) unlock(ctx context.Context, userID string, now time.Time) (bool, error) {
	w := f.writer(userID)
	w.Lock()
	defer w.Unlock()
	_, inMemory := f.lockedUntil(userID, now)
	var stored bool
	_, err := f.store.UpdatePushFatigue(ctx, userID, func(p store.PushFatigue) (store.PushFatigue, error) {
		stored = now.Before(p.LockedUntil)
		if !stored {
			return p, errUnchanged
		}
		return store.PushFatigue{}, nil
	})
	if err != nil && !errors.Is(err, errUnchanged) && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	if !stored && !inMemory {
		return false, nil
	}
	f.mu.Lock()
	delete(f.users, userID)
	f.mu.Unlock()
	return true, nil
}

// LockedUntil reports whether the user's push approvals are locked, and
// until when. It reads no store.
func (s *Service) LockedUntil(userID string) (time.Time, bool) {
	return s.fatigue.lockedUntil(userID, s.now())
}

// Unlock lifts the fatigue lock of the user, in the store and here,
// audited with actor as the one who lifted it. It reports whether there
// was a lock; a store failure is logged and reported as false.
func (s *Service) Unlock(ctx context.Context, userID, actor string) bool {
	ok, err := s.fatigue.unlock(ctx, userID, s.now())
	if err != nil {
		s.log.ErrorContext(ctx, "push unlock failed", "user_id", userID, "err", err)
		return false
	}
	if !ok {
		return false
	}
	s.audit(ctx, store.AuditEvent{Kind: "push.unlocked", Actor: actor, Subject: userID, Outcome: "ok"})
	return true
}

// denied counts a denial (or a wrong number) towards the lock, auditing
// and announcing the lock when it engages.
func (s *Service) denied(ctx context.Context, userID, requestID string) {
	// The denial has happened: it counts even if the device hangs up now.
	until, locked, err := s.fatigue.deny(context.WithoutCancel(ctx), userID, s.now())
	if err != nil {
		s.log.ErrorContext(ctx, "push denial not counted", "user_id", userID, "request_id", requestID, "err", err)
		return
	}
	if !locked {
		return
	}
	s.audit(ctx, store.AuditEvent{Kind: "push.locked", Actor: "system", Subject: userID, Outcome: "denied",
		Details: map[string]string{"until": until.UTC().Format(time.RFC3339), "request_id": requestID,
			"denials": strconv.Itoa(s.fatigue.cfg.MaxDenials), "window": s.fatigue.cfg.DenialWindow.String()}})
	s.log.WarnContext(ctx, "push approvals locked after repeated denials", "user_id", userID, "until", until)
	s.hub.publish(userID, Event{LockedUntil: until})
}
