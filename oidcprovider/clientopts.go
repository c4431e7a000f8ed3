package oidcprovider

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/assent-auth/assent/store"
)

// stored is the client as the provider works with it.
func (c ClientConfig) stored() store.OIDCClient {
	sc := store.OIDCClient{ID: c.ID, Name: c.Name, Public: c.Public, RedirectURIs: slices.Clone(c.RedirectURIs), MinACR: c.MinACR,
		PostLogoutRedirectURIs: slices.Clone(c.PostLogoutRedirectURIs), Scopes: slices.Clone(c.Scopes),
		GrantTypes: slices.Clone(c.GrantTypes), IDTokenAlg: c.IDTokenAlg, FirstParty: c.FirstParty, MaxAuthAge: c.MaxAuthAge,
		CIBAMode: c.CIBAMode, NotificationEndpoint: c.NotificationEndpoint, CIBAUserCode: c.CIBAUserCode, Logo: slices.Clone(c.Logo)}
	if c.JWKS != "" {
		sc.JWKS = []byte(c.JWKS)
	}
	sc.JWKSURI = c.JWKSURI
	if !c.Public && c.Secret != "" {
		sc.SecretHash = hashSecret(c.Secret)
	}
	return sc
}

// applyTo copies the registration options of nc into c.
func (nc NewClient) applyTo(c *ClientConfig) {
	c.PostLogoutRedirectURIs, c.Scopes, c.GrantTypes = nc.PostLogoutRedirectURIs, nc.Scopes, nc.GrantTypes
	c.JWKS, c.JWKSURI, c.IDTokenAlg, c.FirstParty = nc.JWKS, nc.JWKSURI, nc.IDTokenAlg, nc.FirstParty
	c.MaxAuthAge, c.Name, c.Logo = nc.MaxAuthAge, nc.Name, nc.Logo
}

// offeredGrants are the grant types a client may be allowed.
var offeredGrants = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials}

// clientAllowsGrant reports whether the client may use grant type g. A
// client without a list may use the user grants (authorization_code,
// refresh_token); client_credentials must be listed.
func clientAllowsGrant(c store.OIDCClient, g oidc.GrantType) bool {
	if g == oidc.GrantTypeClientCredentials {
		return slices.Contains(c.GrantTypes, string(g))
	}
	return len(c.GrantTypes) == 0 || slices.Contains(c.GrantTypes, string(g))
}

// needsRedirectURIs reports whether the client may start the code flow,
// which needs a registered redirect URI.
func (c ClientConfig) needsRedirectURIs() bool {
	return len(c.GrantTypes) == 0 || slices.Contains(c.GrantTypes, string(oidc.GrantTypeCode))
}

// disallowedScopes returns the requested scopes the client may not ask
// for; offline_access also needs the refresh grant.
func disallowedScopes(c store.OIDCClient, scopes []string) []string {
	var bad []string
	for _, sc := range scopes {
		if len(c.Scopes) > 0 && !slices.Contains(c.Scopes, sc) ||
			sc == oidc.ScopeOfflineAccess && !clientAllowsGrant(c, oidc.GrantTypeRefreshToken) {
			bad = append(bad, sc)
		}
	}
	return bad
}

// validateOptions checks the client's authentication method, logout
// URIs, scopes, grant types and signing algorithm.
func (c ClientConfig) validateOptions(where string) []error {
	var errs []error
	if c.Public && (c.JWKS != "" || c.JWKSURI != "") {
		errs = append(errs, fmt.Errorf("%s.jwks: a public client has no keys", where))
	}
	if c.JWKSURI != "" {
		if c.Secret != "" || c.JWKS != "" {
			errs = append(errs, fmt.Errorf("%s.jwks_uri: give a secret, jwks or jwks_uri, only one", where))
		}
		if err := validateJWKSURI(c.JWKSURI); err != nil {
			errs = append(errs, fmt.Errorf("%s.jwks_uri: %w", where, err))
		}
	}
	if c.JWKS != "" {
		if c.Secret != "" {
			errs = append(errs, fmt.Errorf("%s.jwks: a client authenticates with a secret or with jwks, not both", where))
		}
		if _, err := parseJWKS([]byte(c.JWKS)); err != nil {
			errs = append(errs, fmt.Errorf("%s.jwks: %w", where, err))
		}
	}
	if len(c.PostLogoutRedirectURIs) > 0 {
		if err := validateRedirectURIs(c.PostLogoutRedirectURIs); err != nil {
			errs = append(errs, fmt.Errorf("%s.post_logout_redirect_uris: %w", where, err))
		}
	}
	for _, sc := range c.Scopes {
		if sc == "" || len(sc) > 128 || strings.ContainsAny(sc, " \t\r\n\"\\") {
			errs = append(errs, fmt.Errorf("%s.scopes: %q is not a scope name", where, sc))
		}
	}
	for _, g := range c.GrantTypes {
		if !slices.Contains(offeredGrants, oidc.GrantType(g)) {
			errs = append(errs, fmt.Errorf("%s.grant_types: %q is not one of %v", where, g, offeredGrants))
		}
		if g == string(oidc.GrantTypeClientCredentials) && c.Public {
			errs = append(errs, fmt.Errorf("%s.grant_types: client_credentials is for confidential clients only", where))
		}
	}
	if c.MaxAuthAge != 0 && (c.MaxAuthAge < time.Minute || c.MaxAuthAge > 30*24*time.Hour) {
		errs = append(errs, fmt.Errorf("%s.max_auth_age: %v must be between 1m and 720h", where, c.MaxAuthAge))
	}
	if c.IDTokenAlg != "" && !slices.Contains(signingAlgs, jose.SignatureAlgorithm(c.IDTokenAlg)) {
		errs = append(errs, fmt.Errorf("%s.id_token_signed_response_alg: %q is not one of %v", where, c.IDTokenAlg, signingAlgs))
	}
	return errs
}

// ErrNoSecret reports a secret rotation for a client that has no secret.
var ErrNoSecret = errors.New("client has no secret")

// maxClientName bounds a client's display name.
const maxClientName = 100

// validDisplayName reports whether name is empty or at most maxClientName
// printable characters: no control or format characters that could
// disguise it on the consent page.
func validDisplayName(name string) bool {
	if name == "" {
		return true
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxClientName || strings.TrimSpace(name) != name {
		return false
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
