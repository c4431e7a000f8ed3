package profiles

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/store"
)

// Account links are the signed tokens mailed to a user: one proves control
// of the e-mail address, one resets a forgotten password. Nothing is stored
// for them. Each is an HMAC-SHA256, under a key derived from the master key
// for this one purpose, over the purpose, the user id, the expiry and the
// part of the account the link may change:
//
//   - a verification link is bound to the e-mail index and to the address
//     being unverified, so it stops working once used or once the address
//     changes;
//   - a reset link is bound to the current password hash (and e-mail
//     index), so using it, or any other password change, voids it and every
//     older link.
//
// The 6-digit verification code (for a link opened on another device) is
// derived the same way from 30-minute windows; callers must limit guesses.

// Link lifetimes.
const (
	VerifyLinkTTL = time.Hour
	ResetLinkTTL  = 15 * time.Minute
	codeWindow    = 30 * time.Minute
	maxLinkLength = 512
)

// Errors of account links. Callers show the same text for both, with no
// hint of whether the account exists.
var (
	// ErrLinkInvalid reports a forged, expired, or voided link or code.
	ErrLinkInvalid = errors.New("profiles: link invalid or expired")
	// ErrAlreadyVerified reports a verification for an address already
	// verified.
	ErrAlreadyVerified = errors.New("profiles: e-mail already verified")
)

const (
	purposeVerify byte = 1
	purposeReset  byte = 2
)

func (s *Service) linkMAC(purpose byte, payload []byte, binding string) []byte {
	key, err := hkdf.Key(sha256.New, s.keys.master, nil, "assent account links v1", 32)
	if err != nil {
		panic(err) // only for an impossible length
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte{purpose, 0})
	m.Write(payload)
	m.Write([]byte{0})
	m.Write([]byte(binding))
	return m.Sum(nil)
}

func verifyBinding(u store.User) string {
	return fmt.Sprintf("%x\x00verified=%t", u.EmailIndex, u.EmailVerified)
}

func resetBinding(u store.User) string {
	return fmt.Sprintf("%x\x00%s\x00locked=%t", u.EmailIndex, u.PasswordHash, u.Locked)
}

// makeLink returns payload "." mac, both base64url.
func (s *Service) makeLink(purpose byte, userID string, exp time.Time, binding string) string {
	payload := binary.BigEndian.AppendUint64([]byte{purpose}, uint64(exp.Unix()))
	payload = append(payload, userID...)
	return base64.RawURLEncoding.EncodeToString(payload) + "." +
		base64.RawURLEncoding.EncodeToString(s.linkMAC(purpose, payload, binding))
}

// parseLink splits a link without trusting it yet.
func parseLink(purpose byte, token string) (payload, mac []byte, userID string, exp time.Time, err error) {
	p, m, ok := strings.Cut(token, ".")
	if !ok || len(token) > maxLinkLength {
		return nil, nil, "", exp, ErrLinkInvalid
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(m)
	if err1 != nil || err2 != nil || len(payload) < 10 || payload[0] != purpose || len(mac) != sha256.Size {
		return nil, nil, "", exp, ErrLinkInvalid
	}
	exp = time.Unix(int64(binary.BigEndian.Uint64(payload[1:9])), 0)
	return payload, mac, string(payload[9:]), exp, nil
}

// checkLink verifies a link against the stored user u.
func (s *Service) checkLink(purpose byte, payload, mac []byte, exp time.Time, binding string) error {
	if !hmac.Equal(mac, s.linkMAC(purpose, payload, binding)) || !s.now().Before(exp) {
		return ErrLinkInvalid
	}
	return nil
}

// VerificationLink returns a link token and a 6-digit code proving control
// of the user's current e-mail address.
func (s *Service) VerificationLink(ctx context.Context, id string) (token, code string, err error) {
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return "", "", mapNotFound(err)
	}
	if u.EmailVerified {
		return "", "", ErrAlreadyVerified
	}
	now := s.now()
	return s.makeLink(purposeVerify, u.ID, now.Add(VerifyLinkTTL), verifyBinding(u)), s.code(u, window(now)), nil
}

func window(t time.Time) int64 { return t.Unix() / int64(codeWindow/time.Second) }

func (s *Service) code(u store.User, w int64) string {
	return s.digitCode(purposeVerify, u.ID, w, verifyBinding(u), 6)
}

