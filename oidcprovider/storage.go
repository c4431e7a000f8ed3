package oidcprovider

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/assent-auth/assent/acr"
	"maps"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/assent-auth/assent/store"
)

// storage implements op.Storage over the store. Errors a client may see
// are oidc.Error values; store failures are logged and become server_error.
//
// Token lifetimes use the wall clock, because the library stamps and checks
// tokens with it; authorization requests, max_age and sessions use the
// provider's clock.
type storage struct{ p *Provider }

var (
	_ op.Storage                        = storage{}
	_ op.CanSetUserinfoFromRequest      = storage{}
	_ op.CanGetPrivateClaimsFromRequest = storage{}
)

// ctxKey carries the raw claims parameter from the authorization endpoint
// to CreateAuthRequest.
type ctxKey struct{}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s storage) serverError(ctx context.Context, what string, err error) error {
	s.p.log.ErrorContext(ctx, what, "err", err)
	return oidc.ErrServerError()
}

// CreateAuthRequest stores the validated request. Public clients must use
// PKCE with S256; the claims parameter and acr_values set the levels the
// request asks for.
func (s storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	c, err := s.p.Client(ctx, req.ClientID)
	if err != nil {
		return nil, oidc.ErrInvalidClient()
	}
	if c.Public && (req.CodeChallenge == "" || req.CodeChallengeMethod != oidc.CodeChallengeMethodS256) {
		return nil, oidc.ErrInvalidRequest().WithDescription("public clients must use PKCE with S256")
	}
	if req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	if !clientAllowsGrant(c, oidc.GrantTypeCode) {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("the client may not use the authorization code grant")
	}
	if bad := disallowedScopes(c, req.Scopes); len(bad) > 0 {
		return nil, oidc.ErrInvalidScope().WithDescription("the client may not request %s", strings.Join(bad, " "))
	}
	raw, _ := ctx.Value(ctxKey{}).(string)
	essential, isEssential, err := essentialACR(raw)
	if err != nil {
		return nil, oidc.ErrInvalidRequest().WithDescription("the claims parameter is malformed")
	}
	now := s.p.now().UTC()
	a := &authRequest{
		ID:                  randomID(24),
		CreatedAt:           now,
		ClientID:            req.ClientID,
		RedirectURI:         req.RedirectURI,
		State:               req.State,
		Nonce:               req.Nonce,
		Scopes:              req.Scopes,
		ResponseType:        req.ResponseType,
		ResponseMode:        req.ResponseMode,
		CodeChallenge:       req.CodeChallenge,
		CodeChallengeMethod: req.CodeChallengeMethod,
		PromptNone:          slices.Contains(req.Prompt, oidc.PromptNone),
		PromptConsent:       slices.Contains(req.Prompt, oidc.PromptConsent),
		MaxAge:              req.MaxAge,
		Browser:             browserOf(ctx),
	}
	if l, ok := lowestKnown(req.ACRValues); ok {
		a.Preferred = l
	}
	if isEssential && len(essential) > 0 {
		if l, ok := lowestKnown(essential); ok {
			a.Required = l
		} else {
			a.Unmeetable = true
		}
	}
	if c.MaxAuthAge > 0 {
		if secs := uint(c.MaxAuthAge / time.Second); a.MaxAge == nil || *a.MaxAge > secs {
			a.MaxAge = &secs
		}
	}
	if l, ok := acr.Parse(c.MinACR); ok && l > a.Required {
		a.Required = l
	}
	if raw, ok := ctx.Value(detailsKey{}).(string); ok {
		if a.AuthorizationDetails, err = s.p.authorizationDetails(raw); err != nil {
			return nil, err
		}
	}
	if err := s.p.putRequest(ctx, a, true); err != nil {
		return nil, s.serverError(ctx, "store auth request failed", err)
	}
	return a, nil
}

