package store

import (
	"context"
	"time"
)

// OIDCClient is a relying party registered through the admin API. Clients
// declared in the configuration file are not stored.
type OIDCClient struct {
	ID string `json:"id"`
	// Name is the display name users see (the consent page, the list of
	// connected applications); empty shows the id.
	Name string `json:"name,omitempty"`
	// SecretHash is the SHA-256 of the client secret; empty for a public
	// client. Secrets are 256-bit random values, so a fast hash suffices.
	SecretHash   []byte   `json:"secret_hash,omitempty"`
	Public       bool     `json:"public"`
	RedirectURIs []string `json:"redirect_uris"`
	// MinACR is the lowest acr the client accepts; empty for none.
	MinACR string `json:"min_acr,omitempty"`
	// PostLogoutRedirectURIs are where RP-initiated logout may return.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// Scopes and GrantTypes the client may use; empty means the defaults
	// (every scope offered; the code and refresh grants).
	Scopes     []string `json:"scopes,omitempty"`
	GrantTypes []string `json:"grant_types,omitempty"`
	// JWKS is the public key set (RFC 7517 JSON) of a client that
	// authenticates with private_key_jwt; empty for a secret or public
	// client.
	JWKS []byte `json:"jwks,omitempty"`
	// JWKSURI is where such a client publishes its key set instead.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// IDTokenAlg is the id_token_signed_response_alg: ES256 (default) or
	// RS256.
	IDTokenAlg string `json:"id_token_alg,omitempty"`
	// MaxAuthAge, when set, is the oldest sign-in the client accepts
	// (a max_age on every request; 5 minutes for payment-grade clients).
	MaxAuthAge time.Duration `json:"max_auth_age,omitempty"`
	// FirstParty clients skip the consent screen.
	FirstParty bool      `json:"first_party,omitempty"`
	CreatedAt  time.Time `json:"created_at"`

	// CIBAMode is "poll" or "ping" for a client that may use OpenID
	// CIBA; empty for none. NotificationEndpoint is where ping mode posts.
	CIBAMode             string `json:"ciba_mode,omitempty"`
	NotificationEndpoint string `json:"notification_endpoint,omitempty"`
	// CIBAUserCode makes the client's CIBA requests carry the user's user
	// code (backchannel_user_code_parameter).
	CIBAUserCode bool `json:"ciba_user_code,omitempty"`

	// Logo is the client's logo (PNG or JPEG) shown next to its name on
	// the consent page and the list of connected applications; the
	// server serves it itself. Empty for none.
	Logo []byte `json:"logo,omitempty"`
}

// OIDCAuthRequest is an authorization request between the authorization
// endpoint and the code exchange. Request holds the provider's encoding of
// the request (opaque to the store).
type OIDCAuthRequest struct {
	ID string `json:"id"`
	// CodeHash is the SHA-256 of the authorization code once one is issued.
	CodeHash  []byte    `json:"code_hash,omitempty"`
	Request   []byte    `json:"request"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// OIDCRefreshToken is one refresh token of a rotation family. Only the
// SHA-256 of the token is kept.
type OIDCRefreshToken struct {
	TokenHash []byte `json:"token_hash"`
	// Family is shared by every token rotated from the same grant.
	Family   string `json:"family"`
	UserID   string `json:"user_id"`
	ClientID string `json:"client_id"`
	// Grant is the provider's encoding of what the token stands for
	// (scopes, audience, amr, auth time); opaque to the store.
	Grant     []byte    `json:"grant"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Spent is set when the token was exchanged for a newer one.
	Spent bool `json:"spent,omitempty"`
	// Session is the hash (store.Session.IDHash) of the browser session
	// that authorized the grant, so signing out of it revokes the token.
	Session []byte `json:"session,omitempty"`
}

// OIDCSigningKey is a token signing key; Sealed is the private key, sealed
// by the caller.
type OIDCSigningKey struct {
	ID        string    `json:"id"`
	Algorithm string    `json:"algorithm"`
	Sealed    []byte    `json:"sealed"`
	CreatedAt time.Time `json:"created_at"`
}