// digitCode is an n-digit code (n at most 9) for window w of the purpose's
// links: digits of an HMAC under the account-links key, with the same
// binding as a link.
func (s *Service) digitCode(purpose byte, id string, w int64, binding string, n int) string {
	mac := s.linkMAC(purpose, []byte("code\x00"+id+"\x00"+strconv.FormatInt(w, 10)), binding)
	mod := uint32(1)
	for range n {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", n, binary.BigEndian.Uint32(mac[:4])%mod)
}

// codeIn reports, in constant time, whether code is one of want.
func codeIn(code string, want ...string) bool {
	ok := 0
	for _, c := range want {
		ok |= subtle.ConstantTimeCompare([]byte(c), []byte(code))
	}
	return ok == 1
}

// VerifyEmail marks the address verified if token is a valid, unexpired
// verification link for its current state. A link for an address already
// verified fails with ErrAlreadyVerified; anything else with
// ErrLinkInvalid.
func (s *Service) VerifyEmail(ctx context.Context, token string) (Identity, error) {
	payload, mac, id, exp, err := parseLink(purposeVerify, token)
	if err != nil {
		return Identity{}, err
	}
	return s.markVerified(ctx, id, func(u store.User) error {
		return s.checkLink(purposeVerify, payload, mac, exp, verifyBinding(u))
	})
}

// VerifyEmailCode marks the user's address verified if code is the current
// (or the previous window's) verification code. Callers limit guesses.
func (s *Service) VerifyEmailCode(ctx context.Context, id, code string) (Identity, error) {
	return s.markVerified(ctx, id, func(u store.User) error {
		if w := window(s.now()); !codeIn(code, s.code(u, w), s.code(u, w-1)) {
			return ErrLinkInvalid
		}
		return nil
	})
}

func (s *Service) markVerified(ctx context.Context, id string, check func(store.User) error) (Identity, error) {
	ident, err := s.update(ctx, id, func(u *store.User, _ *personal) error {
		if u.EmailVerified {
			// Only a genuine link or code learns that it was used.
			was := *u
			was.EmailVerified = false
			if check(was) != nil {
				return ErrLinkInvalid
			}
			return ErrAlreadyVerified
		}
		if err := check(*u); err != nil {
			return err
		}
		u.EmailVerified = true
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return Identity{}, ErrLinkInvalid
	}
	if err != nil {
		return Identity{}, err
	}
	if _, err := s.MailboxProven(ctx, id); err != nil {
		return Identity{}, err
	}
	return ident, nil
}

// ResetLink returns a password-reset link token for the user, valid for
// ResetLinkTTL and only while the password stays as it is.
func (s *Service) ResetLink(ctx context.Context, id string) (string, error) {
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return "", mapNotFound(err)
	}
	return s.makeLink(purposeReset, u.ID, s.now().Add(ResetLinkTTL), resetBinding(u)), nil
}

// CheckResetLink returns the user a reset link is for, or ErrLinkInvalid.
// It changes nothing.
func (s *Service) CheckResetLink(ctx context.Context, token string) (Identity, error) {
	payload, mac, id, exp, err := parseLink(purposeReset, token)
	if err != nil {
		return Identity{}, err
	}
	u, err := s.store.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Identity{}, ErrLinkInvalid
	}
	if err != nil {
		return Identity{}, err
	}
	if u.Locked {
		return Identity{}, ErrLinkInvalid
	}
	if err := s.checkLink(purposeReset, payload, mac, exp, resetBinding(u)); err != nil {
		return Identity{}, err
	}
	return s.open(u)
}

// ResetPassword sets a new password with a reset link. The link is checked
// again inside the update, so of two concurrent resets with one link only
// one succeeds, and the link is spent by the change it makes. A temporary
// lock from failed sign-ins is lifted. Bad passwords fail with a
// *ValidationError, bad links with ErrLinkInvalid.
func (s *Service) ResetPassword(ctx context.Context, token, password string) (Identity, error) {
	payload, mac, id, exp, err := parseLink(purposeReset, token)
	if err != nil {
		return Identity{}, err
	}
	if err := CheckPassword(password); err != nil {
		return Identity{}, passwordError(err)
	}
	hash, err := s.hasher.Hash(password)
	if err != nil {
		return Identity{}, err
	}
	ident, err := s.update(ctx, id, func(u *store.User, _ *personal) error {
		if u.Locked {
			return ErrLinkInvalid
		}
		if err := s.checkLink(purposeReset, payload, mac, exp, resetBinding(*u)); err != nil {
			return err
		}
		u.PasswordHash = hash
		u.FailedSignIns = 0
		u.LockedUntil = time.Time{}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return Identity{}, ErrLinkInvalid
	}
	if err != nil {
		return Identity{}, err
	}
	if _, err := s.MailboxProven(ctx, id); err != nil {
		return Identity{}, err
	}
	return ident, nil
}
