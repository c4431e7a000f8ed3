package oidcprovider

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/assent-auth/assent/acr"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/store"
)

// Config configures a Provider.
type Config struct {
	// Issuer is the server's public base URL, exactly as relying parties
	// write it.
	Issuer   *url.URL
	Store    store.Store
	Profiles *profiles.Service
	Keys     *profiles.Keyring
	// Clients are the relying parties declared in the configuration file.
	Clients []ClientConfig
	// ResumePath is where the authorization endpoint sends the browser,
	// with ?id=<request id>, to sign in and come back (Resume).
	ResumePath string
	Logger     *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// AccessTokenTTL (default 10 min), RefreshTokenTTL (default 30 days)
	// and AuthRequestTTL (default 10 min) bound the tokens' lives.
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	AuthRequestTTL  time.Duration
	// KeyRotation is how long a signing key signs before a new one takes
	// over (default 90 days); a replaced key stays published for a day,
	// longer than any token it signed lives.
	KeyRotation time.Duration
}

// Provider is the OpenID Connect provider. Create it with New.
type Provider struct {
	issuer     *url.URL
	store      store.Store
	profiles   *profiles.Service
	log        *slog.Logger
	now        func() time.Time
	keys       *keyRing
	static     map[string]store.OIDCClient
	staticList []store.OIDCClient
	resumePath string
	accessTTL  time.Duration
	refreshTTL time.Duration
	requestTTL time.Duration
	op         *op.Provider
	// remoteKeys caches key sets clients publish at their jwks_uri.
	remoteKeys *remoteKeys
	handler    http.Handler
	// parseDetails validates authorization_details (SetAuthorizationDetailsParser).
	parseDetails func(raw string) ([]byte, error)
	// auditSlots bounds the audit events written in the background
	// (auditAsync).
	auditSlots chan struct{}
}

