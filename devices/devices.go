package devices

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/assent-auth/assent/store"
)

// Errors callers branch on besides *RefusedError.
var (
	// ErrNotFound reports that the user has no such factor.
	ErrNotFound = errors.New("devices: no such factor")
	// ErrRefused is what every *RefusedError unwraps to.
	ErrRefused = errors.New("devices: factor refused")
	// ErrInvalidName reports a factor name that is too long or holds
	// control characters.
	ErrInvalidName = errors.New("devices: a factor name has at most 64 characters and no control characters")
	// ErrPasskeysOff reports that passkeys are not configured (no RP ID).
	ErrPasskeysOff = errors.New("devices: passkeys are not configured")
)

// Reasons a factor or a ceremony was refused. They go to the audit log; the
// person is told something plainer.
const (
	// ReasonMalformed: the answer is not valid JSON, base64url or CBOR, or
	// lacks required parts.
	ReasonMalformed = "malformed"
	// ReasonExpired: the ceremony or enrollment is past its deadline.
	ReasonExpired = "expired"
	// ReasonWrongCeremony: the state handed back belongs to another kind of
	// ceremony or user.
	ReasonWrongCeremony = "wrong_ceremony"
	// ReasonUnknownCredential: no passkey has the credential id.
	ReasonUnknownCredential = "unknown_credential"
	// ReasonWrongUser: the credential belongs to another user.
	ReasonWrongUser = "wrong_user"
	// ReasonChallenge: the signed challenge is not the one issued.
	ReasonChallenge = "challenge_mismatch"
	// ReasonOrigin: the page the browser ran the ceremony on is not ours.
	ReasonOrigin = "wrong_origin"
	// ReasonRPID: the authenticator signed for another relying party id.
	ReasonRPID = "wrong_rp_id"
	// ReasonSignature: the assertion signature does not verify.
	ReasonSignature = "bad_signature"
	// ReasonUserNotVerified: user verification was required and the UV flag
	// is not set.
	ReasonUserNotVerified = "user_not_verified"
	// ReasonUserNotPresent: the UP flag is not set.
	ReasonUserNotPresent = "user_not_present"
	// ReasonCounterRegression: the sign counter did not increase; the
	// credential may be cloned and is now suspect.
	ReasonCounterRegression = "counter_regression"
	// ReasonSuspect: the credential was marked suspect earlier.
	ReasonSuspect = "suspect_credential"
	// ReasonVerification: any other failed WebAuthn check.
	ReasonVerification = "verification_failed"
	// ReasonAlreadyRegistered: the credential is already registered.
	ReasonAlreadyRegistered = "already_registered"
	// ReasonInvalidCode: a TOTP or recovery code does not match.
	ReasonInvalidCode = "invalid_code"
	// ReasonReplayed: the TOTP code's time step was already used.
	ReasonReplayed = "replayed_code"
	// ReasonNotEnrolled: the user has no such factor to check against.
	ReasonNotEnrolled = "not_enrolled"
	// ReasonAlreadyEnrolled: the user already has an active TOTP seed.
	ReasonAlreadyEnrolled = "already_enrolled"
)

// RefusedError reports a factor or ceremony refused for a reason in the
// Reason* constants. Detail, when set, is a fixed description from the
// WebAuthn library, safe to log; it never holds input or secrets.
type RefusedError struct {
	Reason string
	Detail string
	// UserID is set when the refusal could be tied to a user.
	UserID string
}

func (e *RefusedError) Error() string {
	if e.Detail != "" {
		return "devices: refused: " + e.Reason + ": " + e.Detail
	}
	return "devices: refused: " + e.Reason
}

func (e *RefusedError) Unwrap() error { return ErrRefused }

func refused(reason string) *RefusedError { return &RefusedError{Reason: reason} }

// Reason returns the refusal reason in err, or "" when err is not a
// refusal.
func Reason(err error) string {
	var re *RefusedError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ""
}

// Secret is a value that must never reach a log: a TOTP seed or a recovery
// code. It prints and logs redacted; Reveal returns the value for the one
// place it is shown to its owner.
type Secret string

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// String returns a redacted placeholder.
func (Secret) String() string { return "[redacted]" }

// GoString returns a redacted placeholder.
func (Secret) GoString() string { return "[redacted]" }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// MarshalText keeps secrets out of JSON by accident as well.
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Config configures a Service.
type Config struct {
	// Store keeps the records.
	Store store.Factors
	// Seeds seals TOTP seeds at rest (AES-256-GCM; callers derive it from
	// the master key for this one purpose).
	Seeds cipher.AEAD
	// RPID is the WebAuthn relying party id: the issuer's host name, or a
	// registrable suffix of it. Empty turns passkeys off (TOTP and recovery
	// codes still work): browsers refuse IP addresses as RP IDs.
	RPID string
	// RPName is shown by authenticators; it also labels TOTP entries in
	// authenticator apps.
	RPName string
	// Origins are the exact origins (scheme://host[:port]) WebAuthn
	// ceremonies may run on.
	Origins []string
	// CeremonyTTL bounds a WebAuthn ceremony and a TOTP enrollment
	// (default 5 minutes).
	CeremonyTTL time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("store: required"))
	}
	if c.Seeds == nil {
		errs = append(errs, errors.New("seeds: an AEAD is required to seal TOTP seeds"))
	}
	if c.RPID != "" {
		if err := protocol.ValidateRPID(c.RPID); err != nil {
			errs = append(errs, fmt.Errorf("rp id: %q is not a domain name", c.RPID))
		}
		if len(c.Origins) == 0 {
			errs = append(errs, errors.New("origins: at least one is required"))
		}
	}
	for _, o := range c.Origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("origins: %q must be scheme://host[:port]", o))
			continue
		}
		host := u.Hostname()
		if c.RPID != "" && host != c.RPID && !strings.HasSuffix(host, "."+c.RPID) {
			errs = append(errs, fmt.Errorf("origins: %q is not on the rp id %q or a subdomain of it", o, c.RPID))
		}
	}
	return errors.Join(errs...)
}