// OIDC stores what the OpenID Connect provider keeps: clients, pending
// authorization requests with their codes, refresh token families and
// signing keys. DeleteUser removes the user's refresh tokens.
type OIDC interface {
	OIDCGrants

	// CreateOIDCClient inserts c; ErrExists if its ID is taken.
	CreateOIDCClient(ctx context.Context, c OIDCClient) error
	// GetOIDCClient returns the client, or ErrNotFound.
	GetOIDCClient(ctx context.Context, id string) (OIDCClient, error)
	// ListOIDCClients returns every stored client ordered by ID.
	ListOIDCClients(ctx context.Context) ([]OIDCClient, error)
	// DeleteOIDCClient removes the client, every refresh token issued to
	// it and every user's consent to it; ErrNotFound if absent.
	DeleteOIDCClient(ctx context.Context, id string) error

	// CreateOIDCAuthRequest inserts r; ErrExists if its ID is taken.
	CreateOIDCAuthRequest(ctx context.Context, r OIDCAuthRequest) error
	// GetOIDCAuthRequest returns the request, or ErrNotFound.
	GetOIDCAuthRequest(ctx context.Context, id string) (OIDCAuthRequest, error)
	// UpdateOIDCAuthRequest atomically reads the request, applies fn and
	// writes the result (fn may run more than once; an error from fn writes
	// nothing). The ID and CodeHash cannot change here.
	UpdateOIDCAuthRequest(ctx context.Context, id string, fn func(OIDCAuthRequest) (OIDCAuthRequest, error)) (OIDCAuthRequest, error)
	// SetOIDCAuthCode attaches the code hash to the request; ErrExists if
	// the request already has a code, ErrNotFound if it is absent.
	SetOIDCAuthCode(ctx context.Context, id string, codeHash []byte) error
	// GetOIDCAuthRequestByCode returns the request holding the code hash,
	// or ErrNotFound.
	GetOIDCAuthRequestByCode(ctx context.Context, codeHash []byte) (OIDCAuthRequest, error)
	// DeleteOIDCAuthRequest removes the request and its code; ErrNotFound
	// if absent. Exactly one of concurrent callers succeeds, which is how a
	// code is redeemed once.
	DeleteOIDCAuthRequest(ctx context.Context, id string) error
	// DeleteExpiredOIDCAuthRequests removes requests that expired before
	// now and reports how many.
	DeleteExpiredOIDCAuthRequests(ctx context.Context, now time.Time) (int, error)

	// CreateOIDCRefreshToken inserts t; ErrExists if its hash is taken,
	// ErrNotFound if its user does not exist.
	CreateOIDCRefreshToken(ctx context.Context, t OIDCRefreshToken) error
	// GetOIDCRefreshToken returns the token, spent or not, or ErrNotFound.
	GetOIDCRefreshToken(ctx context.Context, tokenHash []byte) (OIDCRefreshToken, error)
	// RotateOIDCRefreshToken atomically marks the token with oldHash spent
	// and inserts next in its family. If the old token is already spent
	// (a reuse), the whole family is deleted and ErrConflict returned;
	// ErrNotFound if the old token is absent.
	RotateOIDCRefreshToken(ctx context.Context, oldHash []byte, next OIDCRefreshToken) error
	// DeleteOIDCRefreshFamily removes every token of the family and reports
	// how many.
	DeleteOIDCRefreshFamily(ctx context.Context, family string) (int, error)
	// DeleteUserOIDCRefreshTokens removes every refresh token of the user
	// (a password reset or a "this wasn't me" report) and reports how many.
	DeleteUserOIDCRefreshTokens(ctx context.Context, userID string) (int, error)

	// PutOIDCSigningKey inserts k; ErrExists if its ID is taken.
	PutOIDCSigningKey(ctx context.Context, k OIDCSigningKey) error
	// ListOIDCSigningKeys returns every signing key, oldest first.
	ListOIDCSigningKeys(ctx context.Context) ([]OIDCSigningKey, error)
}
