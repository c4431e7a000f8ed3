package oidcprovider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/crypto"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/assent-auth/assent/store"
)

// OpenID CIBA (Client-Initiated Backchannel Authentication Core 1.0): the
// library has no CIBA, so authserver serves the backchannel endpoint and
// the CIBA grant of the token endpoint, and the provider mints the tokens
// here with the same signing keys and claims as every other grant.

// GrantTypeCIBA is the token endpoint's grant type for CIBA.
const GrantTypeCIBA = "urn:openid:params:grant-type:ciba"

// CIBA token delivery modes a client may register.
const (
	CIBAPoll = "poll"
	CIBAPing = "ping"
)

// validateCIBA checks a client's CIBA settings. Ping needs an https
// notification endpoint (http only on a loopback address, for development).
// CIBA clients must authenticate, so public clients cannot use it.
func (c ClientConfig) validateCIBA(where string) []error {
	var errs []error
	switch c.CIBAMode {
	case "":
		if c.NotificationEndpoint != "" {
			errs = append(errs, fmt.Errorf("%s.notification_endpoint: only for ciba_mode ping", where))
		}
		if c.CIBAUserCode {
			errs = append(errs, fmt.Errorf("%s.ciba_user_code: only with a ciba_mode", where))
		}
		return errs
	case CIBAPoll, CIBAPing:
	default:
		return append(errs, fmt.Errorf("%s.ciba_mode: %q is not poll or ping", where, c.CIBAMode))
	}
	if c.Public {
		errs = append(errs, fmt.Errorf("%s.ciba_mode: a public client cannot use CIBA (it must authenticate)", where))
	}
	switch {
	case c.CIBAMode == CIBAPing && c.NotificationEndpoint == "":
		errs = append(errs, fmt.Errorf("%s.notification_endpoint: required for ciba_mode ping", where))
	case c.CIBAMode == CIBAPoll && c.NotificationEndpoint != "":
		errs = append(errs, fmt.Errorf("%s.notification_endpoint: only for ciba_mode ping", where))
	case c.NotificationEndpoint != "":
		if err := validNotificationEndpoint(c.NotificationEndpoint); err != nil {
			errs = append(errs, fmt.Errorf("%s.notification_endpoint: %w", where, err))
		}
	}
	return errs
}

func validNotificationEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not an absolute URL without fragment or credentials", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return fmt.Errorf("%q must be https (http only on a loopback address)", s)
}

// ErrClientAuth reports a client that failed to authenticate.
var ErrClientAuth = errors.New("client authentication failed")

// AuthenticateClient checks a confidential client's id and secret
// (client_secret_basic or client_secret_post) and returns the client.
// Every failure is ErrClientAuth, so an unknown id and a wrong secret look
// the same.
func (p *Provider) AuthenticateClient(ctx context.Context, id, secret string) (store.OIDCClient, error) {
	if id == "" || secret == "" || len(id) > 128 || len(secret) > 512 {
		return store.OIDCClient{}, ErrClientAuth
	}
	c, err := p.Client(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		secretMatches(store.OIDCClient{SecretHash: make([]byte, 32)}, secret) // same work either way
		return store.OIDCClient{}, ErrClientAuth
	}
	if err != nil {
		return store.OIDCClient{}, err
	}
	if !secretMatches(c, secret) {
		return store.OIDCClient{}, ErrClientAuth
	}
	return c, nil
}

// ErrBadHint reports an id_token_hint that Assent did not sign.
var ErrBadHint = errors.New("id_token_hint is not an ID token this server issued")

// HintSubject returns the subject of an ID token that this provider
// issued (an expired one is fine: it only names the user).
func (p *Provider) HintSubject(ctx context.Context, token string) (string, error) {
	if len(token) > 8192 {
		return "", ErrBadHint
	}
	ctx = op.ContextWithIssuer(ctx, issuerString(p.issuer))
	claims, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, token, p.op.IDTokenHintVerifier(ctx))
	var expired op.IDTokenHintExpiredError
	if err != nil && !errors.As(err, &expired) || claims == nil || claims.Subject == "" {
		return "", ErrBadHint
	}
	return claims.Subject, nil
}

// CIBAGrant is what an approved backchannel request stands for.
type CIBAGrant struct {
	ClientID string
	Subject  string
	Scopes   []string
	AMR      []string
	ACR      string
	AuthTime time.Time
	// AuthorizationDetails is the approved RFC 9396 array; it goes into
	// the token response, the ID token and the access token, unchanged.
	AuthorizationDetails json.RawMessage
	// Exemption is the PSD2 exemption the risk engine applied, if any
	// (claim "psd2_exemption").
	Exemption string
	// IDTokenAlg is the client's registered signing algorithm (its
	// IDTokenAlg): RS256, or ES256 when empty.
	IDTokenAlg string
}

