package authserver

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/assent-auth/assent/acr"
	"github.com/assent-auth/assent/devices"
	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/risk"
	"github.com/assent-auth/assent/store"
)

// PasskeyConfig sets the WebAuthn relying party.
type PasskeyConfig struct {
	// RPID is the relying party id: the issuer's host name by default, or
	// a registrable suffix of it (login.example.com may use example.com).
	// Browsers refuse IP addresses: with an IP issuer and no RPID,
	// passkeys are off and TOTP and recovery codes remain.
	RPID string
	// Origins are the origins ceremonies may run on; by default the
	// issuer's own.
	Origins []string
}

// flows holds the key that seals flow cookies and the spent nonces.
type flows struct {
	aead  cipher.AEAD
	spent *spentSet
}

// maxSecondFactorFailures is how many wrong second factors a user may give
// within the throttle window before further tries are refused (PSD2 RTS
// art. 4 allows at most five).
const maxSecondFactorFailures = 5

// freshAuth is how recent a strong sign-in must be to remove the last
// strong factor.
const freshAuth = 10 * time.Minute

func (s *Server) initFactors() error {
	pc := s.cfg.Passkeys
	if pc.RPID == "" && net.ParseIP(s.issuer.Hostname()) == nil {
		pc.RPID = s.issuer.Hostname()
	}
	if pc.RPID != "" && len(pc.Origins) == 0 {
		pc.Origins = []string{s.issuer.Scheme + "://" + s.issuer.Host}
	}
	if pc.RPID == "" {
		s.log.Warn("passkeys are off: the issuer is an IP address; set a domain name issuer or a passkey RP ID", "issuer", s.issuer.String())
	}
	seeds, err := s.cfg.Keys.AEAD("totp seeds v1")
	if err != nil {
		return err
	}
	state, err := s.cfg.Keys.AEAD("flow state v1")
	if err != nil {
		return err
	}
	s.devices, err = devices.New(devices.Config{
		Store:   s.store,
		Seeds:   seeds,
		RPID:    pc.RPID,
		RPName:  s.theme.message(language.English, "product.name"),
		Origins: pc.Origins,
		Now:     s.now,
	})
	if err != nil {
		return fmt.Errorf("passkeys: %w", err)
	}
	s.flows = &flows{aead: state, spent: newSpentSet(s.now)}
	return nil
}

func (s *Server) factorRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /passkeys/options", s.handlePasskeyOptions)
	mux.HandleFunc("POST /signin/passkey", s.handlePasskeySignIn)
	mux.HandleFunc("GET /signin/factor", s.handleFactorPage)
	mux.HandleFunc("POST /signin/factor/passkey", s.handleFactorPasskey)
	mux.HandleFunc("POST /signin/factor/totp", s.handleFactorTOTP)
	mux.HandleFunc("POST /signin/factor/recovery", s.handleFactorRecovery)
	mux.HandleFunc("GET /security", s.handleSecurity)
	mux.HandleFunc("POST /security/passkeys", s.handleAddPasskey)
	mux.HandleFunc("POST /security/factors/{id}/rename", s.handleRenameFactor)
	mux.HandleFunc("POST /security/factors/{id}/remove", s.handleRemoveFactor)
	mux.HandleFunc("POST /security/totp", s.handleBeginTOTP)
	mux.HandleFunc("GET /security/totp", s.handleTOTPPage)
	mux.HandleFunc("POST /security/totp/confirm", s.handleConfirmTOTP)
	mux.HandleFunc("POST /security/recovery", s.handleRegenerateRecovery)
	mux.HandleFunc("POST /security/user-code", s.handleUserCode) // security.go
}

// pendingSignIn is a sign-in whose password was right, waiting for the
// second factor. It travels sealed in the pending flow cookie.
type pendingSignIn struct {
	UserID   string            `json:"user_id"`
	ReturnTo string            `json:"return_to,omitempty"`
	AMR      []string          `json:"amr"`
	Details  map[string]string `json:"details,omitempty"`
	// Offer lists the methods the risk engine (or the relying party's
	// acr) asks for, preferred first; empty offers every method.
	Offer []string `json:"offer,omitempty"`
}