// Service manages users' strong factors. It is safe for concurrent use.
type Service struct {
	store  store.Factors
	seeds  cipher.AEAD
	wa     *webauthn.WebAuthn
	rpName string
	ttl    time.Duration
	now    func() time.Time
}

// New returns a Service for c.
func New(c Config) (*Service, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	s := &Service{store: c.Store, seeds: c.Seeds, rpName: c.RPName, ttl: c.CeremonyTTL, now: c.Now}
	if s.rpName == "" {
		s.rpName = "Assent"
	}
	if s.ttl <= 0 {
		s.ttl = 5 * time.Minute
	}
	if s.now == nil {
		s.now = time.Now
	}
	if c.RPID == "" {
		return s, nil
	}
	origins := make([]string, len(c.Origins))
	for i, o := range c.Origins {
		origins[i] = strings.TrimSuffix(o, "/")
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  c.RPID,
		RPDisplayName:         s.rpName,
		RPOrigins:             origins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: s.ttl, TimeoutUVD: s.ttl},
			Registration: webauthn.TimeoutConfig{Timeout: s.ttl, TimeoutUVD: s.ttl},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	s.wa = wa
	return s, nil
}

// Passkeys reports whether passkeys are configured.
func (s *Service) Passkeys() bool { return s.wa != nil }

// Summary describes one factor without any secret, for the security page,
// the admin API and the CLI.
type Summary struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Name       string    `json:"name,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`

	// Passkeys.
	// Synced reports a backup-eligible (multi-device) passkey; false means
	// device-bound.
	Synced       bool     `json:"synced,omitempty"`
	BackedUp     bool     `json:"backed_up,omitempty"`
	UserVerified bool     `json:"user_verified,omitempty"`
	AAGUID       string   `json:"aaguid,omitempty"`
	Transports   []string `json:"transports,omitempty"`
	SignCount    uint32   `json:"sign_count,omitempty"`
	// Suspect reports a credential whose sign counter went backwards; it
	// can no longer be used.
	Suspect bool `json:"suspect,omitempty"`

	// TOTP: Active is false until the first code confirms the enrollment.
	Active bool `json:"active,omitempty"`

	// Recovery codes: how many of the set are still unused.
	Remaining int `json:"remaining,omitempty"`

	// App devices: Pending is an enrollment code not yet redeemed.
	Pending  bool   `json:"pending,omitempty"`
	Platform string `json:"platform,omitempty"`
}

// Strong reports whether the factor can serve as a second factor on its
// own: a usable passkey or an active TOTP seed.
func (f Summary) Strong() bool {
	switch f.Kind {
	case store.FactorPasskey:
		return !f.Suspect
	case store.FactorTOTP:
		return f.Active
	case store.FactorAppDevice:
		return !f.Pending
	}
	return false
}

// Overview sums up what a user can sign in with.
type Overview struct {
	Passkeys int
	TOTP     bool
	Recovery int // unused recovery codes
	// AppDevices counts enrolled app devices that can approve a sign-in.
	AppDevices int
	HasStrong  bool
}

// List returns the user's factors, oldest first.
func (s *Service) List(ctx context.Context, userID string) ([]Summary, error) {
	fs, err := s.store.ListFactors(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list factors of %s: %w", userID, err)
	}
	out := make([]Summary, 0, len(fs))
	for _, f := range fs {
		sum, err := summarize(f)
		if err != nil {
			return nil, err
		}
		out = append(out, sum)
	}
	return out, nil
}

// Overview returns what the user can sign in with.
func (s *Service) Overview(ctx context.Context, userID string) (Overview, error) {
	fs, err := s.List(ctx, userID)
	if err != nil {
		return Overview{}, err
	}
	return overview(fs), nil
}

func overview(fs []Summary) Overview {
	var o Overview
	for _, f := range fs {
		switch {
		case f.Kind == store.FactorPasskey && f.Strong():
			o.Passkeys++
		case f.Kind == store.FactorTOTP && f.Active:
			o.TOTP = true
		case f.Kind == store.FactorRecovery:
			o.Recovery += f.Remaining
		case f.Kind == store.FactorAppDevice && f.Strong():
			o.AppDevices++
		}
	}
	o.HasStrong = o.Passkeys > 0 || o.TOTP || o.AppDevices > 0
	return o
}

