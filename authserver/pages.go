package authserver

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/assent-auth/assent/acr"
	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/risk"
	"github.com/assent-auth/assent/store"
)

// maxFormBytes bounds every form body.
const maxFormBytes = 16 << 10

// page is the data every template gets.
type page struct {
	Lang        string
	CSRF        string
	ReturnTo    string
	Error       string
	Notice      string
	Form        map[string]string
	FieldErrors map[string]string
	User        profiles.Identity
	// Passkeys reports that passkeys are on (the sign-in page offers them).
	Passkeys bool
	// Upstreams are the "Continue with" buttons (upstream.go).
	Upstreams []upstreamButton
	// Data is the page's own data (securityPage, factorPage, totpPage).
	Data any

	// flow is the authorization request the page's forms can finish when
	// ReturnTo does not name it (form_action.go).
	flow  string
	theme *theme
	tag   language.Tag
}

// T returns the message for key in the page's language.
func (p page) T(key string) string { return p.theme.message(p.tag, key) }

func (s *Server) newPage(w http.ResponseWriter, r *http.Request) page {
	tag := s.theme.lang(r.Header.Get("Accept-Language"))
	return page{
		Lang:        tag.String(),
		CSRF:        s.csrfToken(w, r),
		Form:        map[string]string{},
		FieldErrors: map[string]string{},
		Passkeys:    s.devices.Passkeys(),
		Upstreams:   s.upstreamButtons(),
		theme:       s.theme,
		tag:         tag,
	}
}

// render executes a page template into a buffer first, so a template error
// never leaves half a page on the wire.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	var buf bytes.Buffer
	if err := s.theme.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.log.ErrorContext(r.Context(), "render page failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	s.allowFormRedirect(w, r, cmp.Or(p.flow, flowRequest(p.ReturnTo))) // form_action.go
	if name == "signin" {
		s.allowUpstreams(w)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, key string) {
	p := s.newPage(w, r)
	p.Error = p.T(key)
	s.render(w, r, status, "error", p)
}

// parseForm bounds and parses a POST form and checks its CSRF token. On
// failure it has already answered.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return false
	}
	for _, vs := range r.PostForm {
		for _, v := range vs {
			if !utf8.ValidString(v) {
				s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
				return false
			}
		}
	}
	if !s.checkCSRF(r) {
		s.renderError(w, r, http.StatusForbidden, "error.csrf")
		return false
	}
	return true
}

