package profiles

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/assent-auth/assent/store"
)

// Reasons a sign-in failed, for the audit log only: the person signing in is
// told the same thing in every case.
const (
	ReasonUnknownUser       = "unknown_user"
	ReasonBadPassword       = "bad_password"
	ReasonNoPassword        = "no_password"
	ReasonLocked            = "locked"
	ReasonTemporarilyLocked = "temporarily_locked"
)

// AuthError describes a failed sign-in. It unwraps to ErrInvalidCredentials.
type AuthError struct {
	Reason string
	// UserID is set when the e-mail belongs to a user.
	UserID string
	// Failures is the count of consecutive failures after this one.
	Failures int
	// LockedNow reports that this failure locked the account until
	// LockedUntil.
	LockedNow   bool
	LockedUntil time.Time
}

func (e *AuthError) Error() string { return "sign-in failed: " + e.Reason }
func (e *AuthError) Unwrap() error { return ErrInvalidCredentials }

// AuthInfo tells what happened on a successful sign-in.
type AuthInfo struct {
	// Rehashed reports that a legacy or outdated password hash was replaced
	// by one with the current parameters.
	Rehashed bool
}

// Authenticate checks an e-mail and password. Every failure (unknown
// e-mail, wrong password, locked account) returns an *AuthError and takes
// the time of one password verification, so neither the answer nor its
// timing tells whether the account exists. After LockAfter consecutive
// failures the account is locked for LockFor.
func (s *Service) Authenticate(ctx context.Context, email, password string) (Identity, AuthInfo, error) {
	u, err := s.userByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		s.hasher.DummyVerify(password)
		return Identity{}, AuthInfo{}, &AuthError{Reason: ReasonUnknownUser}
	}
	if err != nil {
		return Identity{}, AuthInfo{}, err
	}
	if u.PasswordHash == "" {
		s.hasher.DummyVerify(password)
		return Identity{}, AuthInfo{}, &AuthError{Reason: ReasonNoPassword, UserID: u.ID}
	}
	ok, rehash, verr := s.hasher.Verify(u.PasswordHash, password)
	if verr != nil {
		return Identity{}, AuthInfo{}, fmt.Errorf("verify password of %s: %w", u.ID, verr)
	}
	now := s.now().UTC()
	switch {
	case u.Locked:
		return Identity{}, AuthInfo{}, &AuthError{Reason: ReasonLocked, UserID: u.ID, Failures: u.FailedSignIns}
	case now.Before(u.LockedUntil):
		return Identity{}, AuthInfo{}, &AuthError{Reason: ReasonTemporarilyLocked, UserID: u.ID, Failures: u.FailedSignIns, LockedUntil: u.LockedUntil}
	case !ok:
		return Identity{}, AuthInfo{}, s.recordFailure(ctx, u.ID, now)
	}

	var newHash string
	if rehash {
		if newHash, err = s.hasher.Hash(password); err != nil {
			return Identity{}, AuthInfo{}, err
		}
	}
	oldHash := u.PasswordHash
	var info AuthInfo
	u, err = s.store.UpdateUser(ctx, u.ID, func(u store.User) (store.User, error) {
		u.FailedSignIns = 0
		u.LastSignIn = now
		info.Rehashed = false
		// Replace the hash only if nobody changed the password meanwhile.
		if newHash != "" && u.PasswordHash == oldHash {
			u.PasswordHash = newHash
			u.UpdatedAt = now
			info.Rehashed = true
		}
		return u, nil
	})
	if err != nil {
		return Identity{}, AuthInfo{}, mapNotFound(err)
	}
	ident, err := s.open(u)
	return ident, info, err
}

func (s *Service) recordFailure(ctx context.Context, id string, now time.Time) error {
	ae := &AuthError{Reason: ReasonBadPassword, UserID: id}
	_, err := s.store.UpdateUser(ctx, id, func(u store.User) (store.User, error) {
		u.FailedSignIns++
		ae.Failures = u.FailedSignIns
		ae.LockedNow = false
		if u.FailedSignIns >= s.lockAfter {
			u.LockedUntil = now.Add(s.lockFor)
			u.FailedSignIns = 0
			ae.LockedNow = true
			ae.LockedUntil = u.LockedUntil
		}
		return u, nil
	})
	if err != nil {
		return fmt.Errorf("record failed sign-in of %s: %w", id, err)
	}
	return ae
}

// SetPassword checks a new password against the policy and stores its hash.
func (s *Service) SetPassword(ctx context.Context, id, password string) error {
	if err := CheckPassword(password); err != nil {
		return passwordError(err)
	}
	hash, err := s.hasher.Hash(password)
	if err != nil {
		return err
	}
	_, err = s.update(ctx, id, func(u *store.User, _ *personal) error {
		u.PasswordHash = hash
		return nil
	})
	return err
}