func summarize(f store.Factor) (Summary, error) {
	sum := Summary{ID: f.ID, Kind: f.Kind, Name: f.Name, CreatedAt: f.CreatedAt, LastUsedAt: f.LastUsedAt}
	switch f.Kind {
	case store.FactorPasskey:
		var p passkeyData
		if err := json.Unmarshal(f.Data, &p); err != nil {
			return Summary{}, fmt.Errorf("decode passkey %s of %s: %w", f.ID, f.UserID, err)
		}
		sum.Synced = p.BackupEligible
		sum.BackedUp = p.BackupState
		sum.UserVerified = p.UserVerified
		sum.AAGUID = formatAAGUID(p.AAGUID)
		sum.Transports = p.Transports
		sum.SignCount = p.SignCount
		sum.Suspect = p.Suspect
	case store.FactorTOTP:
		var t totpData
		if err := json.Unmarshal(f.Data, &t); err != nil {
			return Summary{}, fmt.Errorf("decode totp %s of %s: %w", f.ID, f.UserID, err)
		}
		sum.Active = t.Confirmed
	case store.FactorRecovery:
		var rc recoveryData
		if err := json.Unmarshal(f.Data, &rc); err != nil {
			return Summary{}, fmt.Errorf("decode recovery codes of %s: %w", f.UserID, err)
		}
		sum.Remaining = rc.remaining()
	case store.FactorAppDevice:
		var d appDeviceData
		if err := json.Unmarshal(f.Data, &d); err != nil {
			return Summary{}, fmt.Errorf("decode app device %s of %s: %w", f.ID, f.UserID, err)
		}
		sum.Pending = d.Pending
		sum.Platform = d.Platform
	}
	return sum, nil
}

// maxNameLen bounds a factor's label, in characters.
const maxNameLen = 64

// CleanName validates a user's label for a factor: trimmed, at most 64
// characters, no control characters. An empty name is allowed.
func CleanName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxNameLen {
		return "", ErrInvalidName
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return "", ErrInvalidName
		}
	}
	return name, nil
}

// Rename sets the label of one of the user's factors.
func (s *Service) Rename(ctx context.Context, userID, id, name string) (Summary, error) {
	name, err := CleanName(name)
	if err != nil {
		return Summary{}, err
	}
	f, err := s.store.UpdateFactor(ctx, userID, id, func(f store.Factor) (store.Factor, error) {
		f.Name = name
		return f, nil
	})
	if err != nil {
		return Summary{}, mapNotFound(err)
	}
	return summarize(f)
}

// Removal tells what Remove did.
type Removal struct {
	Removed Summary
	// RecoveryRemoved reports that the recovery codes went too, because no
	// strong factor is left for them to stand in for.
	RecoveryRemoved bool
}

// Remove deletes one of the user's factors. When the last strong factor
// goes, the recovery codes go with it. Whether the user may remove it (a
// fresh strong sign-in for the last one) is the caller's decision.
func (s *Service) Remove(ctx context.Context, userID, id string) (Removal, error) {
	f, err := s.store.GetFactor(ctx, userID, id)
	if err != nil {
		return Removal{}, mapNotFound(err)
	}
	sum, err := summarize(f)
	if err != nil {
		return Removal{}, err
	}
	if err := s.store.DeleteFactor(ctx, userID, id); err != nil {
		return Removal{}, mapNotFound(err)
	}
	res := Removal{Removed: sum}
	if sum.Kind == store.FactorRecovery {
		return res, nil
	}
	rest, err := s.List(ctx, userID)
	if err != nil {
		return res, err
	}
	if overview(rest).HasStrong {
		return res, nil
	}
	for _, r := range rest {
		if r.Kind != store.FactorRecovery {
			continue
		}
		if err := s.store.DeleteFactor(ctx, userID, r.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return res, fmt.Errorf("remove recovery codes of %s: %w", userID, err)
		}
		res.RecoveryRemoved = true
	}
	return res, nil
}

// IsLastStrong reports whether removing the factor id would leave the user
// without a strong factor.
func (s *Service) IsLastStrong(ctx context.Context, userID, id string) (bool, error) {
	fs, err := s.List(ctx, userID)
	if err != nil {
		return false, err
	}
	target := -1
	for i, f := range fs {
		if f.ID == id {
			target = i
		}
	}
	if target < 0 {
		return false, ErrNotFound
	}
	if !fs[target].Strong() {
		return false, nil
	}
	return !overview(slices.Delete(fs, target, target+1)).HasStrong, nil
}

func mapNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// newFactorID returns a random, URL-safe factor id with a kind prefix.
func newFactorID(prefix string) string {
	return prefix + "_" + strings.ToLower(rand.Text()[:20])
}

func formatAAGUID(b []byte) string {
	if len(b) != 16 {
		return ""
	}
	const hexdig = "0123456789abcdef"
	var sb strings.Builder
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			sb.WriteByte('-')
		}
		sb.WriteByte(hexdig[c>>4])
		sb.WriteByte(hexdig[c&0xf])
	}
	return sb.String()
}
