package oidcprovider

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/assent-auth/assent/acr"
	"net/url"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/assent-auth/assent/store"
)

// ClientConfig declares a relying party in the configuration file.
type ClientConfig struct {
	ID string `yaml:"id"`
	// Name is the display name users see on the consent page and the
	// list of connected applications (at most 100 printable characters);
	// empty shows the id.
	Name string `yaml:"name"`
	// Secret is the client secret of a confidential client (at least 32
	// characters); empty for a public one.
	Secret       string   `yaml:"secret"`
	Public       bool     `yaml:"public"`
	RedirectURIs []string `yaml:"redirect_uris"`
	// MinACR is the lowest acr the client accepts.
	MinACR string `yaml:"min_acr"`
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// browser back to (exact match).
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	// Scopes the client may request and GrantTypes it may use; empty for
	// all of them (openid, email, offline_access; authorization_code,
	// refresh_token). client_credentials must be listed, and a client
	// that lists only it needs no redirect URIs.
	Scopes     []string `yaml:"scopes"`
	GrantTypes []string `yaml:"grant_types"`
	// JWKS is the client's public key set (JSON) for private_key_jwt; such
	// a client has no secret.
	JWKS string `yaml:"jwks"`
	// JWKSURI is where the client publishes that key set instead (https,
	// or http on a loopback address).
	JWKSURI string `yaml:"jwks_uri"`
	// IDTokenAlg is id_token_signed_response_alg: ES256 (default) or RS256.
	IDTokenAlg string `yaml:"id_token_signed_response_alg"`
	// FirstParty clients are the operator's own: users are not asked to
	// consent to them.
	FirstParty bool `yaml:"first_party"`
	// MaxAuthAge is the oldest sign-in the client accepts, as if every
	// request carried that max_age (5m for payment-grade clients, PSD2 RTS
	// art. 4); zero for none.
	MaxAuthAge time.Duration `yaml:"max_auth_age"`

	// CIBAMode ("poll" or "ping") lets the client use OpenID CIBA;
	// NotificationEndpoint is where ping mode posts (ciba.go).
	CIBAMode             string `yaml:"ciba_mode"`
	NotificationEndpoint string `yaml:"notification_endpoint"`
	// CIBAUserCode: the client's CIBA requests must carry the user's user
	// code (the registration's backchannel_user_code_parameter), which
	// the user chooses and gives to the businesses they trust.
	CIBAUserCode bool `yaml:"ciba_user_code"`
	// LogoFile names a PNG or JPEG file (at most 32 KiB and 512 pixels a
	// side) that assentd reads into Logo: the client's logo on the
	// consent page, served by Assent itself.
	LogoFile string `yaml:"logo_file"`
	Logo     []byte `yaml:"-"`
}

// Validate reports every problem with c at once; where names the client.
func (c ClientConfig) Validate(where string) error {
	var errs []error
	if c.ID == "" || len(c.ID) > 128 {
		errs = append(errs, fmt.Errorf("%s.id: required, at most 128 characters", where))
	}
	if c.Public && c.Secret != "" {
		errs = append(errs, fmt.Errorf("%s.secret: a public client has no secret", where))
	}
	if !c.Public && c.JWKS == "" && c.JWKSURI == "" && len(c.Secret) < 32 {
		errs = append(errs, fmt.Errorf("%s.secret: at least 32 characters for a confidential client", where))
	}
	if err := validateRedirectURIs(c.RedirectURIs); err != nil && (c.CIBAMode == "" && c.needsRedirectURIs() || len(c.RedirectURIs) > 0) {
		errs = append(errs, fmt.Errorf("%s.redirect_uris: %w", where, err))
	}
	if _, ok := acr.Parse(c.MinACR); c.MinACR != "" && !ok {
		errs = append(errs, fmt.Errorf("%s.min_acr: %q is not one of %v", where, c.MinACR, acr.Values()))
	}
	if !validDisplayName(c.Name) {
		errs = append(errs, fmt.Errorf("%s.name: at most %d printable characters", where, maxClientName))
	}
	if _, err := LogoType(c.Logo); len(c.Logo) > 0 && err != nil {
		errs = append(errs, fmt.Errorf("%s.logo: %w", where, err))
	}
	errs = append(errs, c.validateCIBA(where)...)
	errs = append(errs, c.validateOptions(where)...)
	return errors.Join(errs...)
}

func validateRedirectURIs(uris []string) error {
	if len(uris) == 0 {
		return errors.New("at least one is required")
	}
	for _, u := range uris {
		p, err := url.Parse(u)
		if err != nil || !p.IsAbs() || p.Fragment != "" || p.Host == "" && (p.Scheme == "http" || p.Scheme == "https") {
			return fmt.Errorf("%q is not an absolute URI without fragment", u)
		}
	}
	return nil
}

// NewClient is what the admin API registers.
type NewClient struct {
	ID           string
	Name         string
	RedirectURIs []string
	Public       bool
	MinACR       string
	// PostLogoutRedirectURIs, Scopes, GrantTypes, JWKS (private_key_jwt:
	// no secret), IDTokenAlg and FirstParty as in ClientConfig.
	PostLogoutRedirectURIs []string
	Scopes                 []string
	GrantTypes             []string
	JWKS                   string
	JWKSURI                string
	IDTokenAlg             string
	FirstParty             bool
	MaxAuthAge             time.Duration

	// CIBAMode, NotificationEndpoint and CIBAUserCode as in ClientConfig.
	CIBAMode             string
	NotificationEndpoint string
	CIBAUserCode         bool
	// Logo as in ClientConfig: PNG or JPEG, at most 32 KiB.
	Logo []byte
}

