package authserver

import (
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/assent-auth/assent/devices"
	"github.com/assent-auth/assent/risk"
	"github.com/assent-auth/assent/store"
)

// Passkey ceremonies over HTTP. The page's script asks POST
// /passkeys/options for the options (JSON, with the CSRF token in the
// X-CSRF-Token header), hands them to navigator.credentials, and posts the
// credential's toJSON() in a form field to the page's own action, so the
// answer is an ordinary redirect or page, like every other form here. The
// ceremony state goes in the sealed ceremony cookie and is consumed by
// the first answer, right or wrong.

// checkCSRFHeader compares the X-CSRF-Token header with the cookie in
// constant time.
func (s *Server) checkCSRFHeader(r *http.Request) bool {
	c := s.cookie(r, "assent_csrf")
	h := r.Header.Get("X-CSRF-Token")
	return len(c) == 43 && subtle.ConstantTimeCompare([]byte(c), []byte(h)) == 1
}

// passkeyOptionsRequest is the body of POST /passkeys/options.
type passkeyOptionsRequest struct {
	// Purpose is "signin" (a button), "conditional" (the sign-in page's
	// autofill), "second_factor" (after a password) or "register" (the
	// security page).
	Purpose string `json:"purpose"`
}

func (s *Server) handlePasskeyOptions(w http.ResponseWriter, r *http.Request) {
	if !s.devices.Passkeys() {
		writeProblem(w, http.StatusNotFound, "Passkeys are not available on this server.")
		return
	}
	if !s.checkCSRFHeader(r) {
		writeProblem(w, http.StatusForbidden, "The CSRF token is missing or wrong: reload the page and try again.")
		return
	}
	if s.throttle.count(netKeyOf(clientIP(r))) >= maxFailuresPerIP {
		w.Header().Set("Retry-After", "60")
		writeProblem(w, http.StatusTooManyRequests, "Too many attempts from your network. Wait a moment and try again.")
		return
	}
	var req passkeyOptionsRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	ctx := r.Context()
	var (
		opts []byte
		c    devices.Ceremony
		err  error
	)
	switch req.Purpose {
	case "signin", "conditional":
		opts, c, err = s.devices.BeginSignIn(ctx, req.Purpose == "conditional")
	case "second_factor":
		var p pendingSignIn
		if _, ferr := s.readFlow(r, pendingCookie, &p); ferr != nil {
			writeProblem(w, http.StatusUnauthorized, "The sign-in has expired. Start again with your password.")
			return
		}
		opts, c, err = s.devices.BeginSecondFactor(ctx, p.UserID)
		if devices.Reason(err) == devices.ReasonNotEnrolled {
			writeProblem(w, http.StatusConflict, "You have no passkey to sign in with. Use another way.")
			return
		}
	case "register":
		sess, serr := s.session(r)
		if serr != nil {
			writeProblem(w, http.StatusUnauthorized, "Sign in first.")
			return
		}
		ident, gerr := s.profiles.Get(ctx, sess.UserID)
		if gerr != nil {
			writeProblem(w, http.StatusUnauthorized, "Sign in first.")
			return
		}
		opts, c, err = s.devices.BeginRegistration(ctx, devices.PasskeyUser{ID: ident.ID, Name: ident.Email, DisplayName: ident.Name})
	default:
		writeProblem(w, http.StatusBadRequest, "Invalid request.",
			FieldError{Field: "purpose", Code: "invalid", Detail: "must be signin, conditional, second_factor or register"})
		return
	}
	if err == nil {
		err = s.putFlow(w, r, ceremonyCookie, c)
	}
	if err != nil {
		s.log.ErrorContext(ctx, "begin passkey ceremony failed", "purpose", req.Purpose, "err", err)
		writeProblem(w, http.StatusInternalServerError, "Internal error; see the server log for request "+RequestID(ctx)+".")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(opts)
}

// takeCeremony consumes the request's ceremony state. A missing, expired,
// reused or foreign state comes back as a refusal with its reason.
func (s *Server) takeCeremony(w http.ResponseWriter, r *http.Request) (devices.Ceremony, error) {
	var c devices.Ceremony
	err := s.takeFlow(w, r, ceremonyCookie, &c)
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, errFlowExpired):
		return c, &devices.RefusedError{Reason: devices.ReasonExpired}
	case errors.Is(err, errFlowSpent):
		return c, &devices.RefusedError{Reason: "challenge_reused"}
	}
	return c, &devices.RefusedError{Reason: "no_ceremony"}
}