// TokenResponse is the token endpoint's answer to a CIBA grant.
type TokenResponse struct {
	AccessToken          string          `json:"access_token"`
	TokenType            string          `json:"token_type"`
	ExpiresIn            int64           `json:"expires_in"`
	IDToken              string          `json:"id_token"`
	Scope                string          `json:"scope,omitempty"`
	AuthorizationDetails json.RawMessage `json:"authorization_details,omitempty"`
}

// IssueCIBATokens signs a JWT access token (RFC 9068) and an ID token for
// the grant with the provider's current key of the client's algorithm
// (ES256, or RS256 for a client registered with it), as the token
// endpoint does: relying parties verify both against /keys like any
// other. Both carry acr, amr, auth_time and the authorization details. No
// refresh token is issued: a payment approval is good for what was
// approved, once.
func (p *Provider) IssueCIBATokens(ctx context.Context, g CIBAGrant) (TokenResponse, error) {
	issuer := issuerString(p.issuer)
	alg := jose.ES256
	if g.IDTokenAlg == string(jose.RS256) {
		alg = jose.RS256
	}
	key, err := p.keys.signing(ctx, alg)
	if err != nil {
		return TokenResponse{}, fmt.Errorf("signing key: %w", err)
	}
	signer, err := op.SignerFromKey(key)
	if err != nil {
		return TokenResponse{}, err
	}
	extra := map[string]any{"auth_time": g.AuthTime.Unix()}
	if g.ACR != "" {
		extra["acr"] = g.ACR
	}
	if len(g.AMR) > 0 {
		extra["amr"] = g.AMR
	}
	if len(g.AuthorizationDetails) > 0 {
		extra["authorization_details"] = g.AuthorizationDetails
	}
	if g.Exemption != "" {
		extra["psd2_exemption"] = g.Exemption
	}
	// Token lifetimes use the wall clock, as the library's do.
	exp := time.Now().UTC().Add(p.accessTTL)
	at := oidc.NewAccessTokenClaims(issuer, g.Subject, []string{g.ClientID}, exp, cibaTokenID(g.Scopes), g.ClientID, 0)
	at.Scopes = g.Scopes
	at.Claims = extra
	access, err := crypto.Sign(at, signer)
	if err != nil {
		return TokenResponse{}, fmt.Errorf("sign access token: %w", err)
	}
	idc := oidc.NewIDTokenClaims(issuer, g.Subject, []string{g.ClientID}, time.Now().UTC().Add(time.Hour), g.AuthTime, "", g.ACR, g.AMR, g.ClientID, 0)
	idc.AccessTokenHash, err = oidc.ClaimHash(access, key.SignatureAlgorithm())
	if err != nil {
		return TokenResponse{}, err
	}
	idExtra := map[string]any{}
	if len(g.AuthorizationDetails) > 0 {
		idExtra["authorization_details"] = g.AuthorizationDetails
	}
	if g.Exemption != "" {
		idExtra["psd2_exemption"] = g.Exemption
	}
	idc.Claims = idExtra
	id, err := crypto.Sign(idc, signer)
	if err != nil {
		return TokenResponse{}, fmt.Errorf("sign id token: %w", err)
	}
	return TokenResponse{
		AccessToken: access, TokenType: oidc.BearerToken, ExpiresIn: int64(p.accessTTL / time.Second),
		IDToken: id, Scope: strings.Join(g.Scopes, " "), AuthorizationDetails: g.AuthorizationDetails,
	}, nil
}

// cibaTokenID is an access token id in the form the userinfo and
// introspection endpoints read the granted scopes from (accessTokenID).
func cibaTokenID(scopes []string) string {
	return randomID(16) + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Join(scopes, " ")))
}

// AuthenticateClientAssertion checks a private_key_jwt client assertion
// (RFC 7523: signed with a key the client registered, for this issuer,
// not expired, its jti used once) and returns the client that signed it.
// clientID, when the request names one, must be the assertion's issuer.
// Every refusal is ErrClientAuth.
func (p *Provider) AuthenticateClientAssertion(ctx context.Context, assertionType, assertion, clientID string) (store.OIDCClient, error) {
	if assertionType != oidc.ClientAssertionTypeJWTAssertion || assertion == "" || len(assertion) > 8192 {
		return store.OIDCClient{}, ErrClientAuth
	}
	call := &tokenCall{}
	ctx = context.WithValue(ctx, tokenCallKey{}, call)
	if code, _ := p.useAssertion(ctx, assertion); code == "server_error" {
		return store.OIDCClient{}, errors.New("record client assertion failed")
	} else if code != "" || call.asserted == "" {
		return store.OIDCClient{}, ErrClientAuth
	}
	if clientID != "" && clientID != call.asserted {
		return store.OIDCClient{}, ErrClientAuth
	}
	c, err := p.Client(ctx, call.asserted)
	if errors.Is(err, store.ErrNotFound) {
		return store.OIDCClient{}, ErrClientAuth
	}
	return c, err
}
