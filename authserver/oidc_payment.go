package authserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"

	"github.com/assent-auth/assent/acr"
	"github.com/assent-auth/assent/devices"
	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/risk"
	"github.com/assent-auth/assent/store"
)

// Checkout step-up in the browser: a relying party sends
// authorization_details of type payment_initiation (RFC 9396) with an
// ordinary authorization request. The provider validates and keeps them
// with the request (rar.go's parser, so they are the canonical bytes CIBA
// uses); when the user's session is good enough, the request stops here.
// The risk engine assesses the payment: a PSD2 exemption on a session
// already at mfa lets it through (amr gains rba, the tokens carry
// psd2_exemption); otherwise the page shows the amount and payee and asks
// for a fresh second factor bound to exactly these details before the code
// is issued: a passkey whose challenge is linked to the details, an
// approval in the app, which shows and signs the amount and payee, or a
// TOTP code.

func (s *Server) checkoutRoutes(mux *http.ServeMux) {
	s.oidc.SetAuthorizationDetailsParser(func(raw string) ([]byte, error) {
		p, err := parseAuthorizationDetails(raw)
		return p.details, err
	})
	mux.HandleFunc("POST /oidc/payment", s.handleCheckoutPayment)
	mux.HandleFunc("POST /oidc/payment/passkey-options", s.handlePaymentPasskeyOptions)
	s.checkoutWaitRoutes(mux) // checkout_wait.go
}

type paymentPage struct {
	RequestID string
	Client    string
	Amount    string
	Currency  string
	Payee     string
	Details   string
	HasTOTP   bool
	HasApp    bool
	// HasPasskey offers a passkey whose challenge is linked to the payment.
	HasPasskey bool
	// Number is set while the browser waits for the app: the number the
	// user picks there; PushID names the app's request and Seconds is
	// what is left of it, for the page's live wait (push.js).
	Number  int
	PushID  string
	Seconds int
	// StepUp: the risk engine wants more than mfa, so only the passkey is
	// offered (and accepted).
	StepUp bool
}

// checkoutPushCookie holds the app approval a payment page waits for.
const checkoutPushCookie = "assent_checkout_push"

// checkoutPush binds an app request to the authorization request, the
// browser session (Session is its IDHash) and the exact details it was
// created for.
type checkoutPush struct {
	UserID      string `json:"user_id"`
	PushID      string `json:"push_id"`
	AuthRequest string `json:"auth_request"`
	Session     []byte `json:"session"`
	Details     []byte `json:"details"`
}

// checkoutPayment continues a request that stopped at its payment (a
// Payment outcome of Resume) for the signed-in user auth.
func (s *Server) checkoutPayment(w http.ResponseWriter, r *http.Request, id string, d oidcprovider.Decision, auth *oidcprovider.Authentication) {
	pay, err := parseAuthorizationDetails(string(d.AuthorizationDetails))
	if err != nil {
		s.rejectPayment(w, r, id, auth.Subject, oidcprovider.ErrorInvalidAuthorizationDetails, "")
		return
	}
	ev := s.loginEvent(r, auth.Subject)
	ev.Kind, ev.ClientID = risk.KindPayment, d.ClientID
	ev.Payment = risk.Payment{Amount: pay.minor, Currency: pay.currency, Payee: pay.PayeeID()}
	a := s.assess(r, ev, auth.Subject)
	if a.Decision == risk.DecisionDeny {
		s.rejectPayment(w, r, id, auth.Subject, "access_denied", "risk_denied")
		return
	}
	if a.Decision == risk.DecisionAllow && a.Exemption != "" && acr.Of(auth.AMR) >= acr.MFA {
		approved := *auth
		approved.AMR = withMethods(auth.AMR, "rba")
		s.approvePayment(w, r, id, approved, pay, string(a.Exemption))
		return
	}
	// A step-up beyond mfa (the high band asks for phr) is met only by a
	// user-verified passkey linked to the payment: the request remembers the
	// level, so no other factor can approve it. A user without a passkey
	// cannot reach it, and the request ends as CIBA's does.
	if l, ok := acr.Parse(a.ACR); a.Decision == risk.DecisionChallenge && ok && l > acr.MFA {
		if !s.canReachWithPasskey(r, auth.Subject) {
			s.rejectPayment(w, r, id, auth.Subject, "access_denied", "step_up_required")
			return
		}
		if err := s.oidc.RequirePaymentLevel(r.Context(), id, l); err != nil {
			s.log.ErrorContext(r.Context(), "record payment step-up failed", "err", err)
			s.renderError(w, r, http.StatusInternalServerError, "error.internal")
			return
		}
	}
	if d.PromptNone {
		s.rejectPayment(w, r, id, auth.Subject, "interaction_required", "the payment needs the user's approval")
		return
	}
	s.renderPayment(w, r, http.StatusOK, id, d.ClientID, pay, auth.Subject, "")
}