// handlePasskeySignIn signs in with a passkey alone: the usernameless
// button and the autofill of the sign-in page.
func (s *Server) handlePasskeySignIn(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	ipKey := netKeyOf(clientIP(r))
	returnTo := safeReturnTo(r.PostFormValue("return_to"))
	fail := func(err error) {
		if !errors.Is(err, devices.ErrRefused) {
			s.log.ErrorContext(r.Context(), "passkey sign-in failed", "err", err)
		}
		keys := []string{ipKey}
		var re *devices.RefusedError
		subject := ""
		if errors.As(err, &re) && re.UserID != "" {
			subject = re.UserID
			keys = append(keys, userKey(re.UserID))
		}
		n := s.throttle.fail(keys...)
		s.metrics.signins.WithLabelValues("passkey_" + devices.Reason(err)).Inc()
		s.audit(r, store.AuditEvent{Kind: "signin.failed", Actor: "anonymous", Subject: subject, Outcome: "failed",
			Details: refusalDetails(err, map[string]string{"method": "passkey"})})
		s.log.InfoContext(r.Context(), "passkey sign-in refused", "reason", devices.Reason(err), "user_id", subject, "failures", n)
		if !sleepCtx(r.Context(), delay(n, s.cfg.FailureDelay, s.cfg.MaxFailureDelay)) {
			return
		}
		p := s.newPage(w, r)
		p.ReturnTo = returnTo
		p.Error = p.T("signin.passkey_failed")
		s.render(w, r, http.StatusUnauthorized, "signin", p)
	}
	if s.throttle.count(ipKey) >= maxFailuresPerIP {
		s.metrics.signins.WithLabelValues("throttled").Inc()
		s.audit(r, store.AuditEvent{Kind: "signin.throttled", Actor: "anonymous", Outcome: "denied", Details: map[string]string{"method": "passkey"}})
		p := s.newPage(w, r)
		p.Error = p.T("signin.throttled")
		w.Header().Set("Retry-After", "60")
		s.render(w, r, http.StatusTooManyRequests, "signin", p)
		return
	}
	c, err := s.takeCeremony(w, r)
	if err != nil {
		fail(err)
		return
	}
	a, err := s.devices.FinishSignIn(r.Context(), c, []byte(r.PostFormValue("credential")))
	if err != nil {
		s.noteSuspect(r, err)
		fail(err)
		return
	}
	ident, ok := s.signInIdentity(w, r, a.UserID, "signin")
	if !ok {
		return
	}
	details := map[string]string{"method": "passkey", "factor_id": a.FactorID}
	// A user-verified passkey is a complete, phishing-resistant sign-in, so
	// a challenge is already met; the engine still sees every sign-in, and
	// the deny band still refuses.
	ra := s.assess(r, s.loginEvent(r, ident.ID), ident.ID)
	riskDetails(details, ra)
	if ra.Decision == risk.DecisionDeny {
		s.metrics.signins.WithLabelValues("denied").Inc()
		s.audit(r, store.AuditEvent{Kind: "signin.denied", Actor: "system", Subject: ident.ID, Outcome: "denied", Details: details})
		p := s.newPage(w, r)
		p.Error = p.T("signin.passkey_failed")
		s.render(w, r, http.StatusUnauthorized, "signin", p)
		return
	}
	s.completeSignIn(w, r, ident, passkeyAMR(a), returnTo, details)
}

// handleFactorPasskey takes a passkey as the second factor after a password.
func (s *Server) handleFactorPasskey(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	p, nonce, ok := s.pending(w, r)
	if !ok || s.secondFactorThrottled(w, r, p) {
		return
	}
	c, err := s.takeCeremony(w, r)
	var a devices.Assertion
	if err == nil {
		a, err = s.devices.FinishSecondFactor(r.Context(), c, p.UserID, []byte(r.PostFormValue("credential")))
		s.noteSuspect(r, err)
	}
	if err != nil {
		if !errors.Is(err, devices.ErrRefused) {
			s.log.ErrorContext(r.Context(), "passkey second factor failed", "user_id", p.UserID, "err", err)
		}
		if !s.secondFactorFailed(r, p.UserID, "passkey", err) {
			return
		}
		s.renderFactorPage(w, r, http.StatusUnauthorized, p, "factor.passkey_failed")
		return
	}
	s.finishSecondFactor(w, r, p, nonce, passkeyAMR(a), map[string]string{"second_factor": "passkey", "factor_id": a.FactorID}, p.ReturnTo)
}

// noteSuspect records in the audit log that a passkey was just marked
// suspect because its sign counter went backwards.
func (s *Server) noteSuspect(r *http.Request, err error) {
	var re *devices.RefusedError
	if errors.As(err, &re) && re.Reason == devices.ReasonCounterRegression {
		s.audit(r, store.AuditEvent{Kind: "factor.suspect", Actor: "system", Subject: re.UserID, Outcome: "flagged",
			Details: map[string]string{"kind": store.FactorPasskey, "reason": re.Reason}})
	}
}
