package oidcprovider

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/assent-auth/assent/store"
)

// maxAssertionLife bounds how far in the future a client assertion may
// expire: its jti is remembered that long.
const maxAssertionLife = time.Hour

// maxClientForm bounds the body of a token, introspection or revocation
// request.
const maxClientForm = 64 << 10

// tokenCall travels in the context of a token, introspection or
// revocation request. GetClientByClientID notes the authenticated client's
// signing algorithm in it, and SigningKey signs with that.
type tokenCall struct {
	alg jose.SignatureAlgorithm
	// asserted is the client a verified client assertion authenticated.
	asserted string
	// client is the client the client credentials grant authenticated.
	client *store.OIDCClient
}

type tokenCallKey struct{}

func tokenCallOf(ctx context.Context) *tokenCall {
	c, _ := ctx.Value(tokenCallKey{}).(*tokenCall)
	return c
}

// clientEndpoint wraps an endpoint where clients authenticate. A client
// assertion (private_key_jwt) is verified here first and its jti recorded,
// so the same assertion is accepted once; the library then authenticates
// the client as usual.
func (p *Provider) clientEndpoint(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), tokenCallKey{}, &tokenCall{})
		r = r.WithContext(ctx)
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxClientForm)
			if err := r.ParseForm(); err != nil {
				oauthError(w, http.StatusBadRequest, "invalid_request", "the request body could not be read")
				return
			}
			if r.PostForm.Get("client_assertion_type") == oidc.ClientAssertionTypeJWTAssertion {
				if code, desc := p.useAssertion(ctx, r.PostForm.Get("client_assertion")); code != "" {
					oauthError(w, http.StatusUnauthorized, code, desc)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// useAssertion verifies a client assertion (signature with the client's
// registered key, audience, expiry, age) and records its jti. It returns
// an OAuth error code and description when the assertion must be refused
// here; an assertion that does not verify is left to the library, which
// refuses it the same way.
func (p *Provider) useAssertion(ctx context.Context, assertion string) (string, string) {
	ctx = op.ContextWithIssuer(ctx, issuerString(p.issuer))
	req, err := op.VerifyJWTAssertion(ctx, assertion, p.op.JWTProfileVerifier(ctx))
	if err != nil {
		return "invalid_client", "the client assertion is not valid"
	}
	if req.JWTID == "" {
		return "invalid_client", "the client assertion has no jti"
	}
	exp := req.ExpiresAt.AsTime()
	now := time.Now()
	if exp.Sub(now) > maxAssertionLife {
		return "invalid_client", "the client assertion expires too late"
	}
	h := sha256.New()
	h.Write([]byte(req.Issuer))
	h.Write([]byte{0})
	h.Write([]byte(req.JWTID))
	err = p.store.UseOIDCAssertion(ctx, h.Sum(nil), exp, now)
	if errors.Is(err, store.ErrExists) {
		p.log.WarnContext(ctx, "client assertion replayed", "client_id", req.Issuer)
		p.audit(ctx, store.AuditEvent{Kind: "oidc.assertion_replayed", Actor: req.Issuer, Outcome: "denied",
			Details: map[string]string{"client_id": req.Issuer}})
		return "invalid_client", "the client assertion was already used"
	}
	if err != nil {
		p.log.ErrorContext(ctx, "record client assertion failed", "err", err)
		return "server_error", ""
	}
	if call := tokenCallOf(ctx); call != nil {
		call.asserted = req.Issuer
	}
	return "", ""
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	body := map[string]string{"error": code}
	if desc != "" {
		body["error_description"] = desc
	}
	json.NewEncoder(w).Encode(body)
}

// maxJWKS bounds a client's registered key set.
const maxJWKS = 16 << 10

// parseJWKS parses a client's key set: public RSA or EC signing keys, each
// with a key id.
func parseJWKS(raw []byte) (*jose.JSONWebKeySet, error) {
	if len(raw) > maxJWKS {
		return nil, errors.New("key set larger than 16 KiB")
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, errors.New("not a JSON Web Key Set")
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("key set has no keys")
	}
	for _, k := range set.Keys {
		if !k.Valid() || !k.IsPublic() {
			return nil, errors.New("every key must be a valid public key")
		}
		if k.KeyID == "" {
			return nil, errors.New("every key needs a kid")
		}
		if k.Use != "" && k.Use != "sig" {
			return nil, errors.New("keys must be for signing")
		}
	}
	return &set, nil
}

// clientKey returns the client's registered public key with the key id
// (the only key when kid is empty and the set has one), from its
// registered set or the one it publishes at its jwks_uri.
func (p *Provider) clientKey(ctx context.Context, c store.OIDCClient, kid string) (*jose.JSONWebKey, error) {
	if c.JWKSURI != "" {
		return p.remoteKeys.key(ctx, c.JWKSURI, kid)
	}
	if len(c.JWKS) == 0 {
		return nil, errors.New("client has no registered keys")
	}
	set, err := parseJWKS(c.JWKS)
	if err != nil {
		return nil, err
	}
	return keyOf(set, kid)
}
