package profiles

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"

	"github.com/assent-auth/assent/store"
)

// A user code (OpenID CIBA's user_code) is a secret the user chooses and
// gives only to the businesses they allow to send them approval requests
// in the app; a client registered to require it cannot start a request
// without it, so knowing someone's e-mail address is not enough to push
// requests at them. It is kept in the user's sealed personal data, so it
// is encrypted at rest and goes with the data key on erasure.

// User code bounds: letters and digits.
const (
	minUserCode = 4
	maxUserCode = 16
)

// ErrUserCodePolicy reports a user code that is not 4 to 16 letters and
// digits.
var ErrUserCodePolicy = errors.New("profiles: the code must be 4 to 16 letters and digits")

// SetUserCode sets the user's CIBA user code; an empty code removes it.
func (s *Service) SetUserCode(ctx context.Context, id, code string) (Identity, error) {
	if code != "" && !validUserCode(code) {
		return Identity{}, ErrUserCodePolicy
	}
	return s.update(ctx, id, func(_ *store.User, p *personal) error {
		p.UserCode = code
		return nil
	})
}

// CheckUserCode reports whether code is the user's user code; a user
// without one matches nothing. The comparison takes the same time for
// every code of the same length as any other.
func (s *Service) CheckUserCode(ctx context.Context, id, code string) (bool, error) {
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return false, mapNotFound(err)
	}
	p, err := s.personalOf(u)
	if err != nil {
		return false, err
	}
	want, got := sha256.Sum256([]byte(p.UserCode)), sha256.Sum256([]byte(code))
	return p.UserCode != "" && hmac.Equal(want[:], got[:]), nil
}

func validUserCode(code string) bool {
	if len(code) < minUserCode || len(code) > maxUserCode {
		return false
	}
	for _, c := range code {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
