package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends map their driver errors onto these; callers
// compare with errors.Is.
var (
	// ErrNotFound reports that the requested record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrExists reports that a record with the same identity, or the same
	// value of a unique index, already exists.
	ErrExists = errors.New("store: already exists")
	// ErrConflict reports that a compare-and-swap lost against a concurrent
	// writer. Callers may re-read and retry.
	ErrConflict = errors.New("store: conflict")
	// ErrClosed reports a call on a store that has been closed.
	ErrClosed = errors.New("store: closed")
)

// User is an identity as persisted. Personal data (e-mail, name, profile
// attributes) is never stored in the clear: Sealed holds it encrypted under
// the user's own data key, and WrappedKey holds that key encrypted under the
// server's master key. Destroying WrappedKey makes Sealed unreadable.
type User struct {
	// ID is the stable, opaque subject identifier.
	ID string `json:"id"`
	// EmailIndex is a keyed hash (HMAC) of the normalised e-mail. It is unique
	// across all users and is how a user is found by e-mail. An empty
	// EmailIndex means the user is not indexed by e-mail.
	EmailIndex []byte `json:"email_index"`
	// WrappedKey is the user's data key, sealed by the master key.
	WrappedKey []byte `json:"wrapped_key"`
	// Sealed is the user's personal data, sealed by the data key.
	Sealed []byte `json:"sealed"`
	// PasswordHash is a PHC-format (or legacy, awaiting rehash) password
	// hash; empty when the user has no password.
	PasswordHash string `json:"password_hash,omitempty"`
	// EmailVerified reports whether the user proved control of the e-mail.
	EmailVerified bool `json:"email_verified"`
	// Locked is an operator's lock; only an operator lifts it.
	Locked bool `json:"locked"`
	// LockedUntil is a temporary lock after repeated sign-in failures.
	LockedUntil time.Time `json:"locked_until,omitzero"`
	// FailedSignIns counts consecutive failed sign-ins since the last success.
	FailedSignIns int `json:"failed_sign_ins"`
	// LastSignIn is the time of the last successful sign-in.
	LastSignIn time.Time `json:"last_sign_in,omitzero"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Version increases by one on every successful update. Backends set it;
	// callers use it to detect that they worked on a stale copy.
	Version uint64 `json:"version"`
}

// Session is a server-side browser session. Only the SHA-256 hash of the
// random session id is stored, so a copy of the database does not hand out
// live sessions.
type Session struct {
	// IDHash is the SHA-256 of the 256-bit random session id in the cookie.
	IDHash []byte `json:"id_hash"`
	UserID string `json:"user_id"`
	// AuthTime is when the user last authenticated in this session.
	AuthTime time.Time `json:"auth_time"`
	// AMR lists the authentication methods used (RFC 8176 values).
	AMR       []string  `json:"amr,omitempty"`
	IP        string    `json:"ip,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is the absolute end of the session.
	ExpiresAt time.Time `json:"expires_at"`
	// LastSeen is when the session was last used, kept to about a minute
	// (see TouchSession); zero means never since CreatedAt.
	LastSeen time.Time `json:"last_seen,omitzero"`
}

// AuditEvent is one entry of the append-only security log.
type AuditEvent struct {
	// Seq is assigned by the store on append: strictly increasing, starting
	// at 1, never reused.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Kind is a stable dotted name, for example "signin.failed".
	Kind string `json:"kind"`
	// Actor is who acted: a user id, "admin", or "anonymous".
	Actor string `json:"actor,omitempty"`
	// Subject is the user id acted upon, if any.
	Subject   string `json:"subject,omitempty"`
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	// Outcome is "ok", "failed", "denied", "challenged" and the like.
	Outcome string `json:"outcome"`
	// Details carries event-specific, non-personal data (reason codes,
	// scores, client ids). Never e-mails, names or secrets.
	Details map[string]string `json:"details,omitempty"`
}

// Times come back from a store in UTC and may lose their monotonic reading
// and zone: compare them with Equal.
//
// Store is the persistence contract: one interface per concern, embedded
// here, each in its own file as the product grows. All methods are safe for
// concurrent use and honour ctx cancellation before they start work. Every
// method either fully applies its change or leaves the store unchanged.
type Store interface {
	Users
	Sessions
	Audit
	History
	Factors
	Outbox
	OIDC
	Push
	PushLocks
	Profiles
	Webhooks
	CIBA
	// Close releases the store. Further calls fail with ErrClosed.
	Close() error
}