// safeReturnTo accepts only a local absolute path, so a return_to
// parameter cannot send the user to another site.
func safeReturnTo(v string) string {
	if v == "" || len(v) > 2048 || !strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//") ||
		strings.ContainsAny(v, "\\\r\n\t") {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || u.IsAbs() || u.Host != "" || u.User != nil {
		return ""
	}
	return v
}

func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	if _, err := s.session(r); err == nil {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

func (s *Server) handleSignInPage(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(w, r)
	p.ReturnTo = safeReturnTo(r.URL.Query().Get("return_to"))
	if l, ok := acr.Parse(r.URL.Query().Get("acr")); ok {
		p.Form["acr"] = l.String()
	}
	if r.URL.Query().Get("signed_out") == "1" {
		p.Notice = p.T("signed_out")
	}
	if r.URL.Query().Get("erased") == "1" {
		p.Notice = p.T("signin.erased")
	}
	s.render(w, r, http.StatusOK, "signin", p)
}

func (s *Server) handleSignIn(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	p := s.newPage(w, r)
	p.ReturnTo = safeReturnTo(r.PostFormValue("return_to"))
	if l, ok := acr.Parse(r.PostFormValue("acr")); ok {
		p.Form["acr"] = l.String()
	}
	email := r.PostFormValue("email")
	p.Form["email"] = truncate(email, 254)
	ipKey := netKeyOf(clientIP(r))
	acctKey := "acct:" + s.throttleKey(email)
	s.throttle.see(ipKey, acctKey)

	// A flood from one address is refused before any password is hashed.
	if s.throttle.count(ipKey) >= maxFailuresPerIP {
		s.metrics.signins.WithLabelValues("throttled").Inc()
		s.audit(r, store.AuditEvent{Kind: "signin.throttled", Actor: "anonymous", Outcome: "denied"})
		p.Error = p.T("signin.throttled")
		w.Header().Set("Retry-After", "60")
		s.render(w, r, http.StatusTooManyRequests, "signin", p)
		return
	}

	// Obviously abusive traffic (a denied network, credential stuffing) is
	// refused before any password is checked. The event names the keyed
	// hash of the e-mail, never the account, so the answer cannot tell
	// whether the account exists.
	if pre, _ := s.risk.Assess(r.Context(), s.loginEvent(r, acctKey)); pre.Decision == risk.DecisionDeny {
		s.metrics.signins.WithLabelValues("denied").Inc()
		s.audit(r, store.AuditEvent{Kind: "signin.denied", Actor: "anonymous", Outcome: "denied",
			Details: assessmentDetails(risk.Event{Kind: risk.KindLogin}, pre)})
		s.throttle.fail(ipKey, acctKey)
		p.Error = p.T("signin.failed")
		s.render(w, r, http.StatusUnauthorized, "signin", p)
		return
	}

	ident, info, err := s.profiles.Authenticate(r.Context(), email, r.PostFormValue("password"))
	var ae *profiles.AuthError
	switch {
	case errors.As(err, &ae):
		keys := []string{ipKey, acctKey}
		if ae.UserID != "" {
			keys = append(keys, userKey(ae.UserID))
		}
		n := s.throttle.fail(keys...)
		s.metrics.signins.WithLabelValues(ae.Reason).Inc()
		ev := store.AuditEvent{Kind: "signin.failed", Actor: "anonymous", Subject: ae.UserID, Outcome: "failed",
			Details: map[string]string{"reason": ae.Reason}}
		s.audit(r, ev)
		if ae.LockedNow {
			s.audit(r, store.AuditEvent{Kind: "account.locked", Actor: "system", Subject: ae.UserID, Outcome: "locked",
				Details: map[string]string{"until": ae.LockedUntil.Format(time.RFC3339), "reason": "consecutive_failures"}})
			if locked, err := s.profiles.Get(r.Context(), ae.UserID); err == nil {
				s.notify(r, locked, noticeLocked)
			}
		}
		s.log.InfoContext(r.Context(), "sign-in failed", "reason", ae.Reason, "user_id", ae.UserID, "failures", n)
		if !sleepCtx(r.Context(), delay(n, s.cfg.FailureDelay, s.cfg.MaxFailureDelay)) {
			return
		}
		p.Error = p.T("signin.failed")
		s.render(w, r, http.StatusUnauthorized, "signin", p)
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "sign-in error", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}

	s.throttle.reset(acctKey)
	details := map[string]string{}
	if info.Rehashed {
		details["password_rehashed"] = "true"
	}
	s.afterPassword(w, r, ident, p.ReturnTo, details)
}

// afterPassword decides what follows a correct password: the sign-in is
// complete, or a second factor is asked for first.
func (s *Server) afterPassword(w http.ResponseWriter, r *http.Request, ident profiles.Identity, returnTo string, details map[string]string) {
	a := s.assess(r, s.loginEvent(r, ident.ID), ident.ID)
	riskDetails(details, a)
	switch {
	case a.Decision == risk.DecisionDeny:
		// The same answer as a wrong password: a denied sign-in tells an
		// attacker nothing about why.
		s.metrics.signins.WithLabelValues("denied").Inc()
		s.audit(r, store.AuditEvent{Kind: "signin.denied", Actor: "system", Subject: ident.ID, Outcome: "denied", Details: details})
		p := s.newPage(w, r)
		p.Error = p.T("signin.failed")
		s.render(w, r, http.StatusUnauthorized, "signin", p)
		return
	case a.Allowed() && !s.stepUpRequested(r):
		// Low risk: the password is enough, even for a user who has a
		// second factor (a known device, home network, usual hour). The
		// session records the risk-based exemption as amr "rba", so a relying
		// party that needs more still gets a step-up.
		amr := []string{"pwd"}
		if s.hasFactors(r, ident.ID) {
			amr = append(amr, "rba")
		}
		s.completeSignIn(w, r, ident, amr, returnTo, details)
		return
	}
	// Challenge: a user with a strong factor is asked for it here; one
	// without goes on, with a security notice and a nudge to add a passkey.
	if s.beginSecondFactor(w, r, ident, "pwd", returnTo, details) {
		return
	}
	s.challengeWithoutFactor(r, ident, a)
	details["nudge"] = "add_passkey"
	s.completeSignIn(w, r, ident, []string{"pwd"}, returnTo, details)
}

// completeSignIn starts a fresh session for a user who has passed every
// step asked of them, records it, and sends them on. amr lists the methods
// used (RFC 8176 values).
func (s *Server) completeSignIn(w http.ResponseWriter, r *http.Request, ident profiles.Identity, amr []string, returnTo string, details map[string]string) {
	s.endSession(w, r) // never reuse a session id across a sign-in
	deviceID := s.ensureDevice(w, r)
	if err := s.startSession(w, r, ident.ID, amr); err != nil {
		s.log.ErrorContext(r.Context(), "start session failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	s.metrics.signins.WithLabelValues("ok").Inc()
	if details == nil {
		details = map[string]string{}
	}
	details["amr"] = strings.Join(amr, " ")
	s.audit(r, store.AuditEvent{Kind: "signin.succeeded", Actor: ident.ID, Subject: ident.ID, Outcome: "ok", Details: details})
	// The device becomes known after the strongest sign-in the account
	// allows: a strong one, or a password for an account with no factor.
	s.recordSignIn(r, ident.ID, deviceID, strongAMR(amr) || !s.hasFactors(r, ident.ID))
	if noticeWorthy(details) {
		s.notify(r, ident, noticeSignIn)
	}
	if returnTo == "" {
		returnTo = "/account"
		if details["nudge"] != "" {
			returnTo = "/account?nudge=" + details["nudge"]
		}
	}
	returnTo = s.askAfterSignIn(r, ident, returnTo) // progressive profiling (profiles.go)
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

// stepUpRequested reports whether the sign-in was started by a relying
// party that needs more than one factor (the acr parameter the OpenID
// Connect provider adds), so a second factor is asked for even when the
// risk is low. The parameter can only raise what is asked of the user.
func (s *Server) stepUpRequested(r *http.Request) bool {
	l, ok := acr.Parse(r.PostFormValue("acr"))
	return ok && l > acr.SingleFactor
}

// hasFactors reports whether the user has a strong factor to step up to.
// On a store error it answers true, the safer assumption.
func (s *Server) hasFactors(r *http.Request, userID string) bool {
	fs, err := s.store.ListFactors(r.Context(), userID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "list factors failed", "err", err)
		return true
	}
	return len(fs) > 0
}

// strongAMR reports whether the methods used amount to strong
// authentication: two factors, or a passkey.
func strongAMR(amr []string) bool {
	for _, m := range amr {
		if m == "mfa" || m == "hwk" || m == "swk" {
			return true
		}
	}
	return false
}

// maxFailuresPerIP is how many failures from one address within the
// throttle window make it wait before any further attempt is checked.
const maxFailuresPerIP = 100

// throttleKey keys the per-account failure count by the keyed hash of the
// normalised e-mail, so unknown and known accounts are throttled alike.
func (s *Server) throttleKey(email string) string {
	norm, err := profiles.NormalizeEmail(email)
	if err != nil {
		norm = strings.ToLower(truncate(email, 254))
	}
	return string(s.cfg.Profiles.EmailIndex(norm))
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Server) handleSignUpPage(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(w, r)
	p.ReturnTo = safeReturnTo(r.URL.Query().Get("return_to"))
	s.render(w, r, http.StatusOK, "signup", p)
}

func (s *Server) handleSignUp(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	p := s.newPage(w, r)
	p.ReturnTo = safeReturnTo(r.PostFormValue("return_to"))
	p.Form["email"] = truncate(r.PostFormValue("email"), 254)
	p.Form["name"] = truncate(r.PostFormValue("name"), 200)
	if r.PostFormValue("password") == "" {
		s.signUpWithoutPassword(w, r, p) // signinlink.go
		return
	}
	ident, err := s.profiles.Create(r.Context(), profiles.NewUser{
		Email:    r.PostFormValue("email"),
		Name:     r.PostFormValue("name"),
		Password: r.PostFormValue("password"),
	})
	var ve *profiles.ValidationError
	switch {
	case errors.As(err, &ve):
		p.Error = p.T("signup.fix_errors")
		p.FieldErrors[ve.Field] = p.T("validation." + ve.Field + "." + ve.Code)
		s.render(w, r, http.StatusBadRequest, "signup", p)
		return
	case errors.Is(err, profiles.ErrEmailTaken) && s.cfg.SignUpConfirmEmail:
		// The same answer as for a new account (the password was hashed
		// either way); the address's owner is told by mail.
		s.audit(r, store.AuditEvent{Kind: "user.signup_existing", Actor: "anonymous", Outcome: "ignored",
			Details: map[string]string{"via": "signup"}})
		// At most maxSignInLinkMailsPerEmail notices per address and
		// throttle window, so that sign-ups cannot flood a mailbox.
		key := "signup-existing:" + s.throttleKey(p.Form["email"])
		if s.throttle.count(key) < maxSignInLinkMailsPerEmail {
			s.throttle.fail(key)
			if owner, err := s.profiles.GetByEmail(r.Context(), p.Form["email"]); err == nil {
				s.notify(r, owner, noticeSignUpExisting)
			}
		}
		s.signUpCheckMail(w, r, p)
		return
	case errors.Is(err, profiles.ErrEmailTaken):
		p.Error = p.T("signup.email_taken")
		s.render(w, r, http.StatusConflict, "signup", p)
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "sign-up error", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	s.audit(r, store.AuditEvent{Kind: "user.created", Actor: ident.ID, Subject: ident.ID, Outcome: "ok",
		Details: map[string]string{"via": "signup"}})
	s.sendVerification(r, ident)
	if s.cfg.SignUpConfirmEmail {
		s.signUpCheckMail(w, r, p)
		return
	}
	// The new account is signed in on this browser, which becomes its
	// first known device.
	s.completeSignIn(w, r, ident, []string{"pwd"}, p.ReturnTo, map[string]string{"via": "signup"})
}

// signUpCheckMail is the answer to a sign-up under
// Config.SignUpConfirmEmail, the same for a new address and a registered
// one: the sign-in page, asking to confirm the address first. Nobody is
// signed in.
func (s *Server) signUpCheckMail(w http.ResponseWriter, r *http.Request, p page) {
	p.Notice = p.T("signup.check_mail")
	s.render(w, r, http.StatusOK, "signin", p)
}

func (s *Server) handleSignOut(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	if sess, ok := s.endSession(w, r); ok {
		s.endSessionTokens(r, sess) // oidc_logout.go
		s.audit(r, store.AuditEvent{Kind: "signout", Actor: sess.UserID, Subject: sess.UserID, Outcome: "ok"})
	}
	http.Redirect(w, r, "/signin?signed_out=1", http.StatusSeeOther)
}

func (s *Server) handleAccount(w http.ResponseWriter, r *http.Request) {
	sess, err := s.session(r)
	if err != nil {
		if !errors.Is(err, errNoSession) {
			s.log.ErrorContext(r.Context(), "session lookup failed", "err", err)
		}
		http.Redirect(w, r, "/signin?return_to=%2Faccount", http.StatusSeeOther)
		return
	}
	ident, err := s.profiles.Get(r.Context(), sess.UserID)
	if err != nil {
		s.endSession(w, r)
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	p := s.newPage(w, r)
	p.User = ident
	switch r.URL.Query().Get("nudge") {
	case "add_passkey":
		p.Notice = p.T("account.nudge_passkey")
	case "passkey_after_link": // signinlink.go
		p.Notice = p.T("account.nudge_passkey_link")
	}
	s.render(w, r, http.StatusOK, "account", p)
}
