package stepup

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/assent-auth/assent/acr"
)

// Config configures a Verifier.
type Config struct {
	// Issuer is Assent's issuer URL; its discovery document and keys are
	// fetched from there.
	Issuer string
	// Audience is the client id the tokens must be issued to.
	Audience string
	// Now is the clock for max_age (time.Now when nil).
	Now func() time.Time
}

// Verifier checks access tokens against the issuer's published keys.
type Verifier struct {
	v   *oidc.IDTokenVerifier
	now func() time.Time
}

// New fetches the issuer's discovery document. ctx also carries an
// *http.Client for the key fetches if set with oidc.ClientContext.
func New(ctx context.Context, c Config) (*Verifier, error) {
	if c.Issuer == "" || c.Audience == "" {
		return nil, errors.New("stepup: issuer and audience are required")
	}
	p, err := oidc.NewProvider(ctx, c.Issuer)
	if err != nil {
		return nil, fmt.Errorf("stepup: discovery: %w", err)
	}
	v := &Verifier{
		// RS256 too: Assent signs a client's tokens with RS256 when the
		// client is registered for it.
		v:   p.Verifier(&oidc.Config{ClientID: c.Audience, SupportedSigningAlgs: []string{oidc.ES256, oidc.RS256}}),
		now: c.Now,
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// Token is a verified access token.
type Token struct {
	Subject  string
	ClientID string
	Scopes   []string
	// ACR is the level the token's acr names (acr.None when absent or
	// unknown); AMR and AuthTime as issued (AuthTime zero when absent).
	ACR      acr.Level
	AMR      []string
	AuthTime time.Time
}

type claims struct {
	JTI      string   `json:"jti"`
	Nonce    string   `json:"nonce"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope"`
	ACR      string   `json:"acr"`
	AMR      []string `json:"amr"`
	AuthTime int64    `json:"auth_time"`
}

// ErrInvalidToken reports a token that is malformed, forged, expired,
// issued to another audience, or not an access token.
var ErrInvalidToken = errors.New("invalid access token")

// Verify checks signature, issuer, audience and expiry and returns the
// token's claims.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Token, error) {
	t, err := v.v.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	var c claims
	if err := t.Claims(&c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	// ID tokens are signed by the same key: an access token has a jti and
	// never a nonce.
	if c.JTI == "" || c.Nonce != "" {
		return nil, fmt.Errorf("%w: not an access token", ErrInvalidToken)
	}
	tok := &Token{Subject: t.Subject, ClientID: c.ClientID, Scopes: strings.Fields(c.Scope), AMR: c.AMR}
	tok.ACR, _ = acr.Parse(c.ACR)
	if c.AuthTime > 0 {
		tok.AuthTime = time.Unix(c.AuthTime, 0)
	}
	return tok, nil
}

// Requirement is what a route needs of a token.
type Requirement struct {
	// ACR is the lowest level accepted (acr.None: any).
	ACR acr.Level
	// MaxAge is how long ago the user may have authenticated (0: any).
	MaxAge time.Duration
	// Scope, when set, must be among the token's scopes.
	Scope string
}

type ctxKey struct{}

// TokenFrom returns the token Require verified.
func TokenFrom(ctx context.Context) (*Token, bool) {
	t, ok := ctx.Value(ctxKey{}).(*Token)
	return t, ok
}

// Require serves next only for requests with a bearer token that meets req.
func (v *Verifier) Require(req Requirement, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || raw == "" {
			challenge(w, http.StatusUnauthorized, `Bearer`)
			return
		}
		tok, err := v.Verify(r.Context(), strings.TrimSpace(raw))
		if err != nil {
			challenge(w, http.StatusUnauthorized, `Bearer error="invalid_token"`)
			return
		}
		if req.Scope != "" && !slices.Contains(tok.Scopes, req.Scope) {
			challenge(w, http.StatusForbidden, `Bearer error="insufficient_scope", scope="`+req.Scope+`"`)
			return
		}
		if h := v.insufficient(req, tok); h != "" {
			challenge(w, http.StatusUnauthorized, h)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, tok)))
	})
}

// insufficient returns the RFC 9470 challenge when tok falls short of
// req, and "" when it meets it. A missing acr or auth_time counts as not
// enough.
func (v *Verifier) insufficient(req Requirement, tok *Token) string {
	var params []string
	if tok.ACR < req.ACR {
		params = append(params, `acr_values="`+req.ACR.String()+`"`)
	}
	if req.MaxAge > 0 && (tok.AuthTime.IsZero() || v.now().Sub(tok.AuthTime) > req.MaxAge) {
		params = append(params, "max_age="+strconv.Itoa(int(req.MaxAge/time.Second)))
	}
	if len(params) == 0 {
		return ""
	}
	desc := "A stronger or more recent authentication is required"
	return `Bearer error="insufficient_user_authentication", error_description="` + desc + `", ` + strings.Join(params, ", ")
}

func challenge(w http.ResponseWriter, status int, header string) {
	w.Header().Set("WWW-Authenticate", header)
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, http.StatusText(status), status)
}