// Users stores identities.
type Users interface {
	// CreateUser inserts u. It fails with ErrExists if u.ID or u.EmailIndex
	// is taken. The store sets Version to 1.
	CreateUser(ctx context.Context, u User) error
	// GetUser returns the user with the given id, or ErrNotFound.
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByEmailIndex returns the user whose EmailIndex equals idx, or
	// ErrNotFound.
	GetUserByEmailIndex(ctx context.Context, idx []byte) (User, error)
	// ListUsers returns up to limit users with ID greater than after, in
	// ascending ID order. limit <= 0 means a default page (100); pages are
	// capped at 1000. User ids are non-empty and contain no NUL byte.
	ListUsers(ctx context.Context, after string, limit int) ([]User, error)
	// UpdateUser atomically reads the user, applies fn, and writes the
	// result; no concurrent update is lost. fn may run more than once on
	// backends that retry, so it must be free of side effects. If fn returns
	// an error nothing is written and that error is returned. Changing the
	// EmailIndex to one held by another user fails with ErrExists. The ID
	// cannot be changed. Returns the stored result, or ErrNotFound.
	UpdateUser(ctx context.Context, id string, fn func(User) (User, error)) (User, error)
	// CompareAndSwapUser writes u only if the stored user's Version still
	// equals u.Version, and fails with ErrConflict otherwise. It keeps the
	// e-mail index right, failing with ErrExists if a new EmailIndex is
	// taken. Returns the stored result with its new Version.
	CompareAndSwapUser(ctx context.Context, u User) (User, error)
	// DeleteUser removes the user, its e-mail index entry, its sessions and
	// every other record kept under the user. Returns ErrNotFound if there
	// is no such user.
	DeleteUser(ctx context.Context, id string) error
}

// Sessions stores browser sessions.
type Sessions interface {
	// CreateSession inserts s; ErrExists if its IDHash is taken, ErrNotFound
	// if its user does not exist (checked in the same transaction, so a
	// sign-in racing an erasure leaves no session behind).
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session with the given id hash, or ErrNotFound.
	// Expired sessions are returned as they are; callers check ExpiresAt.
	GetSession(ctx context.Context, idHash []byte) (Session, error)
	// TouchSession records that the session was used at at (LastSeen
	// never moves back); ErrNotFound if absent. Concurrent touches share
	// commits.
	TouchSession(ctx context.Context, idHash []byte, at time.Time) error
	// DeleteSession removes one session; ErrNotFound if absent.
	DeleteSession(ctx context.Context, idHash []byte) error
	// DeleteUserSessions removes every session of the user and reports how
	// many were removed.
	DeleteUserSessions(ctx context.Context, userID string) (int, error)
	// DeleteExpiredSessions removes sessions whose ExpiresAt is before now
	// and reports how many were removed.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
}

// Audit stores the append-only security log and small counters.
type Audit interface {
	// AppendAudit appends e, assigning the next sequence number, which it
	// returns. Concurrent appends are batched into shared commits.
	AppendAudit(ctx context.Context, e AuditEvent) (uint64, error)
	// ListAudit returns up to limit events with Seq greater than after, in
	// ascending Seq order.
	ListAudit(ctx context.Context, after uint64, limit int) ([]AuditEvent, error)

	// AddCounter adds delta to the named counter and returns its new value.
	// Concurrent increments are batched into shared commits and none is lost.
	AddCounter(ctx context.Context, name string, delta int64) (int64, error)
	// Counter returns the named counter's value (0 if never set).
	Counter(ctx context.Context, name string) (int64, error)
}

// lazyCommitKey marks a context of WithLazyCommit.
type lazyCommitKey struct{}

// WithLazyCommit marks the writes made under ctx as ones nobody is waiting
// for, such as audit events appended in the background while the request
// that caused them has already been answered. A backend may then hold such
// a write for a few milliseconds, so that it shares one commit (one fsync)
// with the writes that arrive meanwhile. The call still returns only once
// the write is durable, and a write without the mark is never held.
func WithLazyCommit(ctx context.Context) context.Context {
	return context.WithValue(ctx, lazyCommitKey{}, true)
}

// LazyCommit reports whether ctx carries the mark of WithLazyCommit.
func LazyCommit(ctx context.Context) bool {
	lazy, _ := ctx.Value(lazyCommitKey{}).(bool)
	return lazy
}
