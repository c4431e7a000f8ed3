package store

import (
	"context"
	"time"
)

// Factor kinds.
const (
	FactorPasskey  = "passkey"
	FactorTOTP     = "totp"
	FactorRecovery = "recovery"
	// FactorAppDevice is an enrolled instance of the company's mobile app.
	FactorAppDevice = "app_device"
)

// Factor is a strong authenticator a user enrolled: a passkey, a TOTP
// seed, a set of recovery codes, or (later) an app device. The devices
// package owns what Data means; secrets in it are sealed before they get
// here.
type Factor struct {
	// ID is unique within the user.
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	Kind   string `json:"kind"`
	// Name is the user's label ("iPhone", "YubiKey 5").
	Name string `json:"name,omitempty"`
	// LookupKey, when not empty, is unique across all users and finds the
	// factor without knowing the user (a passkey's credential id for
	// usernameless sign-in).
	LookupKey  []byte    `json:"lookup_key,omitempty"`
	Data       []byte    `json:"data,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	// Version increases by one on every successful update.
	Version uint64 `json:"version"`
}

// Factors stores users' strong authenticators. DeleteUser removes a user's
// factors with the user.
type Factors interface {
	// CreateFactor inserts f. ErrExists if the user already has a factor
	// with f.ID or f.LookupKey is taken; ErrNotFound if the user does not
	// exist (checked in the same transaction, so a factor never outlives
	// its user).
	CreateFactor(ctx context.Context, f Factor) error
	// GetFactor returns one factor of the user, or ErrNotFound.
	GetFactor(ctx context.Context, userID, id string) (Factor, error)
	// GetFactorByLookupKey returns the factor with that lookup key, or
	// ErrNotFound.
	GetFactorByLookupKey(ctx context.Context, key []byte) (Factor, error)
	// ListFactors returns the user's factors ordered by CreatedAt, then ID.
	ListFactors(ctx context.Context, userID string) ([]Factor, error)
	// UpdateFactor atomically reads the factor, applies fn and writes the
	// result, as UpdateUser does (fn may run more than once; an error from
	// fn writes nothing). ID, UserID, Kind and LookupKey cannot change.
	// This is how single-use values (a TOTP time step, a recovery code) are
	// consumed exactly once under concurrency.
	UpdateFactor(ctx context.Context, userID, id string, fn func(Factor) (Factor, error)) (Factor, error)
	// DeleteFactor removes one factor; ErrNotFound if absent.
	DeleteFactor(ctx context.Context, userID, id string) error
}
