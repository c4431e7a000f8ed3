package profiles

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"github.com/assent-auth/assent/store"
)

// E-mail change goes through two links. The confirmation link, mailed to
// the new address, proves control of it; using it changes the address. The
// undo link, mailed to the old address at that moment, puts the old address
// back. Both carry the addresses, so they are sealed (AES-256-GCM under a
// key of their own), not only signed; both are bound to the e-mail index
// they expect to find, so each works once and neither works after any
// other change of address.

// Lifetimes of the e-mail change links.
const (
	EmailChangeTTL = time.Hour
	EmailUndoTTL   = 7 * 24 * time.Hour
)

type emailLink struct {
	Purpose string    `json:"p"`
	UserID  string    `json:"u"`
	Email   string    `json:"e"` // the address to set
	Other   string    `json:"o"` // the address it replaces
	Expect  []byte    `json:"x"` // the e-mail index the account must still have
	Expires time.Time `json:"t"`
}

func (s *Service) sealEmailLink(l emailLink) (string, error) {
	aead, err := s.keys.AEAD("e-mail change links v1")
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(l)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(seal(aead, b, []byte(l.Purpose))), nil
}

func (s *Service) openEmailLink(purpose, token string) (emailLink, error) {
	var l emailLink
	if len(token) > 2*maxLinkLength {
		return l, ErrLinkInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return l, ErrLinkInvalid
	}
	aead, err := s.keys.AEAD("e-mail change links v1")
	if err != nil {
		return l, err
	}
	b, err := open(aead, raw, []byte(purpose))
	if err != nil || json.Unmarshal(b, &l) != nil || l.Purpose != purpose || !s.now().Before(l.Expires) {
		return emailLink{}, ErrLinkInvalid
	}
	return l, nil
}

// EmailChangeLink returns a link token that, used within EmailChangeTTL,
// changes the user's address to newEmail. A malformed address fails with a
// *ValidationError; one already in use with ErrEmailTaken.
func (s *Service) EmailChangeLink(ctx context.Context, id, newEmail string) (string, error) {
	email, err := NormalizeEmail(newEmail)
	if err != nil {
		return "", err
	}
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return "", mapNotFound(err)
	}
	idx := s.keys.EmailIndex(email)
	if subtle.ConstantTimeCompare(idx, u.EmailIndex) == 1 {
		return "", &ValidationError{Field: "email", Code: "unchanged", Message: "That is already the address of the account."}
	}
	if _, err := s.store.GetUserByEmailIndex(ctx, idx); err == nil {
		return "", ErrEmailTaken
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	ident, err := s.open(u)
	if err != nil {
		return "", err
	}
	return s.sealEmailLink(emailLink{Purpose: "change", UserID: id, Email: email, Other: ident.Email,
		Expect: u.EmailIndex, Expires: s.now().Add(EmailChangeTTL)})
}

// ConfirmEmailChange sets the address a confirmation link names, marks it
// verified, and returns the user, the old address and an undo link for
// it. Fails with ErrLinkInvalid or ErrEmailTaken.
func (s *Service) ConfirmEmailChange(ctx context.Context, token string) (Identity, string, string, error) {
	l, err := s.openEmailLink("change", token)
	if err != nil {
		return Identity{}, "", "", err
	}
	ident, err := s.switchEmail(ctx, l)
	if err != nil {
		return Identity{}, "", "", err
	}
	undo, err := s.sealEmailLink(emailLink{Purpose: "undo", UserID: l.UserID, Email: l.Other, Other: l.Email,
		Expect: s.keys.EmailIndex(l.Email), Expires: s.now().Add(EmailUndoTTL)})
	return ident, l.Other, undo, err
}

// UndoEmailChange puts back the address an undo link names and returns
// the user. The caller ends the user's sessions.
func (s *Service) UndoEmailChange(ctx context.Context, token string) (Identity, error) {
	l, err := s.openEmailLink("undo", token)
	if err != nil {
		return Identity{}, err
	}
	return s.switchEmail(ctx, l)
}

func (s *Service) switchEmail(ctx context.Context, l emailLink) (Identity, error) {
	ident, err := s.update(ctx, l.UserID, func(u *store.User, p *personal) error {
		if subtle.ConstantTimeCompare(u.EmailIndex, l.Expect) != 1 {
			return ErrLinkInvalid
		}
		p.Email = l.Email
		u.EmailIndex = s.keys.EmailIndex(l.Email)
		u.EmailVerified = true
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return Identity{}, ErrLinkInvalid
	}
	return ident, err
}