func (s *Server) renderPayment(w http.ResponseWriter, r *http.Request, status int, id, client string, pay payment, subject, errKey string) {
	s.renderPaymentWaiting(w, r, status, id, client, pay, subject, errKey, store.PushRequest{})
}

// renderPaymentWaiting renders the payment page; with an app request that
// has a number, it waits for the app.
func (s *Server) renderPaymentWaiting(w http.ResponseWriter, r *http.Request, status int, id, client string, pay payment, subject, errKey string, wait store.PushRequest) {
	pg := s.newPage(w, r)
	ov, err := s.devices.Overview(r.Context(), subject)
	if err != nil {
		s.log.ErrorContext(r.Context(), "read factors failed", "user_id", subject, "err", err)
	}
	level, _ := s.oidc.PaymentLevel(r.Context(), id)
	stepUp := level > acr.MFA
	pg.Data = paymentPage{RequestID: id, Client: s.clientName(r.Context(), client), Amount: pay.detail.InstructedAmount.Amount, Currency: pay.currency,
		Payee: pay.Payee(), Details: string(pay.details), HasTOTP: ov.TOTP && !stepUp, HasApp: ov.AppDevices > 0 && !stepUp,
		Number: wait.Number, PushID: wait.ID, Seconds: max(0, int(wait.ExpiresAt.Sub(s.now()).Seconds())),
		HasPasskey: ov.Passkeys > 0 && s.devices.Passkeys(), StepUp: stepUp}
	if errKey != "" {
		pg.Error = pg.T(errKey)
	}
	pg.flow = id // form_action.go
	s.render(w, r, status, "payment", pg)
}