// ErrInvalidClient reports a client registration that cannot be stored.
var ErrInvalidClient = errors.New("invalid client")

// CreateClient stores a new client and returns its secret (empty for a
// public client). Only the secret's hash is kept: the caller shows the
// secret once. store.ErrExists if the id is taken, here or in the
// configuration file.
func (p *Provider) CreateClient(ctx context.Context, nc NewClient) (store.OIDCClient, string, error) {
	var secret string
	if !nc.Public && nc.JWKS == "" && nc.JWKSURI == "" {
		secret = newSecret()
	}
	cc := ClientConfig{ID: nc.ID, Secret: secret, Public: nc.Public, RedirectURIs: nc.RedirectURIs, MinACR: nc.MinACR,
		CIBAMode: nc.CIBAMode, NotificationEndpoint: nc.NotificationEndpoint, CIBAUserCode: nc.CIBAUserCode}
	nc.applyTo(&cc)
	if err := cc.Validate("client"); err != nil {
		return store.OIDCClient{}, "", fmt.Errorf("%w: %w", ErrInvalidClient, err)
	}
	if _, ok := p.static[nc.ID]; ok {
		return store.OIDCClient{}, "", store.ErrExists
	}
	c := cc.stored()
	c.CreatedAt = p.now().UTC()
	c.CIBAMode, c.NotificationEndpoint = nc.CIBAMode, nc.NotificationEndpoint
	if secret != "" {
		c.SecretHash = hashSecret(secret)
	}
	if err := p.store.CreateOIDCClient(ctx, c); err != nil {
		return store.OIDCClient{}, "", err
	}
	return c, secret, nil
}

// Clients lists the configured clients, then the stored ones.
func (p *Provider) Clients(ctx context.Context) ([]store.OIDCClient, error) {
	out := slices.Clone(p.staticList)
	stored, err := p.store.ListOIDCClients(ctx)
	if err != nil {
		return nil, err
	}
	return append(out, stored...), nil
}

// Client returns one client, configured or stored; store.ErrNotFound if
// there is none.
func (p *Provider) Client(ctx context.Context, id string) (store.OIDCClient, error) {
	if c, ok := p.static[id]; ok {
		return c, nil
	}
	return p.store.GetOIDCClient(ctx, id)
}

// ErrConfiguredClient reports an attempt to delete a client that the
// configuration file declares.
var ErrConfiguredClient = errors.New("client is declared in the configuration file")

// DeleteClient removes a stored client and its refresh tokens.
func (p *Provider) DeleteClient(ctx context.Context, id string) error {
	if _, ok := p.static[id]; ok {
		return ErrConfiguredClient
	}
	return p.store.DeleteOIDCClient(ctx, id)
}

// RotateSecret gives a stored confidential client a new secret, returned
// once; the old one stops working at once. A configured client's secret is
// changed in the configuration file.
func (p *Provider) RotateSecret(ctx context.Context, id string) (string, error) {
	if _, ok := p.static[id]; ok {
		return "", ErrConfiguredClient
	}
	secret := newSecret()
	_, err := p.store.UpdateOIDCClient(ctx, id, func(c store.OIDCClient) (store.OIDCClient, error) {
		if c.Public || len(c.JWKS) > 0 || c.JWKSURI != "" {
			return c, ErrNoSecret
		}
		c.SecretHash = hashSecret(secret)
		return c, nil
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashSecret hashes a client secret. Secrets are 256-bit random values (or
// at least 32 characters from the operator), so SHA-256 is enough.
func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func secretMatches(c store.OIDCClient, secret string) bool {
	if c.Public || len(c.SecretHash) == 0 {
		return false
	}
	return subtle.ConstantTimeCompare(c.SecretHash, hashSecret(secret)) == 1
}

// client adapts a store.OIDCClient to op.Client.
type client struct {
	c        store.OIDCClient
	loginURL func(id string) string
	// profileScopes are the profile schema's scopes, which the library
	// would otherwise drop from requests.
	profileScopes []string
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                    { return c.c.ID }
func (c *client) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.c.PostLogoutRedirectURIs }
func (c *client) LoginURL(id string) string        { return c.loginURL(id) }
func (c *client) AccessTokenType() op.AccessTokenType {
	return op.AccessTokenTypeJWT
}
func (c *client) IDTokenLifetime() time.Duration { return time.Hour }
func (c *client) DevMode() bool                  { return false }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(sc string) bool        { return slices.Contains(c.profileScopes, sc) }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	var out []oidc.GrantType
	for _, g := range offeredGrants {
		if clientAllowsGrant(c.c, g) {
			out = append(out, g)
		}
	}
	return out
}

// ApplicationType: a public client is native (the library then also
// accepts its loopback redirect URIs on any port, RFC 8252; Assent's own
// check in front of it still demands an exact match).
func (c *client) ApplicationType() op.ApplicationType {
	if c.c.Public {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

func (c *client) AuthMethod() oidc.AuthMethod {
	if c.c.Public {
		return oidc.AuthMethodNone
	}
	if len(c.c.JWKS) > 0 || c.c.JWKSURI != "" {
		return oidc.AuthMethodPrivateKeyJWT
	}
	return oidc.AuthMethodBasic
}
