package authserver

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/text/language"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/risk"
	"github.com/assent-auth/assent/store"
)

// Sign-in by a link mailed to the user, and password-less sign-up.
//
// Asking for a link answers at once and the same for every address, as a
// password reset does (reset.go): the account is looked up and the mail
// queued in the background, after the answer. The answer also gives the
// browser a random nonce in an HttpOnly cookie (kept while it lasts, so
// several requests from one browser all work); the link
// (profiles.SignInLink) is bound to the nonce's hash, to the account's
// state and to a 15-minute expiry. Opening it shows a button (mail
// scanners open links; only a person presses the button); the button
// signs in only in the browser holding the nonce. A link forwarded to, or
// opened in, another browser is refused with a page that says to open it
// in the browser where it was asked for. Using it spends it, and every
// other outstanding link of the account.
//
// The sign-in counts as one factor: the session's amr is ["email"] (RFC
// 8176 has no value for a mailbox; acr.Of maps it to acr "1"). It is
// risk-assessed like a password: a challenge asks a user who has a strong
// factor for it, and the deny band refuses.
//
// Signing up with only an e-mail address creates an account with no
// password, unverified, and mails it a sign-in link: opening it verifies
// the address and signs in, and the account page then suggests adding a
// passkey. Sign-up does not sign the new account in (whoever typed the
// address has not shown they own it), and an address in use gets the same
// answer, so password-less sign-up tells nothing about which addresses
// have accounts.

const (
	signInLinkCookie = "assent_signin_link"
	// Limits per throttle window (15 minutes), like the reset's.
	maxSignInLinkMailsPerEmail  = 3
	maxSignInLinkRequestsPerNet = 20
)

// signInLinkPage is the data of the sign-in link page.
type signInLinkPage struct {
	// Sent: the request was taken (the same for every address).
	Sent bool
	// SignUp: the request came from a password-less sign-up.
	SignUp bool
	// Token is the link's token, to be confirmed with the button.
	Token string
}

func (s *Server) signInLinkRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /signin/link", s.handleSignInLinkRequest)
	mux.HandleFunc("GET /signin/link/open", s.handleSignInLinkPage)
	mux.HandleFunc("POST /signin/link/open", s.handleSignInLinkOpen)
	mux.HandleFunc("POST /signin/link/code", s.handleSignInLinkCode)
}

func (s *Server) handleSignInLinkRequest(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	p := s.newPage(w, r)
	p.ReturnTo = safeReturnTo(r.PostFormValue("return_to"))
	s.requestSignInLink(w, r, p, truncate(r.PostFormValue("email"), 254), false)
}

// browserNonce returns the browser's sign-in link nonce, issuing a new one
// when it has none. The cookie lasts as long as the newest link's code.
func (s *Server) browserNonce(w http.ResponseWriter, r *http.Request) string {
	n := s.cookie(r, signInLinkCookie)
	if len(n) != 43 {
		b := make([]byte, 32)
		rand.Read(b)
		n = base64.RawURLEncoding.EncodeToString(b)
	}
	// As long as the newest link's code may work (see profiles.SignInLink).
	s.setCookie(w, signInLinkCookie, n, 2*profiles.SignInLinkTTL+time.Minute)
	return n
}

