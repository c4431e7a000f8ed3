package profiles

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/assent-auth/assent/store"
)

// Sign-in links ("magic links") sign a user in from their mailbox, without
// a password. Like the other account links nothing is stored for them: the
// token is an HMAC under the account-links key over its own purpose, the
// user id, the expiry and a binding to
//
//   - the account's state: e-mail index, password hash, verification, the
//     operator's lock and the record's version, so using the link (which
//     updates the record) or any other change to the account voids it and
//     every other outstanding sign-in link;
//   - the browser that asked for it: the SHA-256 of a random nonce that
//     lives only in that browser's cookie, so a link forwarded to, or
//     intercepted by, someone else does not sign in another browser.

// SignInLinkTTL is how long a sign-in link works.
const SignInLinkTTL = 15 * time.Minute

const purposeSignIn byte = 3

// ErrNoSignInLink reports an account that may not sign in by link: locked
// by an operator, or unverified with a password (someone else may have
// registered the address with a password they know; only the address's
// owner proving control by the verification link makes it theirs).
// Callers answer exactly as for an unknown address.
var ErrNoSignInLink = errors.New("profiles: account cannot sign in by link")

func signInBinding(u store.User, browser string) string {
	b := sha256.Sum256([]byte(browser))
	return fmt.Sprintf("%x\x00%s\x00verified=%t\x00locked=%t\x00v=%d\x00browser=%x",
		u.EmailIndex, u.PasswordHash, u.EmailVerified, u.Locked, u.Version, b)
}

func signInAllowed(u store.User) bool {
	return !u.Locked && (u.EmailVerified || u.PasswordHash == "")
}

// SignInLink returns a sign-in link token for the user, valid for
// SignInLinkTTL, once, and only with the same browser nonce, and an
// 8-digit code that does the same when typed into that browser (for a mail read on
// another device): it works for at least SignInLinkTTL and at most twice
// that, with the same binding. It fails with ErrNoSignInLink for an
// account that may not sign in by link.
func (s *Service) SignInLink(ctx context.Context, id, browser string) (token, code string, err error) {
	if browser == "" {
		return "", "", ErrNoSignInLink
	}
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return "", "", mapNotFound(err)
	}
	if !signInAllowed(u) {
		return "", "", ErrNoSignInLink
	}
	now := s.now()
	return s.makeLink(purposeSignIn, u.ID, now.Add(SignInLinkTTL), signInBinding(u, browser)),
		s.signInCode(u, browser, signInWindow(now)), nil
}

// UseSignInLink checks a sign-in link against the user's current state and
// the browser nonce presented with it, and spends it: the update records
// the sign-in time and, since the link proves control of the address,
// marks the e-mail verified. Of two concurrent uses only one succeeds.
// Every failure is ErrLinkInvalid. A temporary lock from failed password
// sign-ins does not stop a link (it guards the password); an operator's
// lock does. verified reports that this use verified the address.
func (s *Service) UseSignInLink(ctx context.Context, token, browser string) (ident Identity, verified bool, err error) {
	payload, mac, id, exp, err := parseLink(purposeSignIn, token)
	if err != nil || browser == "" {
		return Identity{}, false, ErrLinkInvalid
	}
	return s.signInByMail(ctx, id, func(u store.User) error {
		return s.checkLink(purposeSignIn, payload, mac, exp, signInBinding(u, browser))
	})
}

// signInWindow numbers the SignInLinkTTL-long windows a sign-in code is
// made for; a code is taken in its window and the next.
func signInWindow(t time.Time) int64 { return t.Unix() / int64(SignInLinkTTL/time.Second) }

// SignInCodeDigits is the length of a sign-in code: longer than the
// verification code's six, as it signs in.
const SignInCodeDigits = 8

func (s *Service) signInCode(u store.User, browser string, w int64) string {
	return s.digitCode(purposeSignIn, u.ID, w, signInBinding(u, browser), SignInCodeDigits)
}

// UseSignInCode is UseSignInLink for the code of a sign-in link, typed
// into the browser that asked for it, with the address it was asked for.
// An unknown address, an account that may not sign in by link, a wrong or
// old code and another browser all fail alike, with ErrLinkInvalid.
// Callers limit guesses.
func (s *Service) UseSignInCode(ctx context.Context, email, code, browser string) (ident Identity, verified bool, err error) {
	u, err := s.userByEmail(ctx, email)
	switch {
	case errors.Is(err, ErrNotFound):
		return Identity{}, false, ErrLinkInvalid
	case err != nil:
		return Identity{}, false, err
	case browser == "":
		return Identity{}, false, ErrLinkInvalid
	}
	return s.signInByMail(ctx, u.ID, func(u store.User) error {
		if w := signInWindow(s.now()); !codeIn(code, s.signInCode(u, browser, w), s.signInCode(u, browser, w-1)) {
			return ErrLinkInvalid
		}
		return nil
	})
}

// signInByMail signs the user in by a link or code that check accepts for
// the user's current state, and spends it (and every other one): the
// update records the sign-in time and, since the mailbox is proven, marks
// the address verified. Of two concurrent uses only one succeeds.
func (s *Service) signInByMail(ctx context.Context, id string, check func(store.User) error) (ident Identity, verified bool, err error) {
	ident, err = s.update(ctx, id, func(u *store.User, _ *personal) error {
		if !signInAllowed(*u) {
			return ErrLinkInvalid
		}
		if err := check(*u); err != nil {
			return err
		}
		verified = !u.EmailVerified
		u.EmailVerified = true
		u.LastSignIn = s.now().UTC()
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return Identity{}, false, ErrLinkInvalid
	}
	if err != nil {
		return Identity{}, false, err
	}
	if _, err := s.MailboxProven(ctx, id); err != nil {
		return Identity{}, false, err
	}
	return ident, verified, nil
}
