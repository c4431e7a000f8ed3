package oidcprovider

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"

	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The client credentials grant is served here rather than by the
// library's token handler, because it is the one grant machines call at
// high rates. The request is parsed and the client authenticated by the
// library's own functions (op.ParseClientCredentialsRequest,
// op.ValidateClientCredentialsRequest, so ClientCredentials and
// ClientCredentialsTokenRequest run as before, audit event included); only
// the token is made differently: the same claims as op.CreateJWT, encoded
// once instead of twice, and signed by the jose.Signer built once per key
// instead of once per request. The token is the same RFC 9068 JWT.

// tokenEndpoint serves POST /oauth/token: the client credentials grant
// itself, every other grant (and any cross-origin request, for the
// library's CORS headers) by lib. It runs inside clientEndpoint, so the
// form is parsed and a client assertion already verified.
func (p *Provider) tokenEndpoint(lib http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Origin") != "" ||
			r.PostForm.Get("grant_type") != string(oidc.GrantTypeClientCredentials) {
			lib.ServeHTTP(w, r)
			return
		}
		p.serveClientCredentials(w, r)
	})
}

// serveClientCredentials is op.ClientCredentialsExchange with
// clientCredentialsToken in place of op.CreateClientCredentialsTokenResponse.
func (p *Provider) serveClientCredentials(w http.ResponseWriter, r *http.Request) {
	// What the library's router adds to every answer.
	w.Header().Add("Vary", "Origin")
	ctx := op.ContextWithIssuer(r.Context(), issuerString(p.issuer))
	r = r.WithContext(ctx)
	req, err := op.ParseClientCredentialsRequest(r, p.op.Decoder())
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	tr, c, err := op.ValidateClientCredentialsRequest(ctx, req, p.op)
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	resp, err := p.clientCredentialsToken(ctx, tr, c)
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	httphelper.MarshalJSON(w, resp)
}

// clientCredentialsToken issues the access token of a client credentials
// grant: what op.CreateAccessToken and op.CreateJWT do for a JWT access
// token without a refresh token.
func (p *Provider) clientCredentialsToken(ctx context.Context, tr op.TokenRequest, c op.Client) (*oidc.AccessTokenResponse, error) {
	req, ok := tr.(*clientTokenRequest)
	if !ok {
		return nil, oidc.ErrServerError()
	}
	s := storage{p}
	id, exp := s.clientAccessToken(req)
	skew := c.ClockSkew()
	validity := exp.Add(skew).Sub(time.Now().UTC())
	claims := oidc.NewAccessTokenClaims(op.IssuerFromContext(ctx), req.GetSubject(), req.GetAudience(), exp, id, c.GetID(), skew)
	private, err := s.GetPrivateClaimsFromRequest(ctx, req, nil)
	if err != nil {
		return nil, err
	}
	claims.Claims = private
	key, err := s.SigningKey(ctx)
	if err != nil {
		return nil, err
	}
	token, err := key.(*signingKey).sign(claims)
	if err != nil {
		return nil, s.serverError(ctx, "sign access token failed", err)
	}
	return &oidc.AccessTokenResponse{
		AccessToken: token,
		TokenType:   oidc.BearerToken,
		ExpiresIn:   uint64(validity.Seconds()),
		Scope:       req.GetScopes(),
	}, nil
}

// sign returns claims as a compact JWS signed with k, with the header
// op.SignerFromKey gives (alg, kid, typ JWT). The claims are encoded by
// their own MarshalJSON, as json.Marshal would, without json.Marshal's
// second pass over the result.
func (k *signingKey) sign(claims *oidc.AccessTokenClaims) (string, error) {
	k.signerOnce.Do(func() { k.signer, k.signerErr = op.SignerFromKey(k) })
	if k.signerErr != nil {
		return "", k.signerErr
	}
	payload, err := claims.MarshalJSON()
	if err != nil {
		return "", err
	}
	payload = bytes.TrimSuffix(payload, []byte{'\n'})
	if len(payload) == 0 || payload[0] != '{' {
		return "", errors.New("access token claims are not a JSON object")
	}
	jws, err := k.signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}