func (s storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	a, err := s.p.request(ctx, id)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// AuthRequestByCode marks the code redeemed in the same step that finds
// it, so a code works once. A code that comes back revokes the refresh
// tokens issued from it (RFC 6749 section 4.1.2).
func (s storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	stored, err := s.p.store.GetOIDCAuthRequestByCode(ctx, tokenHash(code))
	if err != nil {
		return nil, oidc.ErrInvalidGrant()
	}
	var a *authRequest
	var reused bool
	_, err = s.p.store.UpdateOIDCAuthRequest(ctx, stored.ID, func(r store.OIDCAuthRequest) (store.OIDCAuthRequest, error) {
		a, reused = nil, false
		var cur authRequest
		if err := json.Unmarshal(r.Request, &cur); err != nil {
			return r, err
		}
		if cur.Redeemed {
			reused = true
			a = &cur
			return r, errCodeReused
		}
		cur.Redeemed = true
		b, err := json.Marshal(&cur)
		if err != nil {
			return r, err
		}
		r.Request = b
		a = &cur
		return r, nil
	})
	if reused {
		if a.Family != "" {
			if _, err := s.p.store.DeleteOIDCRefreshFamily(ctx, a.Family); err != nil {
				s.p.log.ErrorContext(ctx, "revoke tokens of reused code failed", "err", err)
			}
		}
		s.p.log.WarnContext(ctx, "authorization code reused", "client_id", a.ClientID)
		s.p.audit(ctx, store.AuditEvent{Kind: "oidc.code_reused", Actor: a.ClientID, Subject: a.Subject, Outcome: "denied",
			Details: map[string]string{"client_id": a.ClientID, "revoked": boolText(a.Family != "")}})
		return nil, oidc.ErrInvalidGrant().WithDescription("code already used")
	}
	if err != nil {
		return nil, oidc.ErrInvalidGrant()
	}
	if !a.Authenticated || s.p.now().After(stored.ExpiresAt) {
		return nil, oidc.ErrInvalidGrant()
	}
	return a, nil
}

var errCodeReused = errors.New("code reused")

func (s storage) SaveAuthCode(ctx context.Context, id, code string) error {
	return s.p.store.SetOIDCAuthCode(ctx, id, tokenHash(code))
}

// DeleteAuthRequest keeps a redeemed request until it expires, so that a
// second use of its code is recognised; any other request goes.
func (s storage) DeleteAuthRequest(ctx context.Context, id string) error {
	a, err := s.p.request(ctx, id)
	if err != nil {
		return nil
	}
	if a.Redeemed {
		return nil
	}
	if err := s.p.store.DeleteOIDCAuthRequest(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// CreateAccessToken returns the id of a JWT access token. The id carries
// the granted scopes so that userinfo answers only what was granted.
func (s storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	if r, ok := req.(*clientTokenRequest); ok {
		id, exp := s.clientAccessToken(r)
		return id, exp, nil
	}
	return accessTokenID(req.GetScopes()), time.Now().Add(s.p.accessTTL), nil
}

func accessTokenID(scopes []string) string {
	return randomID(16) + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Join(scopes, " ")))
}

func scopesOfTokenID(id string) []string {
	_, enc, ok := strings.Cut(id, ".")
	if !ok {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

// CreateAccessAndRefreshTokens issues a refresh token: a new family after
// a code exchange, the next token of the family after a refresh.
func (s storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	a, ok := req.(*authRequest)
	if !ok {
		return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	grant, err := json.Marshal(grantOf(a))
	if err != nil {
		return "", "", time.Time{}, err
	}
	now := time.Now().UTC()
	next := randomID(32)
	t := store.OIDCRefreshToken{
		TokenHash: tokenHash(next), UserID: a.Subject, ClientID: a.ClientID, Grant: grant, Session: a.Session,
		CreatedAt: now, ExpiresAt: now.Add(s.p.refreshTTL),
	}
	if current == "" {
		t.Family = randomID(16)
		if err := s.p.store.CreateOIDCRefreshToken(ctx, t); err != nil {
			return "", "", time.Time{}, s.serverError(ctx, "store refresh token failed", err)
		}
		if a.ID != "" {
			_, err := s.p.store.UpdateOIDCAuthRequest(ctx, a.ID, func(r store.OIDCAuthRequest) (store.OIDCAuthRequest, error) {
				var cur authRequest
				if err := json.Unmarshal(r.Request, &cur); err != nil {
					return r, err
				}
				cur.Family = t.Family
				r.Request, err = json.Marshal(&cur)
				return r, err
			})
			if err != nil {
				s.p.log.ErrorContext(ctx, "record refresh family failed", "err", err)
			}
		}
	} else {
		// TokenRequestByRefreshToken found the family; the rotation
		// checks it again in its transaction.
		t.Family = a.Family
		if t.Family == "" {
			old, err := s.p.store.GetOIDCRefreshToken(ctx, tokenHash(current))
			if err != nil {
				return "", "", time.Time{}, oidc.ErrInvalidGrant()
			}
			t.Family = old.Family
		}
		err = s.p.store.RotateOIDCRefreshToken(ctx, tokenHash(current), t)
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token already used")
		}
		if err != nil {
			return "", "", time.Time{}, s.serverError(ctx, "rotate refresh token failed", err)
		}
	}
	return accessTokenID(a.Scopes), next, now.Add(s.p.accessTTL), nil
}

// grant is what a refresh token stands for.
type grant struct {
	Subject  string    `json:"sub"`
	ClientID string    `json:"client_id"`
	Scopes   []string  `json:"scopes"`
	AuthTime time.Time `json:"auth_time"`
	AMR      []string  `json:"amr,omitempty"`
	ACR      string    `json:"acr,omitempty"`
}

func grantOf(a *authRequest) grant {
	return grant{Subject: a.Subject, ClientID: a.ClientID, Scopes: a.Scopes, AuthTime: a.AuthTime, AMR: a.AMR, ACR: a.ACR}
}

// TokenRequestByRefreshToken finds a live refresh token. A spent one is a
// reuse: its whole family is revoked.
func (s storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	t, err := s.p.store.GetOIDCRefreshToken(ctx, tokenHash(token))
	if err != nil {
		return nil, oidc.ErrInvalidGrant()
	}
	if t.Spent {
		if _, err := s.p.store.DeleteOIDCRefreshFamily(ctx, t.Family); err != nil {
			s.p.log.ErrorContext(ctx, "revoke refresh family failed", "err", err)
		}
		s.p.log.WarnContext(ctx, "refresh token reused; family revoked", "client_id", t.ClientID, "user_id", t.UserID)
		s.p.audit(ctx, store.AuditEvent{Kind: "oidc.refresh_reused", Actor: t.ClientID, Subject: t.UserID, Outcome: "denied",
			Details: map[string]string{"client_id": t.ClientID, "revoked": "true"}})
		return nil, oidc.ErrInvalidGrant().WithDescription("refresh token already used")
	}
	if !time.Now().Before(t.ExpiresAt) {
		return nil, oidc.ErrInvalidGrant().WithDescription("refresh token expired")
	}
	var g grant
	if err := json.Unmarshal(t.Grant, &g); err != nil {
		return nil, s.serverError(ctx, "decode refresh grant failed", err)
	}
	return &authRequest{Subject: g.Subject, ClientID: g.ClientID, Scopes: g.Scopes, AuthTime: g.AuthTime, AMR: g.AMR, ACR: g.ACR,
		ResponseType: oidc.ResponseTypeCode, Authenticated: true, Family: t.Family, Session: t.Session}, nil
}

// TerminateSession would serve RP-initiated logout, whose endpoint is not
// mounted (see Paths).
func (s storage) TerminateSession(context.Context, string, string) error { return nil }

// RevokeToken revokes a refresh token's whole family (RFC 7009). The
// library hands over the id GetRefreshTokenInfo gave (the hex hash) for a
// refresh token. JWT access tokens cannot be revoked; they are short-lived.
func (s storage) RevokeToken(ctx context.Context, token, _, clientID string) *oidc.Error {
	h, err := hex.DecodeString(token)
	if err != nil || len(h) != sha256.Size {
		h = tokenHash(token)
	}
	t, err := s.p.store.GetOIDCRefreshToken(ctx, h)
	if err != nil {
		return nil // RFC 7009: an unknown token (or an access token) is not an error
	}
	if t.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
	}
	if _, err := s.p.store.DeleteOIDCRefreshFamily(ctx, t.Family); err != nil {
		s.p.log.ErrorContext(ctx, "revoke refresh family failed", "err", err)
		return oidc.ErrServerError()
	}
	return nil
}

func (s storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	t, err := s.p.store.GetOIDCRefreshToken(ctx, tokenHash(token))
	if err != nil || t.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return t.UserID, hex.EncodeToString(t.TokenHash), nil
}

// SigningKey signs with ES256, or with RS256 for a client registered with
// id_token_signed_response_alg RS256 (see tokenCall).
func (s storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	alg := jose.ES256
	if c := tokenCallOf(ctx); c != nil && c.alg != "" {
		alg = c.alg
	}
	k, err := s.p.keys.signing(ctx, alg)
	if err != nil {
		return nil, s.serverError(ctx, "signing key rotation failed", err)
	}
	return k, nil
}

func (s storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return signingAlgs, nil
}

func (s storage) KeySet(context.Context) ([]op.Key, error) {
	var out []op.Key
	for _, k := range s.p.keys.published() {
		out = append(out, publicKey{k})
	}
	return out, nil
}

func (s storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.p.Client(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("unknown client")
	}
	if err != nil {
		return nil, s.serverError(ctx, "load client failed", err)
	}
	if call := tokenCallOf(ctx); call != nil && c.IDTokenAlg == string(jose.RS256) {
		call.alg = jose.RS256
	}
	return &client{c: c, loginURL: s.p.loginURL, profileScopes: s.p.profiles.Schema().Scopes()}, nil
}

func (s storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	c, err := s.p.Client(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return errors.New("unknown client")
	}
	if err != nil {
		return s.serverError(ctx, "load client failed", err)
	}
	if !secretMatches(c, secret) {
		return errors.New("wrong client secret")
	}
	return nil
}

func (s storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s storage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.p.userinfo(ctx, ui, req.GetSubject(), scopes); err != nil {
		return err
	}
	if a, ok := req.(*authRequest); ok { // into the ID token only: userinfo has no request
		for k, v := range paymentClaims(a) {
			ui.AppendClaims(k, v)
		}
	}
	return nil
}

func (s storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, _ string) error {
	if strings.HasPrefix(tokenID, clientTokenPrefix) {
		return errClientToken
	}
	return s.p.userinfo(ctx, ui, subject, scopesOfTokenID(tokenID))
}

func (s storage) SetIntrospectionFromToken(ctx context.Context, r *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	r.Subject = subject
	r.ClientID = clientID
	r.Scope = scopesOfTokenID(tokenID)
	return nil
}

func (s storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetPrivateClaimsFromRequest puts acr, amr and auth_time into JWT access
// tokens (RFC 9068), so resource servers can demand step-up (RFC 9470).
func (s storage) GetPrivateClaimsFromRequest(_ context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	a, ok := req.(*authRequest)
	if !ok {
		return nil, nil
	}
	claims := map[string]any{"auth_time": a.AuthTime.Unix()}
	if a.ACR != "" {
		claims["acr"] = a.ACR
	}
	if len(a.AMR) > 0 {
		claims["amr"] = a.AMR
	}
	maps.Copy(claims, paymentClaims(a))
	return claims, nil
}

// GetKeyByIDAndClientID returns a public key the client registered for
// private_key_jwt.
func (s storage) GetKeyByIDAndClientID(ctx context.Context, keyID, clientID string) (*jose.JSONWebKey, error) {
	c, err := s.p.Client(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errors.New("unknown client")
	}
	if err != nil {
		return nil, s.serverError(ctx, "load client failed", err)
	}
	return s.p.clientKey(ctx, c, keyID)
}

func (s storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("the JWT profile grant is not supported")
}

func (s storage) Health(ctx context.Context) error {
	_, err := s.p.store.Counter(ctx, "readyz")
	return err
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