// requestSignInLink answers a request for a sign-in link, the same for
// every address, and mails the link in the background.
func (s *Server) requestSignInLink(w http.ResponseWriter, r *http.Request, p page, email string, signUp bool) {
	netKey := "signin-link-net:" + netKeyOf(clientIP(r))
	if s.throttle.count(netKey) >= maxSignInLinkRequestsPerNet {
		s.audit(r, store.AuditEvent{Kind: "signin_link.throttled", Actor: "anonymous", Outcome: "denied"})
		w.Header().Set("Retry-After", "900")
		p.Error = p.T("signin_link.throttled")
		s.render(w, r, http.StatusTooManyRequests, "signin", p)
		return
	}
	acctKey := "signin-link-acct:" + s.throttleKey(email)
	mailIt := s.throttle.count(acctKey) < maxSignInLinkMailsPerEmail
	s.throttle.fail(netKey, acctKey)
	nonce := s.browserNonce(w, r)

	p.Data = signInLinkPage{Sent: true, SignUp: signUp}
	p.Form["email"] = email // for the code form
	s.render(w, r, http.StatusOK, "signin_link", p)
	http.NewResponseController(w).Flush()
	if !mailIt {
		return
	}
	select {
	case s.acct.sem <- struct{}{}:
		tag := s.theme.lang(r.Header.Get("Accept-Language"))
		ip, ua, returnTo := clientIP(r).String(), truncate(r.UserAgent(), 256), p.ReturnTo
		ctx := context.WithoutCancel(r.Context())
		s.acct.wg.Add(1)
		go func() {
			defer s.acct.wg.Done()
			defer func() { <-s.acct.sem }()
			time.Sleep(resetWorkDelay + time.Duration(mrand.Int64N(int64(resetWorkDelay))))
			ctx, cancel := context.WithTimeout(ctx, backgroundTimeout)
			defer cancel()
			s.mailSignInLink(ctx, tag, email, nonce, returnTo, ip, ua)
		}()
	default:
		s.log.WarnContext(r.Context(), "sign-in link dropped: too many in progress")
	}
}

// mailSignInLink finds the account and mails it a sign-in link bound to
// the browser nonce. It runs after the answer was sent.
func (s *Server) mailSignInLink(ctx context.Context, tag language.Tag, email, nonce, returnTo, ip, ua string) {
	ev := store.AuditEvent{Kind: "signin_link.requested", Actor: "anonymous", IP: ip, UserAgent: ua, Outcome: "ok"}
	defer func() { s.auditSystem(ctx, ev) }()
	ident, err := s.profiles.GetByEmail(ctx, email)
	switch {
	case errors.Is(err, profiles.ErrNotFound):
		ev.Outcome, ev.Details = "ignored", map[string]string{"reason": "unknown_user"}
		return
	case err != nil:
		ev.Outcome = "error"
		s.log.ErrorContext(ctx, "sign-in link lookup failed", "err", err)
		return
	}
	ev.Subject = ident.ID
	tok, code, err := s.profiles.SignInLink(ctx, ident.ID, nonce)
	if errors.Is(err, profiles.ErrNoSignInLink) {
		ev.Outcome, ev.Details = "ignored", map[string]string{"reason": "not_allowed"}
		return
	}
	if err == nil {
		q := url.Values{"t": {tok}}
		if returnTo != "" {
			q.Set("return_to", returnTo)
		}
		err = s.sendMail(ctx, tag, "signin_link", ident.Email, mailData{Name: ident.Name, Link: s.link("/signin/link/open?" + q.Encode()), Code: code})
	}
	if err != nil {
		ev.Outcome = "error"
		s.log.ErrorContext(ctx, "queue sign-in link mail failed", "user_id", ident.ID, "err", err)
	}
}

func (s *Server) handleSignInLinkPage(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(w, r)
	p.ReturnTo = safeReturnTo(r.URL.Query().Get("return_to"))
	tok := r.URL.Query().Get("t")
	if len(tok) > 512 {
		tok = ""
	}
	p.Data = signInLinkPage{Token: tok}
	s.render(w, r, http.StatusOK, "signin_link", p)
}

func (s *Server) handleSignInLinkOpen(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	p := s.newPage(w, r)
	p.ReturnTo = safeReturnTo(r.PostFormValue("return_to"))
	ipKey := netKeyOf(clientIP(r))
	if s.throttle.count(ipKey) >= maxFailuresPerIP {
		s.audit(r, store.AuditEvent{Kind: "signin.throttled", Actor: "anonymous", Outcome: "denied"})
		w.Header().Set("Retry-After", "60")
		p.Error = p.T("signin.throttled")
		s.render(w, r, http.StatusTooManyRequests, "signin_link", p)
		return
	}
	nonce := s.cookie(r, signInLinkCookie)
	ident, verified, err := s.profiles.UseSignInLink(r.Context(), truncate(r.PostFormValue("t"), 512), nonce)
	reason := "invalid_link"
	if nonce == "" {
		reason = "other_browser"
	}
	s.signedInByMail(w, r, p, ident, verified, err, mailAttempt{via: "email_link", reason: reason, metric: "link_invalid",
		refusal: "signin_link.invalid", fail: func() int { return s.throttle.fail(ipKey) }})
}

