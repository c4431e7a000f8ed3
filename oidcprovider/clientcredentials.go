package oidcprovider

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/assent-auth/assent/store"
)

// The client credentials grant (RFC 6749 section 4.4): a confidential
// client that lists client_credentials among its grant types gets a JWT
// access token (RFC 9068) for itself, sub being its client id. There is no
// user, so no ID token, no refresh token and none of the scopes that
// release a user's data; the scopes are the client's own list.

var _ op.ClientCredentialsStorage = storage{}

// clientTokenPrefix marks the id of an access token issued to a client
// for itself, so that userinfo refuses it.
const clientTokenPrefix = "cc:"

// ClientCredentials authenticates the client of a client credentials
// grant: with its secret, or with the client assertion clientEndpoint has
// already verified (private_key_jwt). An unknown client or a wrong secret
// is a plain error (invalid_client); the library then checks the grant
// type (unauthorized_client).
func (s storage) ClientCredentials(ctx context.Context, clientID, secret string) (op.Client, error) {
	call := tokenCallOf(ctx)
	if call != nil && call.asserted != "" {
		if clientID != "" && clientID != call.asserted {
			return nil, errors.New("client_id does not match the client assertion")
		}
		clientID = call.asserted
	}
	if clientID == "" {
		return nil, errors.New("no client authentication")
	}
	c, err := s.p.Client(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errors.New("unknown client")
	}
	if err != nil {
		return nil, s.serverError(ctx, "load client failed", err)
	}
	if c.Public {
		return nil, errors.New("a public client cannot authenticate")
	}
	if call == nil || call.asserted == "" {
		if secret == "" || !secretMatches(c, secret) {
			return nil, errors.New("wrong client secret")
		}
	}
	if call != nil {
		call.client = &c
		if c.IDTokenAlg == string(jose.RS256) {
			call.alg = jose.RS256
		}
	}
	return &client{c: c, loginURL: s.p.loginURL, profileScopes: s.p.profiles.Schema().Scopes()}, nil
}

// ClientCredentialsTokenRequest checks the requested scopes against the
// client's list (all of its list when none are requested) and records the
// issuance in the audit log.
func (s storage) ClientCredentialsTokenRequest(ctx context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	call := tokenCallOf(ctx)
	if call == nil || call.client == nil || clientID != "" && clientID != call.client.ID {
		return nil, oidc.ErrInvalidClient()
	}
	c := *call.client
	if len(scopes) == 0 {
		scopes = slices.DeleteFunc(slices.Clone(c.Scopes), s.userScope)
	} else {
		var bad []string
		for _, sc := range scopes {
			if !slices.Contains(c.Scopes, sc) || s.userScope(sc) {
				bad = append(bad, sc)
			}
		}
		if len(bad) > 0 {
			return nil, oidc.ErrInvalidScope().WithDescription("the client may not request %s with the client_credentials grant", strings.Join(bad, " "))
		}
		scopes = slices.Compact(slices.Sorted(slices.Values(scopes)))
	}
	s.p.auditAsync(ctx, store.AuditEvent{Kind: "oidc.client_credentials", Actor: c.ID, Subject: c.ID, Outcome: "ok",
		Details: map[string]string{"client_id": c.ID, "scope": strings.Join(scopes, " ")}})
	return &clientTokenRequest{clientID: c.ID, scopes: scopes}, nil
}

// userScope reports whether sc releases a user's data (or a refresh
// token), which a token without a user cannot carry.
func (s storage) userScope(sc string) bool {
	switch sc {
	case oidc.ScopeOpenID, oidc.ScopeEmail, oidc.ScopeOfflineAccess, oidc.ScopeProfile, oidc.ScopePhone, oidc.ScopeAddress:
		return true
	}
	return slices.Contains(s.p.profiles.Schema().Scopes(), sc)
}

// clientTokenRequest is what a client credentials grant issues a token
// for.
type clientTokenRequest struct {
	clientID string
	scopes   []string
}

var _ op.TokenRequest = (*clientTokenRequest)(nil)

func (r *clientTokenRequest) GetSubject() string    { return r.clientID }
func (r *clientTokenRequest) GetAudience() []string { return []string{r.clientID} }
func (r *clientTokenRequest) GetScopes() []string   { return r.scopes }

// clientAccessToken returns the id and expiry of an access token issued
// to a client for itself.
func (s storage) clientAccessToken(r *clientTokenRequest) (string, time.Time) {
	return clientTokenPrefix + accessTokenID(r.scopes), time.Now().Add(s.p.accessTTL)
}

// errClientToken refuses userinfo for a token that has no user.
var errClientToken = errors.New("the access token was issued to a client, not a user")

// maxBackgroundAudits bounds the audit events auditAsync has in flight.
const maxBackgroundAudits = 1024

// auditAsync appends a security event without making the request wait for
// the commit: the write joins the store's next batched commit in the
// background, as a lazy write (store.WithLazyCommit) that may wait a few
// milliseconds for others, so a stream of them takes few fsyncs. With
// maxBackgroundAudits already in flight (a slow disk) it writes in the
// foreground, so the backlog stays bounded. The client
// credentials grant audits this way: its requests come from machines at
// high rates, and waiting for each commit would cap the grant at the
// disk's commit rate times the callers' concurrency.
func (p *Provider) auditAsync(ctx context.Context, e store.AuditEvent) {
	ctx = context.WithoutCancel(ctx)
	select {
	case p.auditSlots <- struct{}{}:
		go func() {
			defer func() { <-p.auditSlots }()
			p.audit(store.WithLazyCommit(ctx), e)
		}()
	default:
		p.audit(ctx, e)
	}
}