// handleCheckoutPayment takes the user's answer on the payment page, for
// the details the page showed (posted back, and compared byte for byte
// with the request's): decision approve with a fresh TOTP code, passkey
// with a linked assertion, app to ask the app and app_finish once it
// answered; cancel ends the request with access_denied.
func (s *Server) handleCheckoutPayment(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	sess, ok := s.answeringSession(w, r)
	if !ok {
		return
	}
	id, details := r.PostForm.Get("id"), r.PostForm.Get("details")
	// Only the browser that started the request answers its payment page;
	// any other gets the page an unknown request gets.
	client, err := s.oidc.BoundClient(r.Context(), id, oidcprovider.Authentication{Subject: sess.UserID, Browser: s.authorizeBrowser(r)})
	if err != nil {
		if !errors.Is(err, oidcprovider.ErrUnknownRequest) {
			s.log.ErrorContext(r.Context(), "load authorization request failed", "err", err)
		}
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return
	}
	if r.PostForm.Get("decision") == "cancel" {
		s.rejectPayment(w, r, id, sess.UserID, "access_denied", "the user cancelled the payment")
		return
	}
	pay, err := parseAuthorizationDetails(details)
	if err != nil {
		s.rejectPayment(w, r, id, sess.UserID, oidcprovider.ErrorInvalidAuthorizationDetails, "the approved details differ from the request")
		return
	}
	// Past a step-up beyond mfa only the linked passkey approves.
	if level, err := s.oidc.PaymentLevel(r.Context(), id); err == nil && level > acr.MFA && r.PostForm.Get("decision") != "passkey" {
		s.renderPayment(w, r, http.StatusForbidden, id, client, pay, sess.UserID, "payment.passkey_required")
		return
	}
	switch r.PostForm.Get("decision") {
	case "app":
		s.startCheckoutPush(w, r, sess, id, client, pay)
		return
	case "app_finish":
		s.finishCheckoutPush(w, r, sess, id, client, pay)
		return
	case "passkey":
		s.finishPaymentPasskey(w, r, sess, id, client, pay)
		return
	}
	if s.throttle.count(mfaKey(sess.UserID)) >= maxSecondFactorFailures || s.throttle.count(netKeyOf(clientIP(r))) >= maxFailuresPerIP {
		w.Header().Set("Retry-After", "900")
		s.renderPayment(w, r, http.StatusTooManyRequests, id, client, pay, sess.UserID, "factor.throttled")
		return
	}
	if err := s.devices.VerifyTOTP(r.Context(), sess.UserID, r.PostForm.Get("code")); err != nil {
		if !errors.Is(err, devices.ErrRefused) {
			s.log.ErrorContext(r.Context(), "verify TOTP failed", "user_id", sess.UserID, "err", err)
		}
		if !s.secondFactorFailed(r, sess.UserID, "totp", err) {
			return
		}
		key := "factor.totp_invalid"
		if devices.Reason(err) == devices.ReasonReplayed {
			key = "factor.totp_replayed"
		}
		s.renderPayment(w, r, http.StatusUnauthorized, id, client, pay, sess.UserID, key)
		return
	}
	auth := oidcprovider.Authentication{Subject: sess.UserID, AuthTime: s.now(), AMR: withMethods(sess.AMR, "otp", "mfa"), Session: sess.IDHash,
		Browser: s.authorizeBrowser(r)}
	s.approvePayment(w, r, id, auth, pay, "")
}

// approvePayment records the approval of pay with the provider and sends
// the browser on: back to the resume page, which issues the code.
func (s *Server) approvePayment(w http.ResponseWriter, r *http.Request, id string, auth oidcprovider.Authentication, pay payment, exemption string) {
	d, err := s.oidc.ApprovePayment(r.Context(), id, auth, pay.details, exemption)
	if errors.Is(err, oidcprovider.ErrUnknownRequest) {
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "approve payment failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	details := map[string]string{"client_id": d.ClientID, "amount": pay.detail.InstructedAmount.Amount, "currency": pay.currency,
		"payee": pay.PayeeID(), "channel": string(risk.ChannelWeb)}
	if exemption != "" {
		details["exemption"] = exemption
	}
	w.Header().Set("Cache-Control", "no-store")
	switch d.Outcome {
	case oidcprovider.Failed:
		details["error"] = d.Error
		s.audit(r, store.AuditEvent{Kind: "oidc.payment", Actor: auth.Subject, Subject: auth.Subject, Outcome: "denied", Details: details})
		http.Redirect(w, r, d.Target, http.StatusSeeOther)
		return
	case oidcprovider.Completed:
		s.recordPayment(r.Context(), auth.Subject, pay, exemption)
		s.audit(r, store.AuditEvent{Kind: "oidc.payment", Actor: auth.Subject, Subject: auth.Subject, Outcome: "ok", Details: details})
	}
	// Any other outcome (a sign-in the approval did not satisfy, consent)
	// is the resume page's to handle.
	http.Redirect(w, r, "/oidc/resume?id="+url.QueryEscape(id), http.StatusSeeOther)
}

// recordPayment adds an approved payment to the risk history: one without
// an exemption is strong authentication and restarts the PSD2 low-value
// counters.
func (s *Server) recordPayment(ctx context.Context, userID string, pay payment, exemption string) {
	if err := s.store.AppendPayment(ctx, userID, store.PaymentRecord{Time: s.now(), Amount: pay.minor, Currency: pay.currency,
		Payee: pay.PayeeID(), Strong: exemption == ""}); err != nil {
		s.log.ErrorContext(ctx, "record payment history failed", "err", err)
	}
}

