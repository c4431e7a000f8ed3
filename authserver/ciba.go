package authserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/assent-auth/assent/acr"
	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/risk"
	"github.com/assent-auth/assent/store"
)

// OpenID CIBA Core 1.0 (poll and ping) with RFC 9396 payment details.
//
// POST /bc-authorize takes a client-authenticated request naming a user,
// assesses it with the risk engine, and sends an approval request to the
// user's app (amount and payee signed into the decision, PSD2 dynamic
// linking). The CIBA grant of POST /oauth/token reports the outcome and
// issues the provider's tokens once. In ping mode the client's notification
// endpoint is called when the user has decided, retried with backoff from
// state kept in the store (RunCIBA picks up what a restart interrupted).

const (
	// cibaInterval is the minimum time between token requests.
	cibaInterval = 5
	// cibaSlowDownStep is added to the interval on every slow_down.
	cibaSlowDownStep = 5
	// maxBindingMessage bounds binding_message, in characters.
	maxBindingMessage = 64
	// maxNotificationToken bounds client_notification_token (CIBA 7.1).
	maxNotificationToken = 1024
	// maxCIBABody bounds the form bodies of both endpoints.
	maxCIBABody = 16 << 10
)

// cibaRoutes mounts the backchannel endpoint, the CIBA grant in front of
// the token endpoint and the discovery document with CIBA and RAR added.
// Method patterns are more specific than the provider's, so they win.
func (s *Server) cibaRoutes(mux *http.ServeMux, cop *http.CrossOriginProtection) {
	mux.HandleFunc("POST /bc-authorize", s.handleBackchannel)
	mux.HandleFunc("POST /oauth/token", s.handleTokenWithCIBA)
	mux.HandleFunc("GET /.well-known/openid-configuration", s.handleDiscoveryWithCIBA)
	mux.HandleFunc("POST /oauth/introspect", s.handleIntrospectWithDetails)
	cop.AddInsecureBypassPattern("POST /bc-authorize")
}

// oauthError is an OAuth error response; Description is safe to show.
type oauthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	status      int
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func oauthErr(status int, code, desc string) *oauthError {
	return &oauthError{Code: code, Description: desc, status: status}
}