// mailAttempt describes a sign-in by a mailed link or its code for
// signedInByMail: via names which ("email_link", "email_code"); the rest
// is what a refusal does: the audit reason, the metric, the page's
// message, and fail, which counts the failure and returns the count the
// delay grows with.
type mailAttempt struct {
	via, reason, metric, refusal string
	fail                         func() int
}

// signedInByMail goes on from profiles' answer to a sign-in link or code:
// a refusal (ErrLinkInvalid) after the failure delay, or the sign-in the
// user's mailbox proved.
func (s *Server) signedInByMail(w http.ResponseWriter, r *http.Request, p page, ident profiles.Identity, verified bool, err error, a mailAttempt) {
	switch {
	case errors.Is(err, profiles.ErrLinkInvalid):
		n := a.fail()
		s.metrics.signins.WithLabelValues(a.metric).Inc()
		s.audit(r, store.AuditEvent{Kind: "signin.failed", Actor: "anonymous", Outcome: "failed",
			Details: map[string]string{"reason": a.reason, "via": a.via}})
		if !sleepCtx(r.Context(), delay(n, s.cfg.FailureDelay, s.cfg.MaxFailureDelay)) {
			return
		}
		p.Error = p.T(a.refusal)
		s.render(w, r, http.StatusBadRequest, "signin_link", p)
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "sign-in by mail failed", "via", a.via, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	via := a.via
	// The nonce has done its work; the next request gets a fresh one.
	s.setCookie(w, signInLinkCookie, "", -1)
	if verified {
		s.audit(r, store.AuditEvent{Kind: "email.verified", Actor: ident.ID, Subject: ident.ID, Outcome: "ok",
			Details: map[string]string{"via": "signin_link"}})
	}
	details := map[string]string{"via": via}
	if verified && !ident.HasPassword {
		// The first sign-in of a password-less sign-up: like a sign-up,
		// it is no news to mail the user about.
		details["via"], details["method"] = "signup", via
	}
	s.afterOneFactor(w, r, ident, "email", p.ReturnTo, details)
}

// maxSignInCodeFailures is how many wrong sign-in codes an address may
// get per throttle window (15 minutes) before codes for it are refused.
// With two 8-digit codes valid at a time, a guesser's chance is 1 in 10
// million per window, and each code needs a mail to the address's owner.
const maxSignInCodeFailures = 5

// handleSignInLinkCode signs in with the code of a sign-in link, typed
// into the browser that asked for it (the mail read on another device).
// It answers the same for an unknown address, a wrong code and another
// browser.
func (s *Server) handleSignInLinkCode(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	p := s.newPage(w, r)
	p.ReturnTo = safeReturnTo(r.PostFormValue("return_to"))
	email := truncate(r.PostFormValue("email"), 254)
	p.Form["email"] = email
	p.Data = signInLinkPage{Sent: true}
	ipKey, acctKey := netKeyOf(clientIP(r)), "signin-code-acct:"+s.throttleKey(email)
	if s.throttle.count(ipKey) >= maxFailuresPerIP || s.throttle.count(acctKey) >= maxSignInCodeFailures {
		s.audit(r, store.AuditEvent{Kind: "signin.throttled", Actor: "anonymous", Outcome: "denied",
			Details: map[string]string{"via": "email_code"}})
		w.Header().Set("Retry-After", "900")
		p.Error = p.T("signin.throttled")
		s.render(w, r, http.StatusTooManyRequests, "signin_link", p)
		return
	}
	nonce := s.cookie(r, signInLinkCookie)
	ident, verified, err := s.profiles.UseSignInCode(r.Context(), email, truncate(r.PostFormValue("code"), 16), nonce)
	s.signedInByMail(w, r, p, ident, verified, err, mailAttempt{via: "email_code", reason: "invalid_code", metric: "code_invalid",
		refusal: "signin_link.code_invalid", fail: func() int { return s.throttle.fail(ipKey, acctKey) }})
}

// afterOneFactor decides what follows a sign-in by one factor other than
// a password (first: "email" for a mailed link, "fed" for a linked
// upstream account), as afterPassword does for a password: the risk
// engine decides whether it is enough, a second factor is asked for, or
// the sign-in is refused.
func (s *Server) afterOneFactor(w http.ResponseWriter, r *http.Request, ident profiles.Identity, first, returnTo string, details map[string]string) {
	a := s.assess(r, s.loginEvent(r, ident.ID), ident.ID)
	riskDetails(details, a)
	// Nothing but the mailbox protects an account without factors that
	// signs in by link: suggest a passkey.
	nudge := "add_passkey"
	if first == "email" {
		nudge = "passkey_after_link"
	}
	switch {
	case a.Decision == risk.DecisionDeny:
		s.metrics.signins.WithLabelValues("denied").Inc()
		s.audit(r, store.AuditEvent{Kind: "signin.denied", Actor: "system", Subject: ident.ID, Outcome: "denied", Details: details})
		if first != "email" {
			s.renderError(w, r, http.StatusForbidden, "upstream.denied")
			return
		}
		p := s.newPage(w, r)
		p.Error = p.T("signin_link.denied")
		s.render(w, r, http.StatusForbidden, "signin_link", p)
		return
	case a.Allowed():
		amr := []string{first}
		if s.hasFactors(r, ident.ID) {
			amr = append(amr, "rba")
		} else if first == "email" {
			details["nudge"] = nudge
		}
		s.completeSignIn(w, r, ident, amr, returnTo, details)
		return
	}
	if s.beginSecondFactor(w, r, ident, first, returnTo, details) {
		return
	}
	s.challengeWithoutFactor(r, ident, a)
	details["nudge"] = "add_passkey"
	if details["via"] == "signup" {
		// A new account's first sign-in is always from a new device:
		// nothing unusual to report, only a passkey to suggest.
		details["nudge"] = nudge
	}
	s.completeSignIn(w, r, ident, []string{first}, returnTo, details)
}

// signUpWithoutPassword creates an account with only an e-mail address
// (and a name, if given), unverified and with no password, and mails it a
// sign-in link. An address already in use gets the same answer, and the
// link is mailed to its account if it may sign in by link.
func (s *Server) signUpWithoutPassword(w http.ResponseWriter, r *http.Request, p page) {
	email := truncate(r.PostFormValue("email"), 254)
	ident, err := s.profiles.Create(r.Context(), profiles.NewUser{Email: email, Name: r.PostFormValue("name")})
	var ve *profiles.ValidationError
	switch {
	case errors.As(err, &ve):
		p.Error = p.T("signup.fix_errors")
		p.FieldErrors[ve.Field] = p.T("validation." + ve.Field + "." + ve.Code)
		s.render(w, r, http.StatusBadRequest, "signup", p)
		return
	case errors.Is(err, profiles.ErrEmailTaken):
		s.audit(r, store.AuditEvent{Kind: "user.signup_existing", Actor: "anonymous", Outcome: "ignored",
			Details: map[string]string{"via": "signup_email_only"}})
	case err != nil:
		s.log.ErrorContext(r.Context(), "sign-up error", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	default:
		s.audit(r, store.AuditEvent{Kind: "user.created", Actor: ident.ID, Subject: ident.ID, Outcome: "ok",
			Details: map[string]string{"via": "signup_email_only"}})
	}
	s.requestSignInLink(w, r, p, email, true)
}