// New builds the provider, creating the first signing key on a new store.
func New(ctx context.Context, c Config) (*Provider, error) {
	var errs []error
	if c.Issuer == nil || c.Store == nil || c.Keys == nil || c.Profiles == nil {
		errs = append(errs, errors.New("oidc: issuer, store, keys and profiles are required"))
	}
	seen := map[string]bool{}
	for i, cc := range c.Clients {
		where := fmt.Sprintf("clients[%d]", i)
		if err := cc.Validate(where); err != nil {
			errs = append(errs, err)
		}
		if seen[cc.ID] {
			errs = append(errs, fmt.Errorf("%s.id: %q declared twice", where, cc.ID))
		}
		seen[cc.ID] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p := &Provider{
		issuer: c.Issuer, store: newClientCache(c.Store), profiles: c.Profiles, log: c.Logger, now: c.Now,
		static: map[string]store.OIDCClient{}, resumePath: c.ResumePath, remoteKeys: newRemoteKeys(),
		accessTTL: c.AccessTokenTTL, refreshTTL: c.RefreshTokenTTL, requestTTL: c.AuthRequestTTL,
		auditSlots: make(chan struct{}, maxBackgroundAudits),
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.resumePath == "" {
		p.resumePath = "/oidc/resume"
	}
	if p.accessTTL <= 0 {
		p.accessTTL = 10 * time.Minute
	}
	if p.refreshTTL <= 0 {
		p.refreshTTL = 30 * 24 * time.Hour
	}
	if p.requestTTL <= 0 {
		p.requestTTL = 10 * time.Minute
	}
	for _, cc := range c.Clients {
		sc := cc.stored()
		sc.CIBAMode, sc.NotificationEndpoint = cc.CIBAMode, cc.NotificationEndpoint
		if !cc.Public && cc.Secret != "" {
			sc.SecretHash = hashSecret(cc.Secret)
		}
		p.static[cc.ID] = sc
		p.staticList = append(p.staticList, sc)
	}
	aead, err := c.Keys.AEAD("oidc signing keys v1")
	if err != nil {
		return nil, err
	}
	keys, err := loadKeys(ctx, c.Store, aead, p.now())
	if err != nil {
		return nil, fmt.Errorf("oidc signing keys: %w", err)
	}
	p.keys = &keyRing{keys: keys, st: c.Store, aead: aead, now: p.now, rotate: c.KeyRotation, publish: 24 * time.Hour}
	if p.keys.rotate <= 0 {
		p.keys.rotate = 90 * 24 * time.Hour
	}
	// Access tokens are signed JWTs; the library's key for opaque tokens
	// is unused, so a random one per start will do.
	var cryptoKey [32]byte
	rand.Read(cryptoKey[:])
	// Browser apps call the token, userinfo and key endpoints from other
	// origins, but never with cookies: the library's default reflects any
	// origin with credentials, which Assent does not want.
	opts := []op.Option{op.WithLogger(p.log), op.WithCORSOptions(&cors.Options{
		AllowedOrigins: []string{"*"},
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost},
		AllowedHeaders: []string{"Authorization", "Content-Type", "Accept"},
	})}
	if c.Issuer.Scheme == "http" {
		opts = append(opts, op.WithAllowInsecure())
	}
	p.op, err = op.NewProvider(&op.Config{
		CryptoKey:               cryptoKey,
		CodeMethodS256:          true,
		AuthMethodPost:          true,
		AuthMethodPrivateKeyJWT: true,
		GrantTypeRefreshToken:   true,
		SupportedClaims:         append(slices.Clone(supportedClaims), c.Profiles.Schema().Claims()...),
		SupportedScopes:         append([]string{oidc.ScopeOpenID, oidc.ScopeEmail, oidc.ScopeOfflineAccess}, c.Profiles.Schema().Scopes()...),
	}, storage{p}, op.StaticIssuer(issuerString(c.Issuer)), opts...)
	if err != nil {
		return nil, err
	}
	p.handler = p.routes()
	return p, nil
}

// supportedClaims are the claims Assent issues.
var supportedClaims = []string{
	"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "c_hash",
	"email", "email_verified",
}

// issuerString is the issuer without a trailing slash.
func issuerString(u *url.URL) string {
	s := u.String()
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// Paths lists the URL paths Handler serves, for mounting.
func (p *Provider) Paths() []string {
	return []string{
		"/.well-known/openid-configuration", "/authorize", "/authorize/callback", "/oauth/token",
		"/oauth/introspect", "/userinfo", "/revoke", "/keys",
	}
}

// Handler serves the provider's endpoints (Paths).
func (p *Provider) Handler() http.Handler { return p.handler }

func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	for _, path := range p.Paths() {
		switch path {
		case "/.well-known/openid-configuration":
			mux.HandleFunc(path, p.handleDiscovery)
		case "/authorize":
			mux.HandleFunc(path, p.handleAuthorize)
		case "/oauth/token":
			mux.Handle(path, p.clientEndpoint(p.tokenEndpoint(p.op)))
		case "/oauth/introspect", "/revoke":
			mux.Handle(path, p.clientEndpoint(p.op))
		default:
			mux.Handle(path, p.op)
		}
	}
	return mux
}

// Discovery returns the discovery document.
func (p *Provider) Discovery(ctx context.Context) *oidc.DiscoveryConfiguration {
	ctx = op.ContextWithIssuer(ctx, issuerString(p.issuer))
	d := op.CreateDiscoveryConfig(ctx, p.op, storage{p})
	d.ACRValuesSupported = acr.Values()
	d.ClaimsParameterSupported = true
	// Only the code flow is offered; the library lists more by default.
	d.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	d.DeviceAuthorizationEndpoint = ""
	// RP-initiated logout ends the browser session, so the server serves
	// it (EndSession), not the library.
	d.EndSessionEndpoint = issuerString(p.issuer) + EndSessionPath
	d.GrantTypesSupported = slices.Clone(offeredGrants)
	// Client assertions (private_key_jwt) are accepted at the token,
	// introspection and revocation endpoints.
	d.TokenEndpointAuthSigningAlgValuesSupported = []string{string(jose.RS256), string(jose.ES256), string(jose.PS256)}
	d.IntrospectionEndpointAuthSigningAlgValuesSupported = d.TokenEndpointAuthSigningAlgValuesSupported
	d.RevocationEndpointAuthSigningAlgValuesSupported = d.TokenEndpointAuthSigningAlgValuesSupported
	return d
}

func (p *Provider) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	op.Discover(w, p.Discovery(r.Context()))
}

