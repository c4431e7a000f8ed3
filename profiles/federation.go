package profiles

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/assent-auth/assent/store"
)

// ErrAlreadyLinked reports an upstream account that is linked to a user
// already.
var ErrAlreadyLinked = errors.New("profiles: upstream account already linked")

// ErrLastWayIn reports an unlink refused because the link is the user's
// only way to sign in.
var ErrLastWayIn = errors.New("profiles: the link is the last way to sign in")

// LinkKey returns the keyed hash under which an upstream account (issuer
// and subject) is linked, so the store never holds the upstream subject.
func (k *Keyring) LinkKey(issuer, subject string) []byte {
	key, err := hkdf.Key(sha256.New, k.master, nil, "assent upstream links v1", 32)
	if err != nil {
		panic(err) // only on an invalid length, which is constant here
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(issuer))
	m.Write([]byte{0})
	m.Write([]byte(subject))
	return m.Sum(nil)
}

// LinkedUser returns the user the upstream account is linked to, or
// ErrNotFound.
func (s *Service) LinkedUser(ctx context.Context, issuer, subject string) (Identity, error) {
	l, err := s.store.GetFederatedLink(ctx, s.keys.LinkKey(issuer, subject))
	if err != nil {
		return Identity{}, mapNotFound(err)
	}
	return s.Get(ctx, l.UserID)
}

// Link links the upstream account to the user. It fails with
// ErrAlreadyLinked if the upstream account is linked (to anyone) already,
// and ErrNotFound if the user does not exist.
//
// unverifiedEmail marks a link made on the upstream's word for an address
// it did not verify (see store.FederatedLink.UnverifiedEmail).
func (s *Service) Link(ctx context.Context, userID, provider, issuer, subject string, unverifiedEmail bool) error {
	err := s.store.CreateFederatedLink(ctx, store.FederatedLink{Key: s.keys.LinkKey(issuer, subject), UserID: userID,
		Provider: provider, CreatedAt: s.now().UTC(), UnverifiedEmail: unverifiedEmail})
	switch {
	case errors.Is(err, store.ErrExists):
		return ErrAlreadyLinked
	case errors.Is(err, store.ErrNotFound):
		return ErrNotFound
	case err != nil:
		return fmt.Errorf("link upstream account: %w", err)
	}
	return nil
}

// Links returns the user's links to upstream accounts.
func (s *Service) Links(ctx context.Context, userID string) ([]store.FederatedLink, error) {
	return s.store.ListFederatedLinks(ctx, userID)
}

// LinkID names a link in URLs and the admin API: the keyed hash, which
// does not reveal the upstream subject.
func LinkID(l store.FederatedLink) string {
	return base64.RawURLEncoding.EncodeToString(l.Key)
}

// Unlink removes the user's link named linkID (see LinkID) and returns it.
// With keepLast (the user has no password and no passkey) it refuses,
// with ErrLastWayIn, to remove the user's only link. An unknown link is
// ErrNotFound.
func (s *Service) Unlink(ctx context.Context, userID, linkID string, keepLast bool) (store.FederatedLink, error) {
	key, err := base64.RawURLEncoding.DecodeString(linkID)
	if err != nil || len(key) != sha256.Size {
		return store.FederatedLink{}, ErrNotFound
	}
	l, err := s.store.DeleteFederatedLink(ctx, userID, key, keepLast)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.FederatedLink{}, ErrNotFound
	case errors.Is(err, store.ErrConflict):
		return store.FederatedLink{}, ErrLastWayIn
	case err != nil:
		return store.FederatedLink{}, fmt.Errorf("unlink upstream account: %w", err)
	}
	return l, nil
}

// MailboxProven is called after the user proved control of the account's
// mailbox. It removes the links made on an upstream's word for an address
// it did not verify and, if there were any, ends every session and
// refresh token, since whoever used them never proved the address. It
// reports how many links it removed.
func (s *Service) MailboxProven(ctx context.Context, userID string) (int, error) {
	ls, err := s.store.ListFederatedLinks(ctx, userID)
	if err != nil {
		return 0, fmt.Errorf("mailbox proven: %w", err)
	}
	n := 0
	for _, l := range ls {
		if !l.UnverifiedEmail {
			continue
		}
		if _, err := s.store.DeleteFederatedLink(ctx, userID, l.Key, false); err != nil && !errors.Is(err, store.ErrNotFound) {
			return n, fmt.Errorf("mailbox proven: %w", err)
		}
		n++
	}
	if n > 0 {
		if _, _, err := s.SignOutEverywhere(ctx, userID); err != nil {
			return n, fmt.Errorf("mailbox proven: %w", err)
		}
	}
	return n, nil
}
