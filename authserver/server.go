package authserver

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/assent-auth/assent/devices"
	"github.com/assent-auth/assent/mail"
	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/fcm"
	"github.com/assent-auth/assent/risk"
	"github.com/assent-auth/assent/risk/geo"
	"github.com/assent-auth/assent/store"
	"github.com/assent-auth/assent/webhook"
)

// Config configures a Server.
type Config struct {
	// Issuer is the server's public base URL. An https issuer turns on
	// Secure cookies with the __Host- prefix.
	Issuer *url.URL
	// Store must already be instrumented if store timings are wanted; see
	// InstrumentStore.
	Store    store.Store
	Profiles *profiles.Service
	// Keys derives the keys that seal cookies (the device cookie, flow
	// state) and TOTP seeds.
	Keys *profiles.Keyring
	// Passkeys sets the WebAuthn relying party (default: from the issuer).
	Passkeys PasskeyConfig
	// RiskPolicy is the policy every sign-in is assessed with (a
	// *risk.Reloader to change it at run time; the shipped default when
	// nil). Locator places addresses (geo.CountryDB by default).
	RiskPolicy risk.PolicySource
	Locator    risk.Locator
	Logger     *slog.Logger
	// Registry receives the server's metrics and is served on /metrics.
	Registry *prometheus.Registry
	// AdminToken guards /admin/v1/.
	AdminToken []byte
	// TrustedProxies are the peers whose Forwarded / X-Forwarded-For headers
	// are believed. Empty: the TCP peer is always the client.
	TrustedProxies []netip.Prefix
	// ThemeDir optionally overrides templates, static files and messages.
	ThemeDir string
	// SessionTTL is a browser session's absolute lifetime (default 12 h).
	SessionTTL time.Duration
	// SessionIdle ends a browser session unused for this long; zero
	// keeps it until SessionTTL.
	SessionIdle time.Duration
	// SignUpConfirmEmail makes sign-up with a password enumeration-safe:
	// the new account is signed in only through a link mailed to its
	// address, and a sign-up with an address already registered gets the
	// same answer (the address's owner gets a sign-in link) instead of
	// "already registered".
	SignUpConfirmEmail bool
	// FailureDelay is the delay after the first failed sign-in; it doubles
	// with every further failure from the same IP or for the same e-mail,
	// up to MaxFailureDelay (defaults 250 ms and 4 s).
	FailureDelay    time.Duration
	MaxFailureDelay time.Duration
	// OIDCClients are the relying parties declared in the configuration file.
	OIDCClients []oidcprovider.ClientConfig
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Mail queues verification and reset messages (none are sent when nil).
	Mail *mail.Outbox
	// PushTTL is how long an app approval request waits (default 120 s).
	PushTTL time.Duration
	// PushNumberMatching is push.NumberAlways (the default) or
	// push.NumberByRisk (no number to match when the risk level is low).
	PushNumberMatching string
	// PushFatigue is the per-user rate limit and the lock after repeated
	// denials; zero fields take the defaults.
	PushFatigue push.Fatigue
	// FCM, when set, also wakes app devices through Firebase Cloud
	// Messaging (its Tokens are the server's own devices).
	FCM *fcm.Config
	// Upstreams are OpenID providers users may sign in and up with
	// (upstream.go).
	Upstreams []UpstreamConfig
	// Webhooks, when set, receives profile and consent events for
	// downstream systems (webhooks.go); the caller runs its delivery loop.
	Webhooks *webhook.Dispatcher
}

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Issuer == nil || (c.Issuer.Scheme != "http" && c.Issuer.Scheme != "https") || c.Issuer.Host == "" {
		errs = append(errs, errors.New("issuer: must be an absolute http or https URL"))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("store: required"))
	}
	if c.Profiles == nil {
		errs = append(errs, errors.New("profiles: required"))
	}
	if c.Keys == nil {
		errs = append(errs, errors.New("keys: required"))
	}
	if len(c.AdminToken) < 16 {
		errs = append(errs, errors.New("admin token: must be at least 16 bytes"))
	}
	return errors.Join(errs...)
}

// Server serves Assent's HTTP endpoints. Create it with New.
type Server struct {
	cfg      Config
	issuer   *url.URL
	store    store.Store
	profiles *profiles.Service
	log      *slog.Logger
	now      func() time.Time
	theme    *theme
	throttle *throttle
	metrics  *metrics
	secure   bool
	handler  http.Handler
	risk     *risk.Engine
	// deviceAEAD seals the long-lived device cookie.
	deviceAEAD cipher.AEAD
	// devices holds users' passkeys, TOTP seeds and recovery codes; flows
	// seals the short-lived sign-in and ceremony state (factors.go).
	devices *devices.Service
	flows   *flows
	oidc    *oidcprovider.Provider

	// acct serves the flows through the user's mailbox (verify.go, reset.go).
	acct *accountMail

	// push sends approval requests to users' app devices (push.go).
	push *push.Service
	// events streams the audit log to consoles (events.go).
	events *eventHub
	// ups are the upstream OpenID providers (upstream.go).
	ups *upstreams
}