// handleAuthorize checks the client and its exact redirect URI before the
// library sees the request: an unknown client or an unregistered redirect
// URI gets an error page and is never redirected to. It also hands the
// claims parameter, which the library does not parse, to CreateAuthRequest.
func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		errorPage(w, http.StatusBadRequest, "The request could not be read.")
		return
	}
	c, err := p.Client(r.Context(), r.Form.Get("client_id"))
	if errors.Is(err, store.ErrNotFound) {
		errorPage(w, http.StatusBadRequest, "The application is not registered.")
		return
	}
	if err != nil {
		p.log.ErrorContext(r.Context(), "load client failed", "err", err)
		errorPage(w, http.StatusInternalServerError, "Something went wrong. Please try again.")
		return
	}
	if !slices.Contains(c.RedirectURIs, r.Form.Get("redirect_uri")) {
		p.log.WarnContext(r.Context(), "unregistered redirect uri", "client_id", c.ID)
		errorPage(w, http.StatusBadRequest, "The application asked to return to an address it has not registered.")
		return
	}
	ctx := context.WithValue(r.Context(), ctxKey{}, r.Form.Get("claims"))
	if r.Form.Has("authorization_details") {
		ctx = context.WithValue(ctx, detailsKey{}, r.Form.Get("authorization_details"))
	}
	p.op.ServeHTTP(w, r.WithContext(ctx))
}

func errorPage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><meta charset=utf-8><title>Sign-in error</title><h1>Sign-in error</h1><p>%s</p>\n", msg)
}

func (p *Provider) loginURL(id string) string {
	return issuerString(p.issuer) + p.resumePath + "?id=" + url.QueryEscape(id)
}

// putRequest stores a (new when create) authorization request.
func (p *Provider) putRequest(ctx context.Context, a *authRequest, create bool) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if create {
		return p.store.CreateOIDCAuthRequest(ctx, store.OIDCAuthRequest{
			ID: a.ID, Request: b, CreatedAt: a.CreatedAt, ExpiresAt: a.CreatedAt.Add(p.requestTTL),
		})
	}
	_, err = p.store.UpdateOIDCAuthRequest(ctx, a.ID, func(r store.OIDCAuthRequest) (store.OIDCAuthRequest, error) {
		r.Request = b
		return r, nil
	})
	return err
}

// errUnknownRequest reports an authorization request that does not exist
// or has expired.
var errUnknownRequest = errors.New("unknown or expired authorization request")

func (p *Provider) request(ctx context.Context, id string) (*authRequest, error) {
	r, err := p.store.GetOIDCAuthRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnknownRequest
	}
	if err != nil {
		return nil, err
	}
	if !p.now().Before(r.ExpiresAt) {
		return nil, errUnknownRequest
	}
	var a authRequest
	if err := json.Unmarshal(r.Request, &a); err != nil {
		return nil, fmt.Errorf("decode auth request: %w", err)
	}
	return &a, nil
}

// userinfo fills in the claims the scopes allow.
func (p *Provider) userinfo(ctx context.Context, ui *oidc.UserInfo, subject string, scopes []string) error {
	ui.Subject = subject
	if slices.Contains(scopes, oidc.ScopeEmail) {
		ident, err := p.profiles.Get(ctx, subject)
		if err != nil {
			return err
		}
		ui.Email = ident.Email
		ui.EmailVerified = oidc.Bool(ident.EmailVerified)
	}
	// Profile attributes whose scope was granted and whose purposes the
	// user consents to (profiles.Service.Claims).
	claims, err := p.profiles.Claims(ctx, subject, scopes)
	if err != nil {
		return err
	}
	for k, v := range claims {
		ui.AppendClaims(k, v)
	}
	return nil
}

// audit appends a security event; a failure to write it is logged.
func (p *Provider) audit(ctx context.Context, e store.AuditEvent) {
	e.Time = p.now().UTC()
	if _, err := p.store.AppendAudit(ctx, e); err != nil {
		p.log.ErrorContext(ctx, "audit append failed", "kind", e.Kind, "err", err)
	}
}
