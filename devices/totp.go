package devices

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/assent-auth/assent/store"
)

// totpFactorID is the id of a user's one TOTP factor.
const totpFactorID = "totp"

// TOTP parameters: what every authenticator app understands.
const (
	totpPeriod    = 30
	totpDigits    = 6
	totpSeedBytes = 20
	// totpSkew is how many time steps either side of now a code may come
	// from, for clock drift and typing time.
	totpSkew = 1
)

// totpData is a TOTP factor's record. The seed is sealed (AES-GCM, bound
// to the user and factor id); the last accepted time step is kept so that
// no code is accepted twice.
type totpData struct {
	Seed      []byte `json:"seed"`
	Algorithm string `json:"algorithm"`
	Digits    int    `json:"digits"`
	Period    uint   `json:"period"`
	Confirmed bool   `json:"confirmed"`
	// Expires ends an enrollment that was never confirmed.
	Expires time.Time `json:"expires,omitzero"`
	// LastStep is the highest time step whose code was accepted; codes of
	// this step or earlier are refused.
	LastStep uint64 `json:"last_step,omitempty"`
}

// Enrollment is a TOTP seed waiting for its first code. It is shown to
// its owner once per page view and never logged.
type Enrollment struct {
	// URI is the otpauth:// URI that the QR code holds.
	URI Secret
	// Key is the seed in base32, for typing into an app by hand.
	Key Secret
	// QR is a PNG image of the URI.
	QR []byte
	// Expires is when the enrollment lapses unless confirmed.
	Expires time.Time
}

func seedAAD(userID, id string) []byte { return []byte("totp seed\x00" + userID + "\x00" + id) }

func (s *Service) sealSeed(userID, id string, seed []byte) []byte {
	nonce := make([]byte, s.seeds.NonceSize(), s.seeds.NonceSize()+len(seed)+s.seeds.Overhead())
	rand.Read(nonce)
	return s.seeds.Seal(nonce, nonce, seed, seedAAD(userID, id))
}