// New builds a Server from c.
func New(c Config) (*Server, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	th, err := loadTheme(c.ThemeDir)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      c,
		issuer:   c.Issuer,
		store:    c.Store,
		profiles: c.Profiles,
		log:      c.Logger,
		now:      c.Now,
		theme:    th,
		secure:   c.Issuer.Scheme == "https",
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.events = newEventHub(s.now)
	if s.cfg.SessionTTL <= 0 {
		s.cfg.SessionTTL = 12 * time.Hour
	}
	if s.cfg.FailureDelay <= 0 {
		s.cfg.FailureDelay = 250 * time.Millisecond
	}
	if s.cfg.MaxFailureDelay <= 0 {
		s.cfg.MaxFailureDelay = 4 * time.Second
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(c.Registry)
	s.throttle = newThrottle(s.now, 15*time.Minute)
	if s.deviceAEAD, err = c.Keys.AEAD("device cookie v1"); err != nil {
		return nil, err
	}
	if s.cfg.Locator == nil {
		s.cfg.Locator = geo.CountryDB{}
	}
	if s.cfg.RiskPolicy == nil {
		s.cfg.RiskPolicy = risk.DefaultPolicy()
	}
	s.risk, err = risk.NewEngine(risk.Config{Policy: s.cfg.RiskPolicy, History: historyAdapter{st: s.store, th: s.throttle},
		Locator: s.cfg.Locator, Now: s.now})
	if err != nil {
		return nil, err
	}
	if err := s.initFactors(); err != nil {
		return nil, err
	}
	if err := s.initPush(); err != nil {
		return nil, err
	}
	if err := s.initAccountMail(); err != nil {
		return nil, err
	}
	if err := s.initOIDC(); err != nil {
		return nil, err
	}
	if err := s.initUpstreams(); err != nil {
		return nil, err
	}
	s.handler = s.routes(promhttp.HandlerFor(c.Registry, promhttp.HandlerOpts{}))
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes(metricsHandler http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleHome)
	mux.HandleFunc("GET /signin", s.handleSignInPage)
	mux.HandleFunc("POST /signin", s.handleSignIn)
	mux.HandleFunc("GET /signup", s.handleSignUpPage)
	mux.HandleFunc("POST /signup", s.handleSignUp)
	mux.HandleFunc("POST /signout", s.handleSignOut)
	mux.HandleFunc("GET /account", s.handleAccount)
	s.factorRoutes(mux)
	s.pushRoutes(mux)
	s.accountMailRoutes(mux)
	s.profileRoutes(mux)
	s.upstreamRoutes(mux)
	cop := http.NewCrossOriginProtection()
	s.oidcRoutes(mux, cop)
	s.cibaRoutes(mux, cop)
	mux.Handle("GET /static/", s.theme.static)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.Handle("GET /metrics", metricsHandler)
	mux.Handle("/admin/", s.requireAdmin(s.adminRoutes()))

	var h http.Handler = mux
	h = cop.Handler(h)
	h = securityHeaders(h)
	h = s.instrument(h)
	h = s.withRequestContext(h)
	return h
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.store.Counter(ctx, "readyz"); err != nil {
		s.log.ErrorContext(ctx, "readiness check failed", "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// audit appends a security event. A failure to write it is logged, never
// shown to the client.
func (s *Server) audit(r *http.Request, e store.AuditEvent) {
	if e.IP == "" {
		e.IP = clientIP(r).String()
	}
	if e.UserAgent == "" {
		e.UserAgent = truncate(r.UserAgent(), 256)
	}
	stampLatency(r, &e)
	s.auditSystem(r.Context(), e)
}

// auditSystem appends an event that has no HTTP request of its own (or
// outlives it) and publishes it to the event stream.
func (s *Server) auditSystem(ctx context.Context, e store.AuditEvent) {
	e.Time = s.now().UTC()
	seq, err := s.store.AppendAudit(ctx, e)
	if err != nil {
		s.log.ErrorContext(ctx, "audit append failed", "kind", e.Kind, "err", err)
		return
	}
	e.Seq = seq
	s.events.publish(e)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