func writeOAuthError(w http.ResponseWriter, e *oauthError) {
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="assent"`)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, e.status, e)
}

// cibaClient reads and authenticates the client of a CIBA request
// (client_secret_basic, client_secret_post or private_key_jwt) and checks
// that it may use CIBA.
func (s *Server) cibaClient(r *http.Request) (store.OIDCClient, *oauthError) {
	id, secret, basic := r.BasicAuth()
	assertion := r.PostForm.Has("client_assertion") || r.PostForm.Has("client_assertion_type")
	if basic {
		if r.PostForm.Has("client_secret") || assertion {
			return store.OIDCClient{}, oauthErr(http.StatusBadRequest, "invalid_request", "use one client authentication method")
		}
	} else {
		if assertion && r.PostForm.Has("client_secret") {
			return store.OIDCClient{}, oauthErr(http.StatusBadRequest, "invalid_request", "use one client authentication method")
		}
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	var c store.OIDCClient
	var err error
	if assertion {
		c, err = s.oidc.AuthenticateClientAssertion(r.Context(), r.PostForm.Get("client_assertion_type"), r.PostForm.Get("client_assertion"), id)
	} else {
		c, err = s.oidc.AuthenticateClient(r.Context(), id, secret)
	}
	if errors.Is(err, oidcprovider.ErrClientAuth) {
		return c, oauthErr(http.StatusUnauthorized, "invalid_client", "client authentication failed")
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "load client failed", "err", err)
		return c, oauthErr(http.StatusInternalServerError, "server_error", "")
	}
	if c.CIBAMode == "" {
		return c, oauthErr(http.StatusBadRequest, "unauthorized_client", "the client is not registered for CIBA")
	}
	return c, nil
}

// readForm parses a bounded urlencoded POST body.
func readForm(w http.ResponseWriter, r *http.Request) *oauthError {
	r.Body = http.MaxBytesReader(w, r.Body, maxCIBABody)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return oauthErr(http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
	}
	if err := r.ParseForm(); err != nil {
		return oauthErr(http.StatusBadRequest, "invalid_request", "the body could not be read")
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return oauthErr(http.StatusBadRequest, "invalid_request", "parameter "+clipText(k, 40)+" given more than once")
		}
	}
	return nil
}

// cibaSecrets is what a request keeps sealed: the auth_req_id itself (the
// store keys it by its hash) and the client's notification token, both
// needed only to ping the client.
type cibaSecrets struct {
	AuthReqID string `json:"id"`
	Token     string `json:"token,omitempty"`
}

func (s *Server) sealCIBA(idHash []byte, v cibaSecrets) ([]byte, error) {
	aead, err := s.cfg.Keys.AEAD("ciba notification v1")
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(v)
	return sealWith(aead, b, idHash), nil
}

func (s *Server) openCIBA(r store.CIBARequest) (cibaSecrets, error) {
	var v cibaSecrets
	aead, err := s.cfg.Keys.AEAD("ciba notification v1")
	if err != nil {
		return v, err
	}
	b, err := openSealed(aead, r.NotificationToken, r.IDHash)
	if err != nil {
		return v, err
	}
	err = json.Unmarshal(b, &v)
	return v, err
}

func cibaHash(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

func (s *Server) pushTTL() time.Duration {
	if s.cfg.PushTTL > 0 {
		return s.cfg.PushTTL
	}
	return 120 * time.Second
}

// backchannelResponse is the answer to a backchannel request. BindingNumber
// (an Assent extension) is the number the user must pick in the app when
// number matching is on: the client shows it next to its binding message.
type backchannelResponse struct {
	AuthReqID     string `json:"auth_req_id"`
	ExpiresIn     int    `json:"expires_in"`
	Interval      int    `json:"interval"`
	BindingNumber int    `json:"binding_number,omitempty"`
}

// handleBackchannel is the CIBA backchannel authentication endpoint.
func (s *Server) handleBackchannel(w http.ResponseWriter, r *http.Request) {
	if e := readForm(w, r); e != nil {
		writeOAuthError(w, e)
		return
	}
	c, e := s.cibaClient(r)
	if e != nil {
		writeOAuthError(w, e)
		return
	}
	f := r.PostForm
	scopes := strings.Fields(f.Get("scope"))
	if !slices.Contains(scopes, "openid") {
		writeOAuthError(w, oauthErr(http.StatusBadRequest, "invalid_scope", "scope must include openid"))
		return
	}
	for _, sc := range scopes {
		if sc != "openid" && sc != "email" {
			writeOAuthError(w, oauthErr(http.StatusBadRequest, "invalid_scope", "scope "+clipText(sc, 40)+" is not offered"))
			return
		}
	}
	hints := 0
	for _, h := range []string{"login_hint", "id_token_hint", "login_hint_token"} {
		if f.Get(h) != "" {
			hints++
		}
	}
	if hints != 1 {
		writeOAuthError(w, oauthErr(http.StatusBadRequest, "invalid_request", "exactly one of login_hint and id_token_hint is required"))
		return
	}
	if f.Get("login_hint_token") != "" {
		writeOAuthError(w, oauthErr(http.StatusBadRequest, "invalid_request", "login_hint_token is not supported"))
		return
	}
	msg := f.Get("binding_message")
	if !printableText(msg, maxBindingMessage) {
		writeOAuthError(w, oauthErr(http.StatusBadRequest, "invalid_binding_message",
			fmt.Sprintf("binding_message must be at most %d printable characters", maxBindingMessage)))
		return
	}
	ttl := s.pushTTL()
	expiresIn := int(ttl / time.Second)
	if v := f.Get("requested_expiry"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 3600 {
			writeOAuthError(w, oauthErr(http.StatusBadRequest, "invalid_request", "requested_expiry must be a positive number of seconds"))
			return
		}
		// The app's request lives at most the push TTL, so no longer.
		expiresIn = min(n, expiresIn)
	}
	acrValues := strings.Fields(f.Get("acr_values"))
	if len(acrValues) > 8 {
		writeOAuthError(w, oauthErr(http.StatusBadRequest, "invalid_request", "too many acr_values"))
		return
	}
	notifyToken := f.Get("client_notification_token")
	if c.CIBAMode == oidcprovider.CIBAPing {
		if notifyToken == "" || len(notifyToken) > maxNotificationToken || !printableText(notifyToken, maxNotificationToken) {
			writeOAuthError(w, oauthErr(http.StatusBadRequest, "invalid_request",
				"client_notification_token is required for ping (at most 1024 printable characters)"))
			return
		}
	} else {
		notifyToken = ""
	}
	var pay *payment
	if raw := f.Get("authorization_details"); raw != "" {
		p, err := parseAuthorizationDetails(raw)
		if err != nil {
			writeOAuthError(w, oauthErr(http.StatusBadRequest, "invalid_authorization_details", strings.TrimPrefix(err.Error(), errAuthorizationDetails.Error()+": ")))
			return
		}
		pay = &p
	}

	// Who is asked. An unknown or locked user gets the same answer and a
	// request that never completes: the client learns nothing. So does a
	// known user the server will not ask (see cibaStart).
	var userID string
	if h := f.Get("id_token_hint"); h != "" {
		sub, err := s.oidc.HintSubject(r.Context(), h)
		if err != nil {
			writeOAuthError(w, oauthErr(http.StatusBadRequest, "invalid_request", "id_token_hint was not issued by this server"))
			return
		}
		userID = sub
	} else {
		userID = f.Get("login_hint")
	}
	ident, known := s.cibaUser(r.Context(), userID)
	if c.CIBAUserCode {
		if e := s.cibaCheckUserCode(r, c, userID, ident, known); e != nil {
			writeOAuthError(w, e)
			return
		}
	}

	now := s.now().UTC()
	id := randomToken(32)
	rec := store.CIBARequest{
		IDHash: cibaHash(id), ClientID: c.ID, Scopes: scopes, ACRValues: acrValues, BindingMessage: msg,
		Mode: c.CIBAMode, Status: store.CIBAPending, Interval: cibaInterval,
		CreatedAt: now, ExpiresAt: now.Add(time.Duration(expiresIn) * time.Second),
	}
	if pay != nil {
		rec.AuthorizationDetails = pay.details
	}
	if c.CIBAMode == oidcprovider.CIBAPing {
		sealed, err := s.sealCIBA(rec.IDHash, cibaSecrets{AuthReqID: id, Token: notifyToken})
		if err != nil {
			s.log.ErrorContext(r.Context(), "seal ciba request failed", "err", err)
			writeOAuthError(w, oauthErr(http.StatusInternalServerError, "server_error", ""))
			return
		}
		rec.NotificationToken = sealed
	}
	resp := backchannelResponse{AuthReqID: id, ExpiresIn: expiresIn, Interval: cibaInterval}
	details := map[string]string{"client_id": c.ID, "mode": c.CIBAMode}
	if pay != nil {
		details["amount"], details["currency"], details["payee"] = pay.detail.InstructedAmount.Amount, pay.currency, pay.PayeeID()
	}
	var audited sync.WaitGroup
	defer audited.Wait()
	subject := ""
	if known {
		rec.UserID, subject = ident.ID, ident.ID
		refused := s.cibaStart(r, &rec, &resp, c, pay, details, &audited)
		if refused == "risk_denied" && c.FirstParty {
			s.cibaDenyFirstParty(w, r, c, subject, details, &audited) // ciba_first_party.go
			return
		}
		if refused != "" {
			// Answered as for an unknown user: the request is kept
			// without its user, so it stays pending and then expires;
			// only the audit log has the reason.
			rec.UserID = ""
			resp.BindingNumber, _ = s.cibaDecoyNumber(r.Context(), c, pay)
			details["outcome"], details["reason"] = "refused", refused
		}
	} else {
		var stepUp bool
		resp.BindingNumber, stepUp = s.cibaDecoyNumber(r.Context(), c, pay)
		if stepUp {
			// A new user would be refused so; an unknown one is too.
			rec.Status, rec.Reason = store.CIBADenied, "step_up_required"
			resp.BindingNumber = 0
		}
		details["outcome"] = "unknown_user"
	}
	if rec.Mode == oidcprovider.CIBAPing && rec.Status == store.CIBAPending && rec.UserID != "" {
		// The worker looks again in case a decision is missed (a restart).
		rec.CheckAt = now.Add(2 * time.Second)
	}
	if rec.Status != store.CIBAPending && rec.Mode == oidcprovider.CIBAPing {
		rec.CheckAt = now
	}
	err := s.store.CreateCIBARequest(r.Context(), rec)
	audited.Wait() // the assessment's event comes before the request's
	if err != nil {
		s.log.ErrorContext(r.Context(), "store ciba request failed", "err", err)
		writeOAuthError(w, oauthErr(http.StatusInternalServerError, "server_error", ""))
		return
	}
	s.audit(r, store.AuditEvent{Kind: "ciba.requested", Actor: c.ID, Subject: subject, Outcome: rec.Status, Details: details})
	if rec.Mode == oidcprovider.CIBAPing && rec.UserID != "" {
		go s.cibaWatch(context.WithoutCancel(r.Context()), rec)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

// cibaUser finds the user a login_hint (e-mail or subject) or an ID token's
// subject names; false for nobody, or for a locked account.
func (s *Server) cibaUser(ctx context.Context, hint string) (profiles.Identity, bool) {
	if hint == "" || len(hint) > 320 {
		return profiles.Identity{}, false
	}
	var ident profiles.Identity
	var err error
	if strings.Contains(hint, "@") {
		ident, err = s.profiles.GetByEmail(ctx, hint)
	} else {
		ident, err = s.profiles.Get(ctx, hint)
	}
	if err != nil {
		if !errors.Is(err, profiles.ErrNotFound) {
			s.log.ErrorContext(ctx, "ciba user lookup failed", "err", err)
		}
		return profiles.Identity{}, false
	}
	if ident.Locked || ident.TemporarilyLocked(s.now()) {
		return profiles.Identity{}, false
	}
	return ident, true
}

// cibaStart assesses a known user's request and, unless the risk engine
// denies it, asks the user's app. It returns why it did not ask: a risk
// denial, or an app request that could not be made (one already pending,
// the fatigue limit, a push lock). The client must not learn that, since
// an unknown user's request is never asked either; the caller answers as
// for one. A step-up the app cannot give is recorded in rec as a denial,
// which an unknown user gets alike (cibaDecoyNumber).
func (s *Server) cibaStart(r *http.Request, rec *store.CIBARequest, resp *backchannelResponse, c store.OIDCClient, pay *payment, details map[string]string, audited *sync.WaitGroup) (refused string) {
	ev := risk.Event{Kind: risk.KindLogin, UserID: rec.UserID, Time: s.now(), Channel: risk.ChannelCIBA, ClientID: c.ID}
	if pay != nil {
		ev.Kind = risk.KindPayment
		ev.Payment = risk.Payment{Amount: pay.minor, Currency: pay.currency, Payee: pay.PayeeID()}
	}
	// The assessment's audit append runs alongside the push request's
	// writes and shares their commits; the handler waits for it before it
	// answers.
	a, err := s.risk.Assess(r.Context(), ev)
	if err != nil {
		s.log.WarnContext(r.Context(), "risk assessment failed; failing closed", "err", err)
	}
	s.metrics.assessments.WithLabelValues(string(ev.Kind), a.Decision.String()).Inc()
	assessed := store.AuditEvent{Kind: "risk.assessed", Actor: "system", Subject: rec.UserID, Outcome: a.Decision.String(),
		Details: assessmentDetails(ev, a)}
	audited.Go(func() { s.audit(r, assessed) })
	details["risk_decision"], details["risk_score"] = a.Decision.String(), strconv.Itoa(a.Score)
	if a.Exemption != "" {
		details["exemption"] = string(a.Exemption)
	}
	if a.Decision == risk.DecisionDeny {
		if code := a.PrimaryReason(); code != "" {
			details["risk_reason"] = string(code)
		}
		return "risk_denied"
	}
	// An approval in the app reaches at most what number matching gives;
	// a step-up to a phishing-resistant level needs the user's passkey in
	// a browser, which a backchannel request cannot offer.
	if needsStepUp(a) {
		rec.Status, rec.Reason = store.CIBADenied, "step_up_required"
		return ""
	}
	rp := c.ID
	if rec.BindingMessage != "" {
		rp = clipText(c.ID, 40) + " · " + rec.BindingMessage
	}
	n := push.NewRequest{UserID: rec.UserID, Kind: store.PushSignIn, RPName: rp}
	if pay != nil {
		n.Kind, n.Amount, n.Currency, n.Payee = store.PushPayment, pay.detail.InstructedAmount.Amount, pay.currency, clipText(pay.Payee(), 190)
	}
	// A low-risk request may go without number matching (when the push
	// policy is "risk"); anything the engine would challenge needs it.
	if a.Allowed() {
		n.RiskLevel = string(a.Level)
		rec.Exemption = string(a.Exemption)
	}
	pr, err := s.push.Create(r.Context(), n)
	if err != nil {
		if !errors.Is(err, push.ErrPending) && !errors.Is(err, push.ErrLocked) && !errors.Is(err, push.ErrRateLimited) && !errors.Is(err, push.ErrInvalidRequest) {
			s.log.ErrorContext(r.Context(), "ciba push failed", "err", err)
			return "unavailable"
		}
		return "push_" + push.Reason(err)
	}
	rec.PushRequestID = pr.ID
	resp.BindingNumber = pr.Number
	details["push_request_id"] = pr.ID
	return ""
}

// needsStepUp tells whether the engine asks for more than an approval in
// the app reaches (number matching gives MFA).
func needsStepUp(a risk.Assessment) bool {
	l, ok := acr.Parse(a.ACR)
	return a.Decision == risk.DecisionChallenge && ok && l > acr.MFA
}

// cibaDecoyNumber answers for a hint that names nobody (or a user the
// server will not ask) as a new user would be answered: the risk engine
// judges the same request for an account without history, and a number to
// match is shown exactly when such a user would be asked for one. stepUp
// tells that such a user would be refused with step_up_required.
func (s *Server) cibaDecoyNumber(ctx context.Context, c store.OIDCClient, pay *payment) (number int, stepUp bool) {
	ev := risk.Event{Kind: risk.KindLogin, UserID: "unknown-user", Time: s.now(), Channel: risk.ChannelCIBA, ClientID: c.ID}
	if pay != nil {
		ev.Kind = risk.KindPayment
		ev.Payment = risk.Payment{Amount: pay.minor, Currency: pay.currency, Payee: pay.PayeeID()}
	}
	a, _ := s.risk.Assess(ctx, ev)
	if s.cfg.PushNumberMatching == push.NumberByRisk && a.Allowed() && string(a.Level) == push.RiskLow {
		return 0, false
	}
	n, _ := randomInt(90)
	return n + 10, needsStepUp(a)
}

var errCIBAUnchanged = errors.New("ciba request unchanged")

// cibaSettle carries the app's decision over to a pending request. The
// caller that makes the change records the payment and audits it.
func (s *Server) cibaSettle(ctx context.Context, rec store.CIBARequest) (store.CIBARequest, error) {
	decide, err := s.cibaDecision(ctx, rec)
	if err != nil || decide == nil {
		return rec, err
	}
	now := s.now().UTC()
	out, err := s.store.UpdateCIBARequest(ctx, rec.IDHash, func(r store.CIBARequest) (store.CIBARequest, error) {
		if r.Status != store.CIBAPending {
			return r, errCIBAUnchanged
		}
		return decide(r, now), nil
	})
	if errors.Is(err, errCIBAUnchanged) {
		return s.store.GetCIBARequest(ctx, rec.IDHash)
	}
	if err != nil {
		return rec, err
	}
	s.cibaSettled(ctx, out, now)
	return out, nil
}

// cibaDecision reads the app's decision on a pending request and returns
// the change that carries it over to the request, nil while there is none.
// The change applies to a request still pending when it is made.
func (s *Server) cibaDecision(ctx context.Context, rec store.CIBARequest) (func(store.CIBARequest, time.Time) store.CIBARequest, error) {
	if rec.Status != store.CIBAPending || rec.PushRequestID == "" || rec.UserID == "" {
		return nil, nil
	}
	pr, err := s.store.GetPushRequest(ctx, rec.UserID, rec.PushRequestID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if pr.Status == store.PushPending {
		return nil, nil
	}
	return func(r store.CIBARequest, now time.Time) store.CIBARequest {
		if pr.Status == store.PushApproved {
			r.Status = store.CIBAApproved
			r.AMR = []string{"swk", "mca"}
			if r.Exemption != "" {
				r.AMR = append(r.AMR, "rba")
			}
			r.ACR = acr.Of(r.AMR).String()
			r.AuthTime = pr.DecidedAt.UTC()
		} else {
			r.Status, r.Reason = store.CIBADenied, "user_denied"
			if pr.NotMe {
				r.Reason = "not_me"
			}
		}
		if r.Mode == oidcprovider.CIBAPing {
			r.CheckAt = now
		}
		return r
	}, nil
}

// cibaSettled records what settling a request leaves behind: an approved
// payment in the risk history and the audit event. The two writes do not
// depend on each other, so they run together and share one commit; it
// returns once both are durable.
func (s *Server) cibaSettled(ctx context.Context, out store.CIBARequest, now time.Time) {
	details := map[string]string{"client_id": out.ClientID, "push_request_id": out.PushRequestID}
	if out.Reason != "" {
		details["reason"] = out.Reason
	}
	if out.Exemption != "" {
		details["exemption"] = out.Exemption
	}
	var history sync.WaitGroup
	if out.Status == store.CIBAApproved && len(out.AuthorizationDetails) > 0 {
		if p, err := parseAuthorizationDetails(string(out.AuthorizationDetails)); err == nil {
			details["amount"], details["currency"], details["payee"] = p.detail.InstructedAmount.Amount, p.currency, p.PayeeID()
			// The risk history: an approval without an exemption is strong
			// authentication and restarts the PSD2 low-value counters.
			rec := store.PaymentRecord{Time: now, Amount: p.minor, Currency: p.currency, Payee: p.PayeeID(), Strong: out.Exemption == ""}
			history.Go(func() {
				if err := s.store.AppendPayment(ctx, out.UserID, rec); err != nil {
					s.log.ErrorContext(ctx, "record payment history failed", "err", err)
				}
			})
		}
	}
	s.auditSystem(ctx, store.AuditEvent{Kind: "ciba." + out.Status, Actor: out.UserID, Subject: out.UserID, Outcome: out.Status, Details: details})
	history.Wait()
}

// handleTokenWithCIBA serves the CIBA grant and hands every other grant to
// the provider.
func (s *Server) handleTokenWithCIBA(w http.ResponseWriter, r *http.Request) {
	if e := readForm(w, r); e != nil {
		writeOAuthError(w, e)
		return
	}
	if r.PostForm.Get("grant_type") != oidcprovider.GrantTypeCIBA {
		s.serveTokenWithDetails(w, r) // oidc_payment.go
		return
	}
	c, e := s.cibaClient(r)
	if e != nil {
		writeOAuthError(w, e)
		return
	}
	out, e := s.cibaRedeem(r.Context(), c, r.PostForm.Get("auth_req_id"))
	if e != nil {
		writeOAuthError(w, e)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, out)
}

var errCIBAPoll = errors.New("ciba poll")

// cibaRedeem answers one token request for an auth_req_id.
func (s *Server) cibaRedeem(ctx context.Context, c store.OIDCClient, id string) (oidcprovider.TokenResponse, *oauthError) {
	invalid := oauthErr(http.StatusBadRequest, "invalid_grant", "unknown auth_req_id")
	if id == "" || len(id) > 128 {
		return oidcprovider.TokenResponse{}, invalid
	}
	rec, err := s.store.GetCIBARequest(ctx, cibaHash(id))
	if errors.Is(err, store.ErrNotFound) || err == nil && rec.ClientID != c.ID {
		return oidcprovider.TokenResponse{}, invalid
	}
	if err != nil {
		s.log.ErrorContext(ctx, "load ciba request failed", "err", err)
		return oidcprovider.TokenResponse{}, oauthErr(http.StatusInternalServerError, "server_error", "")
	}
	// A decision the app has made is carried over in the same transaction
	// that answers this request: one commit instead of two.
	decide, err := s.cibaDecision(ctx, rec)
	if err != nil {
		s.log.ErrorContext(ctx, "settle ciba request failed", "err", err)
	}
	now := s.now().UTC()
	var answer *oauthError
	var grant, settled store.CIBARequest
	_, err = s.store.UpdateCIBARequest(ctx, rec.IDHash, func(r store.CIBARequest) (store.CIBARequest, error) {
		answer, settled = nil, store.CIBARequest{}
		if decide != nil && r.Status == store.CIBAPending {
			r = decide(r, now)
			settled = r
		}
		// A refusal writes nothing, unless the decision was carried over.
		refuse := func(e *oauthError) (store.CIBARequest, error) {
			answer = e
			if settled.Status != "" {
				return r, nil
			}
			return r, errCIBAPoll
		}
		switch {
		case r.Status == store.CIBARedeemed:
			return refuse(oauthErr(http.StatusBadRequest, "invalid_grant", "auth_req_id was already used"))
		case !now.Before(r.ExpiresAt):
			return refuse(oauthErr(http.StatusBadRequest, "expired_token", "the request expired before the user approved it"))
		case r.Status == store.CIBADenied:
			return refuse(oauthErr(http.StatusBadRequest, "access_denied", r.Reason))
		case r.Status == store.CIBAApproved:
			r.Status = store.CIBARedeemed
			r.CheckAt = time.Time{}
			grant = r
			return r, nil
		}
		// Pending: enforce the interval.
		if !r.LastPollAt.IsZero() && now.Sub(r.LastPollAt) < time.Duration(r.Interval)*time.Second {
			r.Interval += cibaSlowDownStep
			r.LastPollAt = now
			answer = oauthErr(http.StatusBadRequest, "slow_down", fmt.Sprintf("poll at most every %d seconds", r.Interval))
			return r, nil
		}
		r.LastPollAt = now
		answer = oauthErr(http.StatusBadRequest, "authorization_pending", "")
		return r, nil
	})
	if err != nil && !errors.Is(err, errCIBAPoll) {
		s.log.ErrorContext(ctx, "update ciba request failed", "err", err)
		return oidcprovider.TokenResponse{}, oauthErr(http.StatusInternalServerError, "server_error", "")
	}
	if err == nil && settled.Status != "" {
		s.cibaSettled(ctx, settled, now)
	}
	if answer != nil {
		return oidcprovider.TokenResponse{}, answer
	}
	tr, err := s.oidc.IssueCIBATokens(ctx, oidcprovider.CIBAGrant{
		ClientID: grant.ClientID, Subject: grant.UserID, Scopes: grant.Scopes, AMR: grant.AMR, ACR: grant.ACR,
		AuthTime: grant.AuthTime, AuthorizationDetails: grant.AuthorizationDetails, Exemption: grant.Exemption,
		IDTokenAlg: c.IDTokenAlg,
	})
	if err != nil {
		s.log.ErrorContext(ctx, "issue ciba tokens failed", "err", err)
		return oidcprovider.TokenResponse{}, oauthErr(http.StatusInternalServerError, "server_error", "")
	}
	s.auditSystem(ctx, store.AuditEvent{Kind: "ciba.tokens_issued", Actor: grant.ClientID, Subject: grant.UserID, Outcome: "ok",
		Details: map[string]string{"client_id": grant.ClientID, "acr": grant.ACR, "amr": strings.Join(grant.AMR, " ")}})
	return tr, nil
}

// cibaWatch waits for the app's decision on a ping-mode request and pings
// the client at once. RunCIBA covers what this misses.
func (s *Server) cibaWatch(ctx context.Context, rec store.CIBARequest) {
	events, cancel := s.push.Subscribe(rec.UserID)
	defer cancel()
	timeout := time.NewTimer(rec.ExpiresAt.Sub(rec.CreatedAt) + time.Second)
	defer timeout.Stop()
	// A decision made before the subscription is seen here.
	if settled, err := s.cibaSettle(ctx, rec); err == nil {
		rec = settled
	}
	if rec.Status == store.CIBAPending {
	wait:
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					return
				}
				if ev.Request.ID == rec.PushRequestID && ev.Request.Status != store.PushPending {
					break wait
				}
			case <-timeout.C:
				return
			}
		}
		var err error
		if rec, err = s.cibaSettle(ctx, rec); err != nil {
			s.log.ErrorContext(ctx, "settle ciba request failed", "err", err)
			return
		}
	}
	s.cibaDeliver(ctx, rec.IDHash)
}

// cibaBackoff is the wait before notification attempt n+1.
func cibaBackoff(attempts int) time.Duration {
	d := time.Second << min(attempts, 6)
	return min(d, time.Minute)
}

// cibaDeliver pings the client of a decided request once: it leases the
// request (CheckAt moves ahead), posts, and records success or the next
// try.
func (s *Server) cibaDeliver(ctx context.Context, idHash []byte) {
	now := s.now().UTC()
	rec, err := s.store.UpdateCIBARequest(ctx, idHash, func(r store.CIBARequest) (store.CIBARequest, error) {
		if r.Mode != oidcprovider.CIBAPing || r.Notified || r.Status != store.CIBAApproved && r.Status != store.CIBADenied ||
			r.CheckAt.After(now) || !now.Before(r.ExpiresAt) {
			return r, errCIBAUnchanged
		}
		r.CheckAt = now.Add(30 * time.Second) // the lease
		return r, nil
	})
	if err != nil {
		if !errors.Is(err, errCIBAUnchanged) && !errors.Is(err, store.ErrNotFound) {
			s.log.ErrorContext(ctx, "lease ciba notification failed", "err", err)
		}
		return
	}
	c, err := s.oidc.Client(ctx, rec.ClientID)
	var sendErr error
	if err != nil {
		sendErr = fmt.Errorf("load client: %w", err)
	} else {
		sendErr = s.cibaPing(ctx, c.NotificationEndpoint, rec)
	}
	after := s.now().UTC()
	_, err = s.store.UpdateCIBARequest(ctx, idHash, func(r store.CIBARequest) (store.CIBARequest, error) {
		r.NotifyAttempts++
		if sendErr == nil {
			r.Notified, r.CheckAt = true, time.Time{}
			return r, nil
		}
		r.CheckAt = after.Add(cibaBackoff(r.NotifyAttempts - 1))
		if !r.CheckAt.Before(r.ExpiresAt) {
			r.CheckAt = time.Time{} // the client polls or gives up
		}
		return r, nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.ErrorContext(ctx, "record ciba notification failed", "err", err)
	}
	if sendErr != nil {
		s.log.WarnContext(ctx, "ciba notification failed", "client_id", rec.ClientID, "attempt", rec.NotifyAttempts+1, "err", sendErr)
		return
	}
	s.auditSystem(ctx, store.AuditEvent{Kind: "ciba.notified", Actor: "system", Subject: rec.UserID, Outcome: "ok",
		Details: map[string]string{"client_id": rec.ClientID}})
}

// cibaPing posts {"auth_req_id": ...} with the client's bearer token.
func (s *Server) cibaPing(ctx context.Context, endpoint string, rec store.CIBARequest) error {
	if endpoint == "" {
		return errors.New("no notification endpoint")
	}
	sec, err := s.openCIBA(rec)
	if err != nil {
		return fmt.Errorf("open sealed request: %w", err)
	}
	body, _ := json.Marshal(map[string]string{"auth_req_id": sec.AuthReqID})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+sec.Token)
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("notification endpoint answered %d", resp.StatusCode)
	}
	return nil
}

// RunCIBA delivers ping notifications that are due (retries, and requests
// whose decision a restart interrupted) and removes expired requests,
// until ctx ends.
func (s *Server) RunCIBA(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	sweep := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.cibaTick(ctx)
		if sweep++; sweep%60 == 0 {
			if _, err := s.store.DeleteExpiredCIBARequests(ctx, s.now()); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "ciba sweep failed", "err", err)
			}
		}
	}
}

// cibaTick handles the requests due now.
func (s *Server) cibaTick(ctx context.Context) {
	now := s.now().UTC()
	due, err := s.store.DueCIBARequests(ctx, now, 100)
	if err != nil {
		if ctx.Err() == nil {
			s.log.WarnContext(ctx, "list due ciba requests failed", "err", err)
		}
		return
	}
	for _, rec := range due {
		if !now.Before(rec.ExpiresAt) {
			s.store.UpdateCIBARequest(ctx, rec.IDHash, func(r store.CIBARequest) (store.CIBARequest, error) {
				r.CheckAt = time.Time{}
				return r, nil
			})
			continue
		}
		if rec.Status == store.CIBAPending {
			out, err := s.cibaSettle(ctx, rec)
			if err != nil || out.Status == store.CIBAPending {
				s.store.UpdateCIBARequest(ctx, rec.IDHash, func(r store.CIBARequest) (store.CIBARequest, error) {
					if r.Status == store.CIBAPending {
						r.CheckAt = now.Add(2 * time.Second)
					}
					return r, nil
				})
				continue
			}
		}
		s.cibaDeliver(ctx, rec.IDHash)
	}
}

// handleDiscoveryWithCIBA adds CIBA and RAR to the provider's discovery
// document.
func (s *Server) handleDiscoveryWithCIBA(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	s.oidc.Handler().ServeHTTP(rec, r)
	var d map[string]any
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &d) != nil {
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}
	issuer, _ := d["issuer"].(string)
	d["backchannel_authentication_endpoint"] = issuer + "/bc-authorize"
	d["backchannel_token_delivery_modes_supported"] = []string{oidcprovider.CIBAPoll, oidcprovider.CIBAPing}
	d["backchannel_user_code_parameter_supported"] = true
	d["authorization_details_types_supported"] = []string{rarTypePayment}
	grants, _ := d["grant_types_supported"].([]any)
	if !slices.Contains(grants, any(oidcprovider.GrantTypeCIBA)) {
		d["grant_types_supported"] = append(grants, oidcprovider.GrantTypeCIBA)
	}
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	writeJSON(w, http.StatusOK, d)
}

// handleIntrospectWithDetails adds the authorization details (RFC 9396
// section 9.2) and the PSD2 exemption of an active JWT access token to the
// provider's introspection answer. The provider has authenticated the
// caller and verified the token before it says active.
func (s *Server) handleIntrospectWithDetails(w http.ResponseWriter, r *http.Request) {
	if e := readForm(w, r); e != nil {
		writeOAuthError(w, e)
		return
	}
	rec := httptest.NewRecorder()
	s.oidc.Handler().ServeHTTP(rec, r)
	var d map[string]any
	extra := jwtClaims(r.PostForm.Get("token"))
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &d) != nil || d["active"] != true ||
		extra["authorization_details"] == nil && extra["psd2_exemption"] == nil {
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}
	for _, k := range []string{"authorization_details", "psd2_exemption"} {
		if v, ok := extra[k]; ok {
			d[k] = v
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, d)
}

// jwtClaims decodes the payload of a compact JWS without verifying it (the
// caller relies on a verification done elsewhere); nil if it is not one.
func jwtClaims(token string) map[string]any {
	parts := strings.Split(token, ".")
	if len(token) > 16<<10 || len(parts) != 3 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// randomInt returns a uniform random number in [0, n).
func randomInt(n int) (int, error) {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(v.Int64()), nil
}

// maxUserCodeFailures is how many wrong user codes one login_hint may get
// per throttle window (15 minutes) before every code for it is refused.
const maxUserCodeFailures = 5

// cibaCheckUserCode enforces the user code of a client registered with
// backchannel_user_code_parameter: missing_user_code without one, and
// invalid_user_code for a wrong one, for an unknown user (who has none)
// and, after maxUserCodeFailures for the hint, for every code: the client
// learns nothing about which accounts exist, and cannot guess for long.
func (s *Server) cibaCheckUserCode(r *http.Request, c store.OIDCClient, hint string, ident profiles.Identity, known bool) *oauthError {
	code := r.PostForm.Get("user_code")
	if code == "" {
		return oauthErr(http.StatusBadRequest, "missing_user_code", "this client's requests must carry the user's user_code")
	}
	key := "ciba-user-code:" + truncate(hint, 256)
	if known {
		key = "ciba-user-code:" + ident.ID
	}
	ok := false
	if s.throttle.count(key) < maxUserCodeFailures && known {
		var err error
		if ok, err = s.profiles.CheckUserCode(r.Context(), ident.ID, truncate(code, 64)); err != nil {
			s.log.ErrorContext(r.Context(), "check user code failed", "err", err)
			return oauthErr(http.StatusInternalServerError, "server_error", "")
		}
	}
	if ok {
		return nil
	}
	s.throttle.fail(key)
	s.audit(r, store.AuditEvent{Kind: "ciba.user_code_invalid", Actor: c.ID, Subject: ident.ID, Outcome: "denied",
		Details: map[string]string{"client_id": c.ID}})
	return oauthErr(http.StatusBadRequest, "invalid_user_code", "the user_code is not valid")
}
