package store

import (
	"context"
	"time"
)

// ConsentRecord is one decision of a user about one purpose (for example
// "marketing_email"): given or withdrawn, when, through which channel and
// against which version of the policy text. Records are appended and never
// changed; a user's current consent to a purpose is their latest record for
// it.
type ConsentRecord struct {
	// Seq is assigned by the store on append: increasing across the whole
	// store, so a user's records sort in the order they were made.
	Seq     uint64 `json:"seq"`
	UserID  string `json:"user_id"`
	Purpose string `json:"purpose"`
	Granted bool   `json:"granted"`
	// Version is the version of the policy text the user was shown.
	Version string `json:"version"`
	// Channel is where the decision was made: "account", "profile_prompt",
	// "signup", "admin".
	Channel string `json:"channel"`
	// ClientID is the relying party the user came from, if any.
	ClientID string    `json:"client_id,omitempty"`
	Time     time.Time `json:"time"`
}

// KnownDevice is a browser the risk engine has seen the user sign in from
// with the strongest authentication the account allows.
type KnownDevice struct {
	ID        string    `json:"id"`
	FirstSeen time.Time `json:"first_seen"`
}

// ErasureReport says what EraseUser removed and rewrote.
type ErasureReport struct {
	// AuditEvents is how many audit events were pseudonymised.
	AuditEvents int `json:"audit_events"`
}

// FederatedLink ties an account at an upstream OpenID provider to a user.
// The upstream subject is not kept: Key is a keyed hash of the issuer and
// the subject, computed by the profiles package.
type FederatedLink struct {
	Key    []byte `json:"key"`
	UserID string `json:"user_id"`
	// Provider is the operator's name for the upstream ("google").
	Provider  string    `json:"provider"`
	CreatedAt time.Time `json:"created_at"`
	// UnverifiedEmail marks a link made when the upstream did not vouch for
	// the e-mail address: the first proof of the mailbox (a verification,
	// a sign-in link, a password reset) removes it, so an address taken
	// over at a careless upstream does not keep a way into the account of
	// the address's owner.
	UnverifiedEmail bool `json:"unverified_email,omitempty"`
}

// Profiles stores what customer profiles add to an identity: the consent
// history, links to upstream accounts, and the per-user listings that a
// data export and an erasure need. DeleteUser removes a user's consent
// records and links with the user.
type Profiles interface {
	// AppendConsent appends c, assigning the next Seq, which it returns. It
	// fails with ErrNotFound if the user does not exist (checked in the same
	// transaction, so no record outlives an erasure).
	AppendConsent(ctx context.Context, c ConsentRecord) (uint64, error)
	// ListConsents returns the user's consent records, oldest first; an
	// unknown user has none.
	ListConsents(ctx context.Context, userID string) ([]ConsentRecord, error)
	// ListUserSessions returns the user's browser sessions, expired ones
	// included.
	ListUserSessions(ctx context.Context, userID string) ([]Session, error)
	// ListUserOIDCRefreshTokens returns the user's refresh tokens (only
	// their hashes are stored).
	ListUserOIDCRefreshTokens(ctx context.Context, userID string) ([]OIDCRefreshToken, error)
	// ListKnownDevices returns the browsers recorded in the user's history.
	ListKnownDevices(ctx context.Context, userID string) ([]KnownDevice, error)
	// CreateFederatedLink inserts l; ErrExists if l.Key is linked already
	// (to anyone), ErrNotFound if the user does not exist (checked in the
	// same transaction).
	CreateFederatedLink(ctx context.Context, l FederatedLink) error
	// GetFederatedLink returns the link with that key, or ErrNotFound.
	GetFederatedLink(ctx context.Context, key []byte) (FederatedLink, error)
	// ListFederatedLinks returns the user's links.
	ListFederatedLinks(ctx context.Context, userID string) ([]FederatedLink, error)
	// DeleteFederatedLink removes the user's link with that key and returns
	// it: ErrNotFound if the user has no such link; with keepLast,
	// ErrConflict (and nothing removed) if it is the user's only link,
	// checked in the same transaction.
	DeleteFederatedLink(ctx context.Context, userID string, key []byte, keepLast bool) (FederatedLink, error)
	// EraseUser does in one transaction what DeleteUser does and, in the
	// same transaction, pseudonymises every audit event about the user:
	// Actor, Subject and detail values equal to the user id become
	// pseudonym, and the IP address and user agent are dropped. The number
	// of audit events is unchanged. The user's pending webhook deliveries
	// are removed and delivered ones carry the pseudonym. Returns ErrNotFound if there is no such
	// user; then nothing changes.
	EraseUser(ctx context.Context, id, pseudonym string) (ErasureReport, error)
}