// beginSecondFactor asks a user who passed the password for one of their
// strong factors: it stores the pending sign-in and sends the browser to
// the second-factor page. It returns false, having written nothing, when
// the user has no strong factor. It returns true whenever it has answered,
// an internal error included: a sign-in never goes ahead on the password
// alone because the factors could not be read.
//
// first is the amr of the factor already passed: "pwd" for a password,
// "email" for a mailed sign-in link.
func (s *Server) beginSecondFactor(w http.ResponseWriter, r *http.Request, ident profiles.Identity, first, returnTo string, details map[string]string) bool {
	ov, err := s.devices.Overview(r.Context(), ident.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "read factors failed", "user_id", ident.ID, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return true
	}
	if !ov.HasStrong {
		return false
	}
	p := pendingSignIn{UserID: ident.ID, ReturnTo: returnTo, AMR: []string{first}, Details: details, Offer: offerOf(r, details)}
	if err := s.putFlow(w, r, pendingCookie, p); err != nil {
		s.log.ErrorContext(r.Context(), "store pending sign-in failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return true
	}
	s.metrics.signins.WithLabelValues("second_factor_required").Inc()
	s.audit(r, store.AuditEvent{Kind: "signin.second_factor_required", Actor: ident.ID, Subject: ident.ID, Outcome: "challenged",
		Details: map[string]string{"first": first, "passkeys": strconv.Itoa(ov.Passkeys), "totp": strconv.FormatBool(ov.TOTP), "recovery_codes": strconv.Itoa(ov.Recovery)}})
	http.Redirect(w, r, "/signin/factor", http.StatusSeeOther)
	return true
}

// factorPage is the second-factor page's data.
type factorPage struct {
	// App: the user has an app device to approve in.
	App      bool
	Passkey  bool
	TOTP     bool
	Recovery bool
	// Order lists the methods to show ("push", "passkey", "totp"),
	// preferred first.
	Order []string
}

// defaultOrder is the order of methods when nothing prefers another.
var defaultOrder = []string{risk.MethodPush, risk.MethodPasskey, risk.MethodTOTP}

// offerOf is the methods a second factor may use for this sign-in: those
// the risk engine named for a challenge, narrowed to passkeys when the
// relying party asks for phishing resistance.
func offerOf(r *http.Request, details map[string]string) []string {
	offer := strings.Fields(details["methods"])
	if l, ok := acr.Parse(r.PostFormValue("acr")); ok && l >= acr.PhishingResistant {
		offer = []string{risk.MethodPasskey}
	}
	return offer
}

// methodOrder returns the methods to show the user, preferred first. When
// the user has one of the methods the sign-in offers, only those are
// shown (and accepted): a phished password and a relayed code do not
// stand in for the passkey the engine asked for. A user with none of them
// is shown what they have; the session's acr says truthfully what it was.
func (s *Server) methodOrder(p pendingSignIn, ov devices.Overview) []string {
	usable := func(m string) bool {
		switch m {
		case risk.MethodPush:
			return ov.AppDevices > 0
		case risk.MethodPasskey:
			return ov.Passkeys > 0 && s.devices.Passkeys()
		case risk.MethodTOTP:
			return ov.TOTP
		}
		return false
	}
	var out []string
	for _, m := range p.Offer {
		if usable(m) && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, m := range defaultOrder {
		if usable(m) {
			out = append(out, m)
		}
	}
	return out
}

// methodRefused answers with the factor page when the pending sign-in
// does not offer method m; it has answered when it returns true.
func (s *Server) methodRefused(w http.ResponseWriter, r *http.Request, p pendingSignIn, m string) bool {
	ov, err := s.devices.Overview(r.Context(), p.UserID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "read factors failed", "user_id", p.UserID, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return true
	}
	if slices.Contains(s.methodOrder(p, ov), m) {
		return false
	}
	s.audit(r, store.AuditEvent{Kind: "signin.method_refused", Actor: p.UserID, Subject: p.UserID, Outcome: "denied",
		Details: map[string]string{"method": m, "offer": strings.Join(p.Offer, " ")}})
	s.renderFactorPage(w, r, http.StatusForbidden, p, "factor.method_not_offered")
	return true
}

// pending returns the request's pending sign-in, or answers with the
// sign-in page when there is none (expired, used, or from another browser).
func (s *Server) pending(w http.ResponseWriter, r *http.Request) (pendingSignIn, string, bool) {
	var p pendingSignIn
	nonce, err := s.readFlow(r, pendingCookie, &p)
	if err != nil {
		s.setCookie(w, pendingCookie, "", -1)
		pg := s.newPage(w, r)
		pg.Error = pg.T("factor.expired")
		s.render(w, r, http.StatusUnauthorized, "signin", pg)
		return p, "", false
	}
	return p, nonce, true
}

func (s *Server) handleFactorPage(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.pending(w, r)
	if !ok {
		return
	}
	s.renderFactorPage(w, r, http.StatusOK, p, "")
}

func (s *Server) renderFactorPage(w http.ResponseWriter, r *http.Request, status int, p pendingSignIn, errKey string) {
	ov, err := s.devices.Overview(r.Context(), p.UserID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "read factors failed", "user_id", p.UserID, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	pg := s.newPage(w, r)
	if errKey != "" {
		pg.Error = pg.T(errKey)
	}
	order := s.methodOrder(p, ov)
	pg.Data = factorPage{App: slices.Contains(order, risk.MethodPush), Passkey: slices.Contains(order, risk.MethodPasskey),
		TOTP: slices.Contains(order, risk.MethodTOTP), Recovery: ov.Recovery > 0, Order: order}
	pg.flow = flowRequest(p.ReturnTo) // form_action.go
	s.render(w, r, status, "factor", pg)
}

// secondFactorThrottled refuses a second-factor attempt when the user or
// the network has failed too often; it has answered when it returns true.
func (s *Server) secondFactorThrottled(w http.ResponseWriter, r *http.Request, p pendingSignIn) bool {
	if s.throttle.count(mfaKey(p.UserID)) < maxSecondFactorFailures && s.throttle.count(netKeyOf(clientIP(r))) < maxFailuresPerIP {
		return false
	}
	s.metrics.signins.WithLabelValues("throttled").Inc()
	s.audit(r, store.AuditEvent{Kind: "signin.throttled", Actor: "anonymous", Subject: p.UserID, Outcome: "denied",
		Details: map[string]string{"step": "second_factor"}})
	w.Header().Set("Retry-After", "900")
	s.renderFactorPage(w, r, http.StatusTooManyRequests, p, "factor.throttled")
	return true
}

func mfaKey(userID string) string { return "mfa:" + userID }

// secondFactorFailed records a refused second factor (audit, metrics, the
// brute-force counters) and waits the failure delay. It reports false if
// the client went away meanwhile.
func (s *Server) secondFactorFailed(r *http.Request, userID, method string, err error) bool {
	reason := devices.Reason(err)
	if reason == "" {
		reason = "error"
	}
	n := s.throttle.fail(netKeyOf(clientIP(r)), userKey(userID), mfaKey(userID))
	s.metrics.signins.WithLabelValues(method + "_" + reason).Inc()
	s.audit(r, store.AuditEvent{Kind: "signin.failed", Actor: "anonymous", Subject: userID, Outcome: "failed",
		Details: refusalDetails(err, map[string]string{"step": "second_factor", "method": method})})
	s.log.InfoContext(r.Context(), "second factor refused", "method", method, "reason", reason, "user_id", userID, "failures", n)
	return sleepCtx(r.Context(), delay(n, s.cfg.FailureDelay, s.cfg.MaxFailureDelay))
}

// refusalDetails adds a refusal's reason (and the WebAuthn library's fixed
// description of the failed check) to audit details.
func refusalDetails(err error, d map[string]string) map[string]string {
	var re *devices.RefusedError
	if errors.As(err, &re) {
		d["reason"] = re.Reason
		if re.Detail != "" {
			d["detail"] = re.Detail
		}
	} else {
		d["reason"] = "internal_error"
	}
	return d
}

// finishSecondFactor consumes the pending sign-in and completes it with the
// methods used.
func (s *Server) finishSecondFactor(w http.ResponseWriter, r *http.Request, p pendingSignIn, nonce string, methods []string, details map[string]string, returnTo string) {
	if !s.consumeFlow(w, pendingCookie, nonce) {
		pg := s.newPage(w, r)
		pg.Error = pg.T("factor.expired")
		s.render(w, r, http.StatusUnauthorized, "signin", pg)
		return
	}
	ident, ok := s.signInIdentity(w, r, p.UserID, "signin")
	if !ok {
		return
	}
	s.throttle.reset(mfaKey(p.UserID))
	amr := append(slices.Clone(p.AMR), methods...)
	amr = append(amr, "mfa")
	if p.Details == nil {
		p.Details = map[string]string{}
	}
	for k, v := range details {
		p.Details[k] = v
	}
	s.completeSignIn(w, r, ident, amr, returnTo, p.Details)
}

// signInIdentity loads the user a second factor or passkey is signing in,
// refusing a locked account the way a wrong password is refused.
func (s *Server) signInIdentity(w http.ResponseWriter, r *http.Request, userID, page string) (profiles.Identity, bool) {
	ident, err := s.profiles.Get(r.Context(), userID)
	if err == nil && !ident.Locked && !ident.TemporarilyLocked(s.now()) {
		return ident, true
	}
	if err != nil && !errors.Is(err, profiles.ErrNotFound) {
		s.log.ErrorContext(r.Context(), "load user failed", "user_id", userID, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return ident, false
	}
	reason := profiles.ReasonUnknownUser
	if err == nil {
		reason = profiles.ReasonLocked
		if !ident.Locked {
			reason = profiles.ReasonTemporarilyLocked
		}
	}
	s.metrics.signins.WithLabelValues(reason).Inc()
	s.audit(r, store.AuditEvent{Kind: "signin.failed", Actor: "anonymous", Subject: userID, Outcome: "failed",
		Details: map[string]string{"reason": reason}})
	pg := s.newPage(w, r)
	pg.Error = pg.T("signin.failed")
	s.render(w, r, http.StatusUnauthorized, page, pg)
	return ident, false
}

// passkeyAMR lists the methods a passkey assertion proves (RFC 8176): hwk
// for a device-bound key, swk for a synced one, and user when the
// authenticator verified the person. Whether that was a PIN or a biometric
// is not known, so neither pin nor fpt is claimed.
func passkeyAMR(a devices.Assertion) []string {
	amr := []string{"hwk"}
	if a.Synced {
		amr = []string{"swk"}
	}
	if a.UserVerified {
		amr = append(amr, "user")
	}
	return amr
}

func (s *Server) handleFactorTOTP(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	p, nonce, ok := s.pending(w, r)
	if !ok || s.secondFactorThrottled(w, r, p) || s.methodRefused(w, r, p, risk.MethodTOTP) {
		return
	}
	err := s.devices.VerifyTOTP(r.Context(), p.UserID, r.PostFormValue("code"))
	if err != nil {
		if !errors.Is(err, devices.ErrRefused) {
			s.log.ErrorContext(r.Context(), "verify TOTP failed", "user_id", p.UserID, "err", err)
		}
		if !s.secondFactorFailed(r, p.UserID, "totp", err) {
			return
		}
		key := "factor.totp_invalid"
		if devices.Reason(err) == devices.ReasonReplayed {
			key = "factor.totp_replayed"
		}
		s.renderFactorPage(w, r, http.StatusUnauthorized, p, key)
		return
	}
	s.finishSecondFactor(w, r, p, nonce, []string{"otp"}, map[string]string{"second_factor": "totp"}, p.ReturnTo)
}

func (s *Server) handleFactorRecovery(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	p, nonce, ok := s.pending(w, r)
	if !ok || s.secondFactorThrottled(w, r, p) {
		return
	}
	left, err := s.devices.UseRecoveryCode(r.Context(), p.UserID, r.PostFormValue("code"))
	if err != nil {
		if !errors.Is(err, devices.ErrRefused) {
			s.log.ErrorContext(r.Context(), "use recovery code failed", "user_id", p.UserID, "err", err)
		}
		if !s.secondFactorFailed(r, p.UserID, "recovery_code", err) {
			return
		}
		s.renderFactorPage(w, r, http.StatusUnauthorized, p, "factor.recovery_invalid")
		return
	}
	s.factorAudit(r, "recovery_code.used", p.UserID,
		map[string]string{"remaining": strconv.Itoa(left)})
	// RFC 8176 has no value for a recovery code; the audit event names it.
	to := p.ReturnTo
	if to == "" {
		to = "/security?recovery_left=" + strconv.Itoa(left)
	}
	s.finishSecondFactor(w, r, p, nonce, nil, map[string]string{"second_factor": "recovery_code"}, to)
}

// freshStrong reports whether the session came from a strong sign-in
// within freshAuth: what removing the last strong factor asks for.
func (s *Server) freshStrong(sess store.Session) bool {
	if s.now().Sub(sess.AuthTime) > freshAuth {
		return false
	}
	for _, m := range sess.AMR {
		switch m {
		case "mfa", "hwk", "swk":
			return true
		}
	}
	return false
}
