package oidcprovider

import (
	"context"
	"errors"
	"net/url"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/assent-auth/assent/store"
)

// EndSessionPath is the RP-initiated logout endpoint (OpenID Connect
// RP-Initiated Logout 1.0), served by the server because it ends the
// browser session.
const EndSessionPath = "/end_session"

// Logout is a checked logout request.
type Logout struct {
	// Subject is the user the ID token hint names, ClientID the client it
	// was issued to.
	Subject  string
	ClientID string
	// Redirect is the registered post_logout_redirect_uri with state, or
	// empty when the client gave none.
	Redirect string
}

// ErrBadLogout reports a logout request that cannot be honoured: the
// browser gets an error page, never a redirect.
var ErrBadLogout = errors.New("invalid logout request")

// EndSession checks an RP-initiated logout request and revokes the
// refresh tokens the client holds for the user; the caller then ends the
// browser session when it belongs to Logout.Subject. id_token_hint is
// required (an expired ID token is accepted: logging out is why it is
// presented); post_logout_redirect_uri must be one the client registered,
// exactly.
func (p *Provider) EndSession(ctx context.Context, form url.Values) (Logout, error) {
	hint := form.Get("id_token_hint")
	if hint == "" || len(hint) > 8192 {
		return Logout{}, errBadLogout("id_token_hint is required")
	}
	ctx = op.ContextWithIssuer(ctx, issuerString(p.issuer))
	claims, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, hint, p.op.IDTokenHintVerifier(ctx))
	var expired op.IDTokenHintExpiredError
	if err != nil && !errors.As(err, &expired) {
		return Logout{}, errBadLogout("id_token_hint is not a valid ID token of this issuer")
	}
	clientID := claims.AuthorizedParty
	if clientID == "" && len(claims.Audience) == 1 {
		clientID = claims.Audience[0]
	}
	if cid := form.Get("client_id"); cid != "" && cid != clientID {
		return Logout{}, errBadLogout("client_id does not match the ID token")
	}
	c, err := p.Client(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return Logout{}, errBadLogout("the ID token's client is not registered")
	}
	if err != nil {
		return Logout{}, err
	}
	l := Logout{Subject: claims.Subject, ClientID: c.ID}
	if to := form.Get("post_logout_redirect_uri"); to != "" {
		if !slices.Contains(c.PostLogoutRedirectURIs, to) {
			return Logout{}, errBadLogout("post_logout_redirect_uri is not registered for the client")
		}
		u, err := url.Parse(to)
		if err != nil {
			return Logout{}, errBadLogout("post_logout_redirect_uri does not parse")
		}
		if st := form.Get("state"); st != "" {
			q := u.Query()
			q.Set("state", st)
			u.RawQuery = q.Encode()
		}
		l.Redirect = u.String()
	}
	return l, nil
}

// RevokeClientTokens revokes the client's refresh tokens for the user, as
// a logout by that user from that client does.
func (p *Provider) RevokeClientTokens(ctx context.Context, userID, clientID string) (int, error) {
	return p.store.DeleteUserClientOIDCRefreshTokens(ctx, userID, clientID)
}

// EndBrowserSession revokes the refresh tokens issued on a browser
// session (by its id hash) that is ending: signing out ends them.
func (p *Provider) EndBrowserSession(ctx context.Context, userID string, session []byte) (int, error) {
	return p.store.DeleteSessionOIDCRefreshTokens(ctx, userID, session)
}

type badLogout struct{ desc string }

func (e badLogout) Error() string        { return "invalid logout request: " + e.desc }
func (e badLogout) Is(target error) bool { return target == ErrBadLogout }

func errBadLogout(desc string) error { return badLogout{desc} }
