package store

import (
	"context"
	"time"
)

// OIDCConsent is a user's consent to a third-party client: the scopes the
// user agreed to share with it.
type OIDCConsent struct {
	UserID    string    `json:"user_id"`
	ClientID  string    `json:"client_id"`
	Scopes    []string  `json:"scopes"`
	GrantedAt time.Time `json:"granted_at"`
}

// OIDCGrants stores what the provider remembers per user and client, and
// the client assertions already used.
type OIDCGrants interface {
	// UpdateOIDCClient atomically reads the stored client, applies fn and
	// writes the result (fn may run more than once; an error from fn
	// writes nothing); ErrNotFound if absent. The ID cannot change.
	UpdateOIDCClient(ctx context.Context, id string, fn func(OIDCClient) (OIDCClient, error)) (OIDCClient, error)

	// PutOIDCConsent inserts or replaces the consent of c.UserID to
	// c.ClientID; ErrNotFound if the user does not exist.
	PutOIDCConsent(ctx context.Context, c OIDCConsent) error
	// GetOIDCConsent returns the user's consent to the client, or
	// ErrNotFound.
	GetOIDCConsent(ctx context.Context, userID, clientID string) (OIDCConsent, error)
	// ListOIDCConsents returns the user's consents ordered by client id.
	ListOIDCConsents(ctx context.Context, userID string) ([]OIDCConsent, error)
	// DeleteOIDCConsent removes the user's consent to the client;
	// ErrNotFound if there is none.
	DeleteOIDCConsent(ctx context.Context, userID, clientID string) error

	// DeleteUserClientOIDCRefreshTokens removes the refresh tokens the
	// client holds for the user and reports how many.
	DeleteUserClientOIDCRefreshTokens(ctx context.Context, userID, clientID string) (int, error)
	// DeleteSessionOIDCRefreshTokens removes the user's refresh tokens
	// whose Session is session (non-empty) and reports how many.
	DeleteSessionOIDCRefreshTokens(ctx context.Context, userID string, session []byte) (int, error)

	// UseOIDCAssertion records the id of a client assertion (a hash of the
	// client id and its jti) until expiresAt; ErrExists if it is recorded
	// and not yet expired at now. This is how an assertion is accepted
	// once.
	UseOIDCAssertion(ctx context.Context, id []byte, expiresAt, now time.Time) error
	// DeleteExpiredOIDCAssertions forgets assertion ids that expired before
	// now and reports how many.
	DeleteExpiredOIDCAssertions(ctx context.Context, now time.Time) (int, error)
}
