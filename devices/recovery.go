package devices

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/assent-auth/assent/store"
)

// RecoveryCodeCount is how many codes a set holds.
const RecoveryCodeCount = 10

// recoveryFactorID is the id of a user's one set of recovery codes.
const recoveryFactorID = "recovery"

// A recovery code is 16 characters of Crockford's base32 (80 random bits),
// shown in groups of four. At 80 bits a salted SHA-256 is enough to keep
// the stored hashes from being reversed.
const (
	recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	recoveryLen      = 16
)

type recoveryData struct {
	Salt  []byte         `json:"salt"`
	Codes []recoveryCode `json:"codes"`
}

type recoveryCode struct {
	Hash   []byte    `json:"hash"`
	UsedAt time.Time `json:"used_at,omitzero"`
}

func (d recoveryData) remaining() int {
	n := 0
	for _, c := range d.Codes {
		if c.UsedAt.IsZero() {
			n++
		}
	}
	return n
}

func hashRecovery(salt []byte, userID, code string) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(userID))
	h.Write([]byte{0})
	h.Write([]byte(code))
	return h.Sum(nil)
}

func newRecoveryCode() string {
	b := make([]byte, recoveryLen)
	rand.Read(b)
	for i := range b {
		b[i] = recoveryAlphabet[b[i]&31]
	}
	return string(b)
}

// formatRecovery shows a code in groups of four: "abcd-efgh-jkmn-pqrs".
func formatRecovery(code string) string {
	return code[:4] + "-" + code[4:8] + "-" + code[8:12] + "-" + code[12:]
}

// normalizeRecovery accepts a code as people type it: any case, with or
// without dashes and spaces, and Crockford's look-alikes (o for 0, i and l
// for 1). It returns "" for anything that cannot be a code.
func normalizeRecovery(s string) string {
	if len(s) > 64 {
		return ""
	}
	var sb strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			continue
		case r == 'o':
			r = '0'
		case r == 'i' || r == 'l':
			r = '1'
		}
		if r > 127 || !strings.ContainsRune(recoveryAlphabet, r) {
			return ""
		}
		sb.WriteRune(r)
	}
	if sb.Len() != recoveryLen {
		return ""
	}
	return sb.String()
}

// GenerateRecoveryCodes replaces the user's recovery codes with a fresh set
// of ten and returns them: this is the only time they exist in the clear.
// The old set stops working at once. Codes stand in for a strong factor, so
// a user without one is refused with ReasonNotEnrolled.
func (s *Service) GenerateRecoveryCodes(ctx context.Context, userID string) ([]Secret, error) {
	ov, err := s.Overview(ctx, userID)
	if err != nil {
		return nil, err
	}
	if !ov.HasStrong {
		return nil, &RefusedError{Reason: ReasonNotEnrolled, UserID: userID}
	}
	d := recoveryData{Salt: make([]byte, 16)}
	rand.Read(d.Salt)
	codes := make([]Secret, RecoveryCodeCount)
	for i := range codes {
		c := newRecoveryCode()
		codes[i] = Secret(formatRecovery(c))
		d.Codes = append(d.Codes, recoveryCode{Hash: hashRecovery(d.Salt, userID, c)})
	}
	data, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	f := store.Factor{ID: recoveryFactorID, UserID: userID, Kind: store.FactorRecovery, Name: "Recovery codes", Data: data, CreatedAt: now}
	err = s.store.CreateFactor(ctx, f)
	if errors.Is(err, store.ErrExists) {
		_, err = s.store.UpdateFactor(ctx, userID, recoveryFactorID, func(old store.Factor) (store.Factor, error) {
			old.Data = data
			old.CreatedAt = now
			old.LastUsedAt = time.Time{}
			return old, nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("store recovery codes of %s: %w", userID, err)
	}
	return codes, nil
}

// UseRecoveryCode consumes one of the user's recovery codes and reports how
// many remain. Each code works once, also under concurrent use; a used code
// is refused with ReasonReplayed, a wrong one with ReasonInvalidCode.
func (s *Service) UseRecoveryCode(ctx context.Context, userID, code string) (remaining int, err error) {
	norm := normalizeRecovery(code)
	f, err := s.store.GetFactor(ctx, userID, recoveryFactorID)
	if errors.Is(err, store.ErrNotFound) {
		return 0, &RefusedError{Reason: ReasonNotEnrolled, UserID: userID}
	}
	if err != nil {
		return 0, fmt.Errorf("load recovery codes of %s: %w", userID, err)
	}
	now := s.now().UTC()
	if _, err := matchRecovery(f, norm, now); err != nil {
		return 0, err
	}
	f, err = s.store.UpdateFactor(ctx, userID, recoveryFactorID, func(f store.Factor) (store.Factor, error) {
		d, err := matchRecovery(f, norm, now)
		if err != nil {
			return f, err
		}
		remaining = d.remaining()
		f.LastUsedAt = now
		b, err := json.Marshal(d)
		if err != nil {
			return f, err
		}
		f.Data = b
		return f, nil
	})
	var re *RefusedError
	switch {
	case errors.As(err, &re):
		return 0, re
	case errors.Is(err, store.ErrNotFound):
		return 0, &RefusedError{Reason: ReasonNotEnrolled, UserID: userID}
	case err != nil:
		return 0, fmt.Errorf("consume recovery code of %s: %w", userID, err)
	}
	return remaining, nil
}

// matchRecovery finds code in the set, comparing against every hash, and
// returns the set with that code marked used at now.
func matchRecovery(f store.Factor, code string, now time.Time) (recoveryData, error) {
	var d recoveryData
	if err := json.Unmarshal(f.Data, &d); err != nil {
		return d, fmt.Errorf("decode recovery codes of %s: %w", f.UserID, err)
	}
	if code == "" {
		return d, &RefusedError{Reason: ReasonInvalidCode, UserID: f.UserID}
	}
	h := hashRecovery(d.Salt, f.UserID, code)
	idx := -1
	for i, c := range d.Codes {
		if subtle.ConstantTimeCompare(c.Hash, h) == 1 {
			idx = i
		}
	}
	switch {
	case idx < 0:
		return d, &RefusedError{Reason: ReasonInvalidCode, UserID: f.UserID}
	case !d.Codes[idx].UsedAt.IsZero():
		return d, &RefusedError{Reason: ReasonReplayed, UserID: f.UserID}
	}
	d.Codes[idx].UsedAt = now
	return d, nil
}