// rejectPayment ends request id with code at the client, when this
// browser started it (an unknown request's page otherwise).
func (s *Server) rejectPayment(w http.ResponseWriter, r *http.Request, id, subject, code, desc string) {
	d, err := s.oidc.Reject(r.Context(), id, oidcprovider.Authentication{Subject: subject, Browser: s.authorizeBrowser(r)}, code, desc)
	if errors.Is(err, oidcprovider.ErrUnknownRequest) {
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "reject payment failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	s.audit(r, store.AuditEvent{Kind: "oidc.payment", Actor: subject, Subject: subject, Outcome: "denied",
		Details: map[string]string{"client_id": d.ClientID, "error": code, "reason": desc}})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, d.Target, http.StatusSeeOther)
}

// withMethods returns amr with ms added, once each.
func withMethods(amr []string, ms ...string) []string {
	out := slices.Clone(amr)
	for _, m := range ms {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// serveTokenWithDetails answers the token endpoint's other grants through
// the provider, adding to an authorization code's answer the approved
// authorization_details its access token carries (RFC 9396 section 7), as
// the CIBA grant's answer has them.
func (s *Server) serveTokenWithDetails(w http.ResponseWriter, r *http.Request) {
	if r.PostForm.Get("grant_type") != "authorization_code" {
		s.oidc.Handler().ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	s.oidc.Handler().ServeHTTP(rec, r)
	var body map[string]any
	if rec.Code == http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &body) == nil {
		at, _ := body["access_token"].(string)
		if d := rawClaim(at, "authorization_details"); d != nil {
			body["authorization_details"] = d
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Del("Content-Length")
			writeJSON(w, http.StatusOK, body)
			return
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// rawClaim returns one claim of a compact JWS's payload as its JSON bytes,
// unverified (the token was signed here a moment ago); nil if absent. The
// bytes are kept as signed, so the response carries the canonical details.
func rawClaim(token, name string) json.RawMessage {
	parts := strings.Split(token, ".")
	if len(token) > 16<<10 || len(parts) != 3 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m[name]
}

// startCheckoutPush asks the user's app to approve the payment: the app
// shows the amount, payee and client, and signs the amount, currency and
// payee into its decision. The number is always matched.
func (s *Server) startCheckoutPush(w http.ResponseWriter, r *http.Request, sess store.Session, id, client string, pay payment) {
	ip := clientIP(r)
	req, err := s.push.Create(r.Context(), push.NewRequest{UserID: sess.UserID, Kind: store.PushPayment, RPName: clipText(client, 40),
		IP: ip.String(), Country: s.cfg.Locator.Locate(ip).Country, Browser: r.UserAgent(),
		Amount: pay.detail.InstructedAmount.Amount, Currency: pay.currency, Payee: clipText(pay.Payee(), 190)})
	if err != nil {
		status, key := http.StatusInternalServerError, "error.internal"
		switch {
		case errors.Is(err, push.ErrPending):
			status, key = http.StatusConflict, "factor.push_pending"
		case errors.Is(err, push.ErrRateLimited):
			status, key = http.StatusTooManyRequests, "factor.push_rate_limited"
		case errors.Is(err, push.ErrLocked):
			status, key = http.StatusTooManyRequests, "factor.push_locked"
		default:
			s.log.ErrorContext(r.Context(), "create push request failed", "user_id", sess.UserID, "err", err)
		}
		s.renderPayment(w, r, status, id, client, pay, sess.UserID, key)
		return
	}
	if err := s.putFlow(w, r, checkoutPushCookie, checkoutPush{UserID: sess.UserID, PushID: req.ID, AuthRequest: id, Session: sess.IDHash, Details: pay.details}); err != nil {
		s.log.ErrorContext(r.Context(), "store push flow failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	s.renderPaymentWaiting(w, r, http.StatusOK, id, client, pay, sess.UserID, "", req)
}

// finishCheckoutPush approves the payment once the app approved the very
// request created for it, over the same amount, currency and payee.
func (s *Server) finishCheckoutPush(w http.ResponseWriter, r *http.Request, sess store.Session, id, client string, pay payment) {
	// The approval serves only this session's payment, and once: a decided
	// request spends the flow state server-side, and an approval is
	// consumed in the store before it approves the payment.
	var f checkoutPush
	flowNonce, err := s.readFlow(r, checkoutPushCookie, &f)
	if err != nil || f.UserID != sess.UserID || f.AuthRequest != id || len(sess.IDHash) == 0 || subtle.ConstantTimeCompare(f.Session, sess.IDHash) != 1 {
		s.setCookie(w, checkoutPushCookie, "", -1)
		s.renderPayment(w, r, http.StatusUnauthorized, id, client, pay, sess.UserID, "factor.push_expired")
		return
	}
	if !bytes.Equal(f.Details, pay.details) {
		s.consumeFlow(w, checkoutPushCookie, flowNonce)
		s.rejectPayment(w, r, id, sess.UserID, oidcprovider.ErrorInvalidAuthorizationDetails, "the approved details differ from the request")
		return
	}
	req, err := s.push.Get(r.Context(), f.UserID, f.PushID)
	if err != nil {
		s.consumeFlow(w, checkoutPushCookie, flowNonce)
		s.renderPayment(w, r, http.StatusUnauthorized, id, client, pay, sess.UserID, "factor.push_expired")
		return
	}
	state := s.pushState(req)
	if state != store.PushPending && !s.consumeFlow(w, checkoutPushCookie, flowNonce) {
		state = "used"
	}
	if state == store.PushApproved {
		if req, err = s.push.Consume(r.Context(), f.UserID, f.PushID); err != nil {
			if !errors.Is(err, push.ErrConsumed) {
				s.log.ErrorContext(r.Context(), "consume push approval failed", "user_id", f.UserID, "err", err)
			}
			state = "used"
		}
	}
	switch state {
	case store.PushApproved:
		if req.Kind != store.PushPayment || req.Amount != pay.detail.InstructedAmount.Amount || req.Currency != pay.currency ||
			req.Payee != clipText(pay.Payee(), 190) {
			s.rejectPayment(w, r, id, sess.UserID, oidcprovider.ErrorInvalidAuthorizationDetails, "the approved details differ from the request")
			return
		}
		auth := oidcprovider.Authentication{Subject: sess.UserID, AuthTime: s.now(), AMR: withMethods(sess.AMR, "swk", "mca", "mfa"), Session: sess.IDHash,
			Browser: s.authorizeBrowser(r)}
		s.approvePayment(w, r, id, auth, pay, "")
	case store.PushPending:
		s.renderPaymentWaiting(w, r, http.StatusAccepted, id, client, pay, sess.UserID, "factor.push_waiting", req)
	case store.PushDenied:
		if !s.secondFactorFailed(r, sess.UserID, "app", &devices.RefusedError{Reason: "denied_in_app"}) {
			return
		}
		s.renderPayment(w, r, http.StatusUnauthorized, id, client, pay, sess.UserID, "factor.push_denied")
	case "locked":
		s.renderPayment(w, r, http.StatusTooManyRequests, id, client, pay, sess.UserID, "factor.push_locked")
	default:
		s.renderPayment(w, r, http.StatusUnauthorized, id, client, pay, sess.UserID, "factor.push_expired")
	}
}

// paymentLink is what a payment passkey's challenge carries: the SHA-256 of
// the canonical details.
func paymentLink(pay payment) []byte {
	h := sha256.Sum256(pay.details)
	return h[:]
}

type paymentPasskeyRequest struct {
	ID      string `json:"id"`
	Details string `json:"details"`
}

// handlePaymentPasskeyOptions starts a passkey ceremony for the payment
// page: its challenge ends with the SHA-256 of the details the page shows,
// and the person must be verified.
func (s *Server) handlePaymentPasskeyOptions(w http.ResponseWriter, r *http.Request) {
	if !s.devices.Passkeys() {
		writeProblem(w, http.StatusNotFound, "Passkeys are not available on this server.")
		return
	}
	if !s.checkCSRFHeader(r) {
		writeProblem(w, http.StatusForbidden, "The CSRF token is missing or wrong: reload the page and try again.")
		return
	}
	sess, err := s.session(r)
	if err != nil {
		writeProblem(w, http.StatusUnauthorized, "Sign in first.")
		return
	}
	var req paymentPasskeyRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	pay, err := parseAuthorizationDetails(req.Details)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "Invalid request.", FieldError{Field: "details", Code: "invalid", Detail: "not valid payment details"})
		return
	}
	if _, err := s.oidc.BoundClient(r.Context(), req.ID, oidcprovider.Authentication{Subject: sess.UserID, Browser: s.authorizeBrowser(r)}); err != nil {
		writeProblem(w, http.StatusNotFound, "The payment request has expired.")
		return
	}
	opts, c, err := s.devices.BeginPayment(r.Context(), sess.UserID, paymentLink(pay))
	if devices.Reason(err) == devices.ReasonNotEnrolled {
		writeProblem(w, http.StatusConflict, "You have no passkey to approve with. Use another way.")
		return
	}
	if err == nil {
		err = s.putFlow(w, r, ceremonyCookie, c)
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "begin payment passkey failed", "err", err)
		writeProblem(w, http.StatusInternalServerError, "Internal error; see the server log for request "+RequestID(r.Context())+".")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(opts)
}

// finishPaymentPasskey approves the payment with a user-verified passkey
// assertion over a challenge linked to exactly these details.
func (s *Server) finishPaymentPasskey(w http.ResponseWriter, r *http.Request, sess store.Session, id, client string, pay payment) {
	if s.throttle.count(mfaKey(sess.UserID)) >= maxSecondFactorFailures || s.throttle.count(netKeyOf(clientIP(r))) >= maxFailuresPerIP {
		w.Header().Set("Retry-After", "900")
		s.renderPayment(w, r, http.StatusTooManyRequests, id, client, pay, sess.UserID, "factor.throttled")
		return
	}
	c, err := s.takeCeremony(w, r)
	var a devices.Assertion
	if err == nil {
		a, err = s.devices.FinishSecondFactor(r.Context(), c, sess.UserID, []byte(r.PostForm.Get("credential")))
		s.noteSuspect(r, err)
	}
	if err == nil && !devices.PaymentLinked(c, paymentLink(pay)) {
		err = &devices.RefusedError{Reason: "payment_not_linked", UserID: sess.UserID}
	}
	if err != nil {
		if !errors.Is(err, devices.ErrRefused) {
			s.log.ErrorContext(r.Context(), "payment passkey failed", "user_id", sess.UserID, "err", err)
		}
		if !s.secondFactorFailed(r, sess.UserID, "passkey", err) {
			return
		}
		s.renderPayment(w, r, http.StatusUnauthorized, id, client, pay, sess.UserID, "factor.passkey_failed")
		return
	}
	auth := oidcprovider.Authentication{Subject: sess.UserID, AuthTime: s.now(), AMR: withMethods(sess.AMR, append(passkeyAMR(a), "mfa")...), Session: sess.IDHash,
		Browser: s.authorizeBrowser(r)}
	if level, err := s.oidc.PaymentLevel(r.Context(), id); err == nil && level > acr.MFA {
		// The step-up stands on this passkey: a session approved in the app
		// (mca) would hide its phishing resistance, so then the approval
		// carries the passkey's own methods. Still below the level (a synced
		// passkey where phrh is wanted): the request ends, as without one.
		if acr.Of(auth.AMR) < level {
			auth.AMR = passkeyAMR(a)
		}
		if acr.Of(auth.AMR) < level {
			s.rejectPayment(w, r, id, sess.UserID, "access_denied", "step_up_required")
			return
		}
	}
	s.approvePayment(w, r, id, auth, pay, "")
}

// canReachWithPasskey reports whether the user could meet a step-up beyond
// mfa at checkout: passkeys are on and the user has one.
func (s *Server) canReachWithPasskey(r *http.Request, userID string) bool {
	if !s.devices.Passkeys() {
		return false
	}
	ov, err := s.devices.Overview(r.Context(), userID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "read factors failed", "user_id", userID, "err", err)
		return false
	}
	return ov.Passkeys > 0
}
