package adminclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// OIDCClient is an OpenID Connect relying party.
type OIDCClient struct {
	ID           string   `json:"id"`
	Public       bool     `json:"public"`
	RedirectURIs []string `json:"redirect_uris"`
	MinACR       string   `json:"min_acr,omitempty"`
	// Name is the display name users see; empty shows the id.
	Name string `json:"name,omitempty"`
	// AuthMethod is client_secret_basic, private_key_jwt or none.
	AuthMethod             string          `json:"token_endpoint_auth_method,omitempty"`
	PostLogoutRedirectURIs []string        `json:"post_logout_redirect_uris,omitempty"`
	Scopes                 []string        `json:"scopes,omitempty"`
	GrantTypes             []string        `json:"grant_types,omitempty"`
	JWKS                   json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                string          `json:"jwks_uri,omitempty"`
	IDTokenAlg             string          `json:"id_token_signed_response_alg,omitempty"`
	FirstParty             bool            `json:"first_party,omitempty"`
	MaxAuthAgeSeconds      int64           `json:"max_auth_age_seconds,omitempty"`
	// Configured marks a client declared in the server's configuration
	// file; it cannot be deleted through the API.
	Configured bool      `json:"configured,omitempty"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
	// Secret is set only in CreateClient's answer.
	Secret string `json:"secret,omitempty"`

	// CIBAMode is poll or ping for a client that may use OpenID CIBA;
	// NotificationEndpoint is where ping mode posts.
	CIBAMode             string `json:"ciba_mode,omitempty"`
	NotificationEndpoint string `json:"notification_endpoint,omitempty"`
	// CIBAUserCode: CIBA requests must carry the user's user_code.
	CIBAUserCode bool `json:"backchannel_user_code_parameter,omitempty"`

	// LogoURI is where the server serves the client's logo (a path on
	// the server); empty for none.
	LogoURI string `json:"logo_uri,omitempty"`
}

// NewOIDCClient registers a client.
type NewOIDCClient struct {
	ID string `json:"id"`
	// Name is the display name users see on the consent page.
	Name         string   `json:"name,omitempty"`
	RedirectURIs []string `json:"redirect_uris"`
	Public       bool     `json:"public,omitempty"`
	MinACR       string   `json:"min_acr,omitempty"`
	// JWKS or JWKSURI registers the client for private_key_jwt (no
	// secret then).
	PostLogoutRedirectURIs []string        `json:"post_logout_redirect_uris,omitempty"`
	Scopes                 []string        `json:"scopes,omitempty"`
	GrantTypes             []string        `json:"grant_types,omitempty"`
	JWKS                   json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                string          `json:"jwks_uri,omitempty"`
	IDTokenAlg             string          `json:"id_token_signed_response_alg,omitempty"`
	FirstParty             bool            `json:"first_party,omitempty"`
	// MaxAuthAgeSeconds is the oldest sign-in the client accepts.
	MaxAuthAgeSeconds int64 `json:"max_auth_age_seconds,omitempty"`

	CIBAMode             string `json:"ciba_mode,omitempty"`
	NotificationEndpoint string `json:"notification_endpoint,omitempty"`
	CIBAUserCode         bool   `json:"backchannel_user_code_parameter,omitempty"`

	// Logo is a PNG or JPEG image (at most 32 KiB, 512 pixels a side),
	// base64 in JSON, shown next to the client's name to users.
	Logo []byte `json:"logo,omitempty"`
}

// CreateClient registers a client; the answer carries its secret, which
// the server does not keep.
func (c *Client) CreateClient(ctx context.Context, nc NewOIDCClient) (OIDCClient, error) {
	var out OIDCClient
	err := c.doJSON(ctx, http.MethodPost, "/admin/v1/clients", nc, &out)
	return out, err
}

// ListClients returns every client.
func (c *Client) ListClients(ctx context.Context) ([]OIDCClient, error) {
	var out struct {
		Clients []OIDCClient `json:"clients"`
	}
	err := c.doJSON(ctx, http.MethodGet, "/admin/v1/clients", nil, &out)
	return out.Clients, err
}

// GetClient returns one client.
func (c *Client) GetClient(ctx context.Context, id string) (OIDCClient, error) {
	var out OIDCClient
	err := c.doJSON(ctx, http.MethodGet, "/admin/v1/clients/"+url.PathEscape(id), nil, &out)
	return out, err
}

// RotateClientSecret gives a confidential client a new secret, returned
// once in the answer's Secret; the old one stops working.
func (c *Client) RotateClientSecret(ctx context.Context, id string) (OIDCClient, error) {
	var out OIDCClient
	err := c.doJSON(ctx, http.MethodPost, "/admin/v1/clients/"+url.PathEscape(id)+"/rotate-secret", nil, &out)
	return out, err
}

// DeleteClient removes a client and its refresh tokens.
func (c *Client) DeleteClient(ctx context.Context, id string) error {
	return c.doJSON(ctx, http.MethodDelete, "/admin/v1/clients/"+url.PathEscape(id), nil, nil)
}