func (s *Service) openSeed(userID, id string, sealed []byte) ([]byte, error) {
	n := s.seeds.NonceSize()
	if len(sealed) < n+s.seeds.Overhead() {
		return nil, errors.New("sealed TOTP seed is too short")
	}
	seed, err := s.seeds.Open(nil, sealed[:n], sealed[n:], seedAAD(userID, id))
	if err != nil {
		return nil, fmt.Errorf("open TOTP seed of %s: %w", userID, err)
	}
	return seed, nil
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// BeginTOTP starts a TOTP enrollment for userID, with a fresh random seed
// that is stored sealed and inactive until ConfirmTOTP. accountName labels
// the entry in the app (the e-mail address). An unconfirmed enrollment is
// replaced; an active one is refused with ReasonAlreadyEnrolled.
func (s *Service) BeginTOTP(ctx context.Context, userID, accountName string) (Enrollment, error) {
	seed := make([]byte, totpSeedBytes)
	rand.Read(seed)
	now := s.now().UTC()
	d := totpData{
		Seed:      s.sealSeed(userID, totpFactorID, seed),
		Algorithm: otp.AlgorithmSHA1.String(),
		Digits:    totpDigits,
		Period:    totpPeriod,
		Expires:   now.Add(3 * s.ttl),
	}
	data, err := json.Marshal(d)
	if err != nil {
		return Enrollment{}, err
	}
	f := store.Factor{ID: totpFactorID, UserID: userID, Kind: store.FactorTOTP, Name: "Authenticator app", Data: data, CreatedAt: now}
	err = s.store.CreateFactor(ctx, f)
	if errors.Is(err, store.ErrExists) {
		_, err = s.store.UpdateFactor(ctx, userID, totpFactorID, func(old store.Factor) (store.Factor, error) {
			var od totpData
			if err := json.Unmarshal(old.Data, &od); err != nil {
				return old, err
			}
			if od.Confirmed {
				return old, &RefusedError{Reason: ReasonAlreadyEnrolled, UserID: userID}
			}
			old.Data = data
			old.CreatedAt = now
			return old, nil
		})
	}
	if err != nil {
		var re *RefusedError
		if errors.As(err, &re) {
			return Enrollment{}, re
		}
		return Enrollment{}, fmt.Errorf("store TOTP enrollment of %s: %w", userID, err)
	}
	return s.enrollment(seed, d, accountName)
}

// PendingTOTP returns the user's unconfirmed enrollment again (after a
// reload or a wrong first code). ReasonNotEnrolled when there is none,
// ReasonAlreadyEnrolled when TOTP is active, ReasonExpired when it lapsed.
func (s *Service) PendingTOTP(ctx context.Context, userID, accountName string) (Enrollment, error) {
	f, err := s.store.GetFactor(ctx, userID, totpFactorID)
	if errors.Is(err, store.ErrNotFound) {
		return Enrollment{}, &RefusedError{Reason: ReasonNotEnrolled, UserID: userID}
	}
	if err != nil {
		return Enrollment{}, fmt.Errorf("load TOTP of %s: %w", userID, err)
	}
	var d totpData
	if err := json.Unmarshal(f.Data, &d); err != nil {
		return Enrollment{}, fmt.Errorf("decode TOTP of %s: %w", userID, err)
	}
	switch {
	case d.Confirmed:
		return Enrollment{}, &RefusedError{Reason: ReasonAlreadyEnrolled, UserID: userID}
	case !s.now().Before(d.Expires):
		return Enrollment{}, &RefusedError{Reason: ReasonExpired, UserID: userID}
	}
	seed, err := s.openSeed(userID, f.ID, d.Seed)
	if err != nil {
		return Enrollment{}, err
	}
	return s.enrollment(seed, d, accountName)
}

func (s *Service) enrollment(seed []byte, d totpData, accountName string) (Enrollment, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      s.rpName,
		AccountName: accountName,
		Period:      d.Period,
		Secret:      seed,
		Digits:      otp.Digits(d.Digits),
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return Enrollment{}, fmt.Errorf("build otpauth URI: %w", err)
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return Enrollment{}, fmt.Errorf("render QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Enrollment{}, fmt.Errorf("encode QR code: %w", err)
	}
	return Enrollment{URI: Secret(key.URL()), Key: Secret(key.Secret()), QR: buf.Bytes(), Expires: d.Expires}, nil
}

// ConfirmTOTP activates the user's pending enrollment with its first code.
// The code's time step is recorded, so the same code cannot then be used to
// sign in.
func (s *Service) ConfirmTOTP(ctx context.Context, userID, code string) error {
	return s.useTOTP(ctx, userID, code, true)
}

// VerifyTOTP checks a code against the user's active TOTP seed, accepting
// the current time step and one either side. Each step is accepted at most
// once: a code already used, or one older than the last used, is refused
// with ReasonReplayed. A wrong code writes nothing.
func (s *Service) VerifyTOTP(ctx context.Context, userID, code string) error {
	return s.useTOTP(ctx, userID, code, false)
}

func (s *Service) useTOTP(ctx context.Context, userID, code string, confirm bool) error {
	code = normalizeDigits(code)
	// Read and check first: a wrong code costs no write.
	f, err := s.store.GetFactor(ctx, userID, totpFactorID)
	if errors.Is(err, store.ErrNotFound) {
		return &RefusedError{Reason: ReasonNotEnrolled, UserID: userID}
	}
	if err != nil {
		return fmt.Errorf("load TOTP of %s: %w", userID, err)
	}
	now := s.now()
	if _, err := s.checkTOTP(f, code, now, confirm); err != nil {
		return err
	}
	// Consume the step in one atomic update, checking again against what
	// is stored now: a concurrent use of the same code, or a seed replaced
	// meanwhile, loses here.
	_, err = s.store.UpdateFactor(ctx, userID, totpFactorID, func(f store.Factor) (store.Factor, error) {
		step, err := s.checkTOTP(f, code, now, confirm)
		if err != nil {
			return f, err
		}
		var d totpData
		if err := json.Unmarshal(f.Data, &d); err != nil {
			return f, err
		}
		d.LastStep = step
		if confirm {
			d.Confirmed = true
			d.Expires = time.Time{}
			f.CreatedAt = now.UTC()
		} else {
			f.LastUsedAt = now.UTC()
		}
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
		return re
	case errors.Is(err, store.ErrNotFound):
		return &RefusedError{Reason: ReasonNotEnrolled, UserID: userID}
	case err != nil:
		return fmt.Errorf("record TOTP step of %s: %w", userID, err)
	}
	return nil
}

// checkTOTP finds the time step whose code matches, without writing.
func (s *Service) checkTOTP(f store.Factor, code string, now time.Time, confirm bool) (uint64, error) {
	var d totpData
	if err := json.Unmarshal(f.Data, &d); err != nil {
		return 0, fmt.Errorf("decode TOTP of %s: %w", f.UserID, err)
	}
	switch {
	case confirm && d.Confirmed:
		return 0, &RefusedError{Reason: ReasonAlreadyEnrolled, UserID: f.UserID}
	case confirm && !now.Before(d.Expires):
		return 0, &RefusedError{Reason: ReasonExpired, UserID: f.UserID}
	case !confirm && !d.Confirmed:
		return 0, &RefusedError{Reason: ReasonNotEnrolled, UserID: f.UserID}
	}
	if len(code) != d.Digits {
		return 0, &RefusedError{Reason: ReasonInvalidCode, UserID: f.UserID}
	}
	seed, err := s.openSeed(f.UserID, f.ID, d.Seed)
	if err != nil {
		return 0, err
	}
	step, ok := matchStep(seed, d, code, now)
	if !ok {
		return 0, &RefusedError{Reason: ReasonInvalidCode, UserID: f.UserID}
	}
	if d.LastStep != 0 && step <= d.LastStep {
		return 0, &RefusedError{Reason: ReasonReplayed, UserID: f.UserID}
	}
	return step, nil
}

// matchStep returns the time step within the skew window whose code equals
// code. Every candidate is computed and compared in constant time.
func matchStep(seed []byte, d totpData, code string, now time.Time) (uint64, bool) {
	period := d.Period
	if period == 0 {
		period = totpPeriod
	}
	opts := hotp.ValidateOpts{Digits: otp.Digits(d.Digits), Algorithm: algorithm(d.Algorithm)}
	secret := b32.EncodeToString(seed)
	cur := uint64(now.Unix()) / uint64(period)
	var found uint64
	ok := false
	for delta := -totpSkew; delta <= totpSkew; delta++ {
		step := cur + uint64(delta)
		if delta < 0 && cur < uint64(-delta) {
			continue
		}
		want, err := hotp.GenerateCodeCustom(secret, step, opts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			// Prefer the latest matching step, so a code is never
			// accepted twice across the window.
			found, ok = step, true
		}
	}
	return found, ok
}

func algorithm(name string) otp.Algorithm {
	switch name {
	case "SHA256":
		return otp.AlgorithmSHA256
	case "SHA512":
		return otp.AlgorithmSHA512
	}
	return otp.AlgorithmSHA1
}

// normalizeDigits drops the spaces and dashes people type or paste inside
// a code.
func normalizeDigits(code string) string {
	if len(code) > 32 {
		return ""
	}
	var sb strings.Builder
	for _, r := range code {
		switch {
		case r >= '0' && r <= '9':
			sb.WriteRune(r)
		case r == ' ' || r == '-' || r == '\t':
		default:
			return ""
		}
	}
	return sb.String()
}
