package profiles

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/assent-auth/assent/store"
)

// Errors callers branch on.
var (
	// ErrNotFound reports that no such user exists.
	ErrNotFound = errors.New("profiles: no such user")
	// ErrEmailTaken reports that the normalised e-mail belongs to another user.
	ErrEmailTaken = errors.New("profiles: e-mail address already in use")
	// ErrInvalidCredentials is the one answer sign-in gives for an unknown
	// e-mail, a wrong password and a locked account alike.
	ErrInvalidCredentials = errors.New("profiles: invalid credentials")
)

// ValidationError reports bad input for one field. Message is safe to show
// to the person who sent it.
type ValidationError struct {
	Field   string
	Code    string
	Message string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Message }

// Identity is a user with their personal data opened.
type Identity struct {
	ID         string            `json:"id"`
	Email      string            `json:"email"`
	Name       string            `json:"name,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	// Collected says when and where each attribute was collected.
	Collected     map[string]Collection `json:"attributes_collected,omitempty"`
	EmailVerified bool                  `json:"email_verified"`
	Locked        bool                  `json:"locked"`
	LockedUntil   time.Time             `json:"locked_until,omitzero"`
	FailedSignIns int                   `json:"failed_sign_ins"`
	HasPassword   bool                  `json:"has_password"`
	// HasUserCode: the user chose a code that CIBA requests must carry
	// (cibacode.go).
	HasUserCode bool      `json:"has_user_code,omitempty"`
	LastSignIn  time.Time `json:"last_sign_in,omitzero"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// TemporarilyLocked reports whether repeated failures have locked the
// account at time now.
func (id Identity) TemporarilyLocked(now time.Time) bool { return now.Before(id.LockedUntil) }

// personal is the sealed part of a user record.
type personal struct {
	Email      string            `json:"email"`
	Name       string            `json:"name,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	// Protected holds high-sensitivity attributes, each sealed once more
	// (attributes.go).
	Protected map[string][]byte     `json:"protected,omitempty"`
	Collected map[string]Collection `json:"collected,omitempty"`
	// UserCode is the user's CIBA user code (cibacode.go).
	UserCode string `json:"user_code,omitempty"`
}

// Config configures a Service.
type Config struct {
	Store  store.Store
	Keys   *Keyring
	Hasher *Hasher
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// LockAfter is how many consecutive failures lock an account for
	// LockFor. Defaults: 5 (PSD2 RTS art. 4) and 15 minutes.
	LockAfter int
	LockFor   time.Duration
	// Schema declares profile attributes and consent purposes (none when
	// nil). It must have passed Validate.
	Schema *Schema
}

// Service manages identities. It is safe for concurrent use.
type Service struct {
	store     store.Store
	keys      *Keyring
	hasher    *Hasher
	now       func() time.Time
	lockAfter int
	lockFor   time.Duration
	schema    *Schema
}

// New returns a Service.
func New(c Config) *Service {
	s := &Service{store: c.Store, keys: c.Keys, hasher: c.Hasher, now: c.Now, lockAfter: c.LockAfter, lockFor: c.LockFor, schema: c.Schema}
	if s.schema == nil {
		s.schema = &Schema{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.lockAfter <= 0 {
		s.lockAfter = 5
	}
	if s.lockFor <= 0 {
		s.lockFor = 15 * time.Minute
	}
	return s
}

// NewUser is the input to Create.
type NewUser struct {
	Email string
	Name  string
	// Password is a plaintext password to hash, checked against the policy.
	Password string
	// PasswordHash is an already-hashed password (legacy import); it is
	// verified and rehashed on the user's next sign-in. Mutually exclusive
	// with Password.
	PasswordHash  string
	EmailVerified bool
}

// Create validates and stores a new user. It fails with a *ValidationError
// for bad input and ErrEmailTaken when the e-mail is in use; nothing is
// stored then.
func (s *Service) Create(ctx context.Context, nu NewUser) (Identity, error) {
	email, err := NormalizeEmail(nu.Email)
	if err != nil {
		return Identity{}, err
	}
	name, err := cleanName(nu.Name)
	if err != nil {
		return Identity{}, err
	}
	var hash string
	switch {
	case nu.Password != "" && nu.PasswordHash != "":
		return Identity{}, &ValidationError{Field: "password_hash", Code: "conflict", Message: "Give a password or a password hash, not both."}
	case nu.Password != "":
		if err := CheckPassword(nu.Password); err != nil {
			return Identity{}, passwordError(err)
		}
		if hash, err = s.hasher.Hash(nu.Password); err != nil {
			return Identity{}, err
		}
	case nu.PasswordHash != "":
		if _, err := ParseHash(nu.PasswordHash); err != nil {
			return Identity{}, &ValidationError{Field: "password_hash", Code: "unsupported", Message: "The password hash is malformed or of an unsupported scheme."}
		}
		hash = nu.PasswordHash
	}
	now := s.now().UTC()
	u := store.User{
		ID:            newUserID(),
		EmailIndex:    s.keys.EmailIndex(email),
		PasswordHash:  hash,
		EmailVerified: nu.EmailVerified,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	dek, wrapped := s.keys.newDataKey(u.ID)
	u.WrappedKey = wrapped
	if u.Sealed, err = sealPersonal(dek, u.ID, personal{Email: email, Name: name}); err != nil {
		return Identity{}, err
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrExists) {
			return Identity{}, ErrEmailTaken
		}
		return Identity{}, fmt.Errorf("create user: %w", err)
	}
	u.Version = 1
	return s.open(u)
}

// Get returns the user with the given id.
func (s *Service) Get(ctx context.Context, id string) (Identity, error) {
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return Identity{}, mapNotFound(err)
	}
	return s.open(u)
}

// GetByEmail returns the user with the given e-mail (in any case or
// Unicode form). An address that is not valid is simply not found.
func (s *Service) GetByEmail(ctx context.Context, email string) (Identity, error) {
	u, err := s.userByEmail(ctx, email)
	if err != nil {
		return Identity{}, err
	}
	return s.open(u)
}

func (s *Service) userByEmail(ctx context.Context, email string) (store.User, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return store.User{}, ErrNotFound
	}
	u, err := s.store.GetUserByEmailIndex(ctx, s.keys.EmailIndex(norm))
	return u, mapNotFound(err)
}

// List returns up to limit users with an id after the given one.
func (s *Service) List(ctx context.Context, after string, limit int) ([]Identity, error) {
	us, err := s.store.ListUsers(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Identity, 0, len(us))
	for _, u := range us {
		id, err := s.open(u)
		if err != nil {
			return nil, fmt.Errorf("open user %s: %w", u.ID, err)
		}
		out = append(out, id)
	}
	return out, nil
}

// Changes lists the fields to update; nil fields are left alone.
type Changes struct {
	Email *string
	Name  *string
}

// Update changes a user's e-mail or name.
func (s *Service) Update(ctx context.Context, id string, c Changes) (Identity, error) {
	var email, name string
	var err error
	if c.Email != nil {
		if email, err = NormalizeEmail(*c.Email); err != nil {
			return Identity{}, err
		}
	}
	if c.Name != nil {
		if name, err = cleanName(*c.Name); err != nil {
			return Identity{}, err
		}
	}
	return s.update(ctx, id, func(u *store.User, p *personal) error {
		if c.Email != nil {
			p.Email = email
			u.EmailIndex = s.keys.EmailIndex(email)
		}
		if c.Name != nil {
			p.Name = name
		}
		return nil
	})
}

// Lock locks the account until an operator unlocks it, and ends its
// browser sessions.
func (s *Service) Lock(ctx context.Context, id string) (Identity, error) {
	ident, err := s.update(ctx, id, func(u *store.User, _ *personal) error {
		u.Locked = true
		return nil
	})
	if err != nil {
		return Identity{}, err
	}
	if _, _, err := s.SignOutEverywhere(ctx, id); err != nil {
		return ident, fmt.Errorf("sign out locked user: %w", err)
	}
	return ident, nil
}

// SignOutEverywhere ends every browser session of the user and revokes
// every refresh token issued to the user's applications, reporting how many
// of each.
func (s *Service) SignOutEverywhere(ctx context.Context, id string) (sessions, tokens int, err error) {
	sessions, err = s.store.DeleteUserSessions(ctx, id)
	if err != nil {
		return 0, 0, err
	}
	tokens, err = s.store.DeleteUserOIDCRefreshTokens(ctx, id)
	return sessions, tokens, err
}

// Unlock lifts an operator's lock and any temporary lock from failures.
func (s *Service) Unlock(ctx context.Context, id string) (Identity, error) {
	return s.update(ctx, id, func(u *store.User, _ *personal) error {
		u.Locked = false
		u.LockedUntil = time.Time{}
		u.FailedSignIns = 0
		return nil
	})
}

// Delete erases the user: the record with its wrapped data key, the e-mail
// index entry and the user's sessions. Without the data key the sealed
// personal data cannot be read by anyone, the operator included.
func (s *Service) Delete(ctx context.Context, id string) error {
	return mapNotFound(s.store.DeleteUser(ctx, id))
}

// update applies fn to the user and their opened personal data inside one
// atomic store update, resealing the personal data with the same key.
func (s *Service) update(ctx context.Context, id string, fn func(*store.User, *personal) error) (Identity, error) {
	now := s.now().UTC()
	u, err := s.store.UpdateUser(ctx, id, func(u store.User) (store.User, error) {
		dek, err := s.keys.unwrap(u.ID, u.WrappedKey)
		if err != nil {
			return u, err
		}
		p, err := openPersonal(dek, u.ID, u.Sealed)
		if err != nil {
			return u, err
		}
		if err := fn(&u, &p); err != nil {
			return u, err
		}
		if u.Sealed, err = sealPersonal(dek, u.ID, p); err != nil {
			return u, err
		}
		u.UpdatedAt = now
		return u, nil
	})
	if errors.Is(err, store.ErrExists) {
		return Identity{}, ErrEmailTaken
	}
	if err != nil {
		return Identity{}, mapNotFound(err)
	}
	return s.open(u)
}

// personalOf decrypts a stored user's personal data.
func (s *Service) personalOf(u store.User) (personal, error) {
	dek, err := s.keys.unwrap(u.ID, u.WrappedKey)
	if err != nil {
		return personal{}, err
	}
	return openPersonal(dek, u.ID, u.Sealed)
}

// open decrypts a stored user.
func (s *Service) open(u store.User) (Identity, error) {
	p, err := s.personalOf(u)
	if err != nil {
		return Identity{}, err
	}
	attrs, err := s.openAttributes(u.ID, p)
	if err != nil {
		return Identity{}, err
	}
	return Identity{
		ID:            u.ID,
		Email:         p.Email,
		Name:          p.Name,
		Attributes:    attrs,
		Collected:     p.Collected,
		EmailVerified: u.EmailVerified,
		Locked:        u.Locked,
		LockedUntil:   u.LockedUntil,
		FailedSignIns: u.FailedSignIns,
		HasPassword:   u.PasswordHash != "",
		HasUserCode:   p.UserCode != "",
		LastSignIn:    u.LastSignIn,
		CreatedAt:     u.CreatedAt,
		UpdatedAt:     u.UpdatedAt,
	}, nil
}

func sealPersonal(dek []byte, userID string, p personal) ([]byte, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	return seal(aead, b, []byte("pii:"+userID)), nil
}

func openPersonal(dek []byte, userID string, sealed []byte) (personal, error) {
	var p personal
	aead, err := newGCM(dek)
	if err != nil {
		return p, err
	}
	b, err := open(aead, sealed, []byte("pii:"+userID))
	if err != nil {
		return p, err
	}
	return p, json.Unmarshal(b, &p)
}

// cleanName trims a display name and refuses control characters and
// overlong names. HTML is allowed here; every output escapes it.
func cleanName(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", &ValidationError{Field: "name", Code: "invalid", Message: "The name contains invalid characters."}
	}
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > 200 {
		return "", &ValidationError{Field: "name", Code: "too_long", Message: "The name is longer than 200 characters."}
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", &ValidationError{Field: "name", Code: "invalid", Message: "The name contains control characters."}
	}
	return s, nil
}

func passwordError(err error) error {
	var pe *PolicyError
	if errors.As(err, &pe) {
		return &ValidationError{Field: "password", Code: pe.Code, Message: pe.Message}
	}
	return err
}

func mapNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// newUserID returns a random, URL-safe, opaque subject identifier.
func newUserID() string {
	return "u_" + rand.Text()
}

// EmailIndex returns the keyed hash of an already-normalised e-mail, for
// callers that need a stable, non-reversible key per address (throttling).
func (s *Service) EmailIndex(normalized string) []byte { return s.keys.EmailIndex(normalized) }
