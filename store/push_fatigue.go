package store

import (
	"context"
	"time"
)

// PushFatigue is one user's state in the push fatigue defence: the recent
// denials (and wrong numbers) that count towards a lock, and the lock. The
// push package owns what the fields mean; the store keeps them, so that a
// lock outlives a restart.
type PushFatigue struct {
	UserID string `json:"user_id"`
	// Denials are the times of the denials still within their window that
	// have not yet led to a lock, oldest first.
	Denials []time.Time `json:"denials,omitempty"`
	// LockedUntil ends the lock of the user's push approvals; zero when
	// there is none.
	LockedUntil time.Time `json:"locked_until,omitzero"`
	// ExpiresAt is when the record stops mattering: the last denial has
	// left its window and the lock has ended.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Empty reports whether f records nothing.
func (f PushFatigue) Empty() bool { return len(f.Denials) == 0 && f.LockedUntil.IsZero() }

// PushLocks stores the fatigue defence's per-user state. DeleteUser removes
// a user's record with the user.
type PushLocks interface {
	// GetPushFatigue returns the user's record, or ErrNotFound when the
	// user has none.
	GetPushFatigue(ctx context.Context, userID string) (PushFatigue, error)
	// UpdatePushFatigue atomically reads the user's record (the zero record
	// with UserID set when there is none), applies fn and writes the result,
	// as UpdateUser does: fn may run more than once, and an error from fn
	// writes nothing and is returned. A result that is Empty removes the
	// record. UserID cannot change. It fails with ErrNotFound if the user
	// does not exist (checked in the same transaction). Concurrent updates
	// share commits and none is lost. Returns the stored result.
	UpdatePushFatigue(ctx context.Context, userID string, fn func(PushFatigue) (PushFatigue, error)) (PushFatigue, error)
	// ListPushLocks returns the records whose LockedUntil is after now,
	// in ascending user id order.
	ListPushLocks(ctx context.Context, now time.Time) ([]PushFatigue, error)
	// DeleteExpiredPushFatigue removes the records whose ExpiresAt is
	// before now and reports how many were removed.
	DeleteExpiredPushFatigue(ctx context.Context, now time.Time) (int, error)
}
