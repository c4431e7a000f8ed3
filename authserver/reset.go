package authserver

import (
	"context"
	"errors"
	mrand "math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/assent-auth/assent/devices"
	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/risk"
	"github.com/assent-auth/assent/store"
)

// Password reset. Asking for a reset answers the same, at once, whatever
// the address: finding the account and queueing the mail happen after the
// answer, in the background, so neither the page nor its timing tells
// whether the account exists. The link (profiles.ResetLink) expires in 15
// minutes and is bound to the current password, so it works once. A user
// with a strong factor must also pass one: a reset never lowers the
// account's assurance. Afterwards every session of the user ends and the
// user is told by mail.

// resetPage is the data of the reset pages.
type resetPage struct {
	Token string
	// Sent: the request was taken (the same for every address).
	Sent bool
	// Done: the password was changed.
	Done bool
	// TOTP and Recovery: the second factors this form accepts.
	TOTP     bool
	Recovery bool
	// PasskeyOnly: the account's only strong factors are passkeys.
	PasskeyOnly bool
}

func (s *Server) handleResetPage(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(w, r)
	p.Data = resetPage{}
	s.render(w, r, http.StatusOK, "reset", p)
}

func (s *Server) handleResetRequest(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	p := s.newPage(w, r)
	email := truncate(r.PostFormValue("email"), 254)
	netKey := "reset-net:" + netKeyOf(clientIP(r))
	if s.throttle.count(netKey) >= maxResetRequestsPerNet {
		// Limited per network, whatever the address: this tells nothing
		// about any account.
		s.audit(r, store.AuditEvent{Kind: "password_reset.throttled", Actor: "anonymous", Outcome: "denied"})
		w.Header().Set("Retry-After", "900")
		p.Error = p.T("reset.throttled")
		p.Data = resetPage{}
		s.render(w, r, http.StatusTooManyRequests, "reset", p)
		return
	}
	acctKey := "reset-acct:" + s.throttleKey(email)
	mailIt := s.throttle.count(acctKey) < maxResetMailsPerEmail
	s.throttle.fail(netKey, acctKey)

	// The answer goes out first, the same for every address; only then
	// does the work that depends on the account begin.
	p.Data = resetPage{Sent: true}
	s.render(w, r, http.StatusOK, "reset", p)
	http.NewResponseController(w).Flush()
	if mailIt {
		select {
		case s.acct.sem <- struct{}{}:
			tag := s.theme.lang(r.Header.Get("Accept-Language"))
			ip, ua := clientIP(r).String(), truncate(r.UserAgent(), 256)
			ctx := context.WithoutCancel(r.Context())
			s.acct.wg.Add(1)
			go func() {
				defer s.acct.wg.Done()
				defer func() { <-s.acct.sem }()
				// Begin once the answer is surely out, so the work for an
				// existing account cannot slow the answer it follows.
				time.Sleep(resetWorkDelay + time.Duration(mrand.Int64N(int64(resetWorkDelay))))
				ctx, cancel := context.WithTimeout(ctx, backgroundTimeout)
				defer cancel()
				s.mailReset(ctx, tag, email, ip, ua)
			}()
		default:
			s.log.WarnContext(r.Context(), "password reset dropped: too many in progress")
		}
	}
}

// mailReset finds the account and mails it a reset link. It runs after the
// answer was sent.
func (s *Server) mailReset(ctx context.Context, tag language.Tag, email, ip, ua string) {
	ev := store.AuditEvent{Kind: "password_reset.requested", Actor: "anonymous", IP: ip, UserAgent: ua, Outcome: "ok"}
	defer func() { s.auditSystem(ctx, ev) }()
	ident, err := s.profiles.GetByEmail(ctx, email)
	switch {
	case errors.Is(err, profiles.ErrNotFound):
		ev.Outcome, ev.Details = "ignored", map[string]string{"reason": "unknown_user"}
		return
	case err != nil:
		ev.Outcome = "error"
		s.log.ErrorContext(ctx, "password reset lookup failed", "err", err)
		return
	case ident.Locked:
		ev.Subject, ev.Outcome, ev.Details = ident.ID, "ignored", map[string]string{"reason": "locked"}
		return
	}
	ev.Subject = ident.ID
	tok, err := s.profiles.ResetLink(ctx, ident.ID)
	if err == nil {
		err = s.sendMail(ctx, tag, "reset", ident.Email, mailData{Name: ident.Name, Link: s.link("/reset/password?t=" + tok)})
	}
	if err != nil {
		ev.Outcome = "error"
		s.log.ErrorContext(ctx, "queue password reset mail failed", "user_id", ident.ID, "err", err)
	}
}

// resetForm checks the link of a reset page or form and returns its user
// and the factors the form must ask for. On failure it has answered.
func (s *Server) resetForm(w http.ResponseWriter, r *http.Request, token string) (profiles.Identity, resetPage, bool) {
	ident, err := s.profiles.CheckResetLink(r.Context(), token)
	if err != nil {
		if !errors.Is(err, profiles.ErrLinkInvalid) {
			s.log.ErrorContext(r.Context(), "check reset link failed", "err", err)
			s.renderError(w, r, http.StatusInternalServerError, "error.internal")
			return ident, resetPage{}, false
		}
		s.audit(r, store.AuditEvent{Kind: "password_reset.failed", Actor: "anonymous", Outcome: "failed",
			Details: map[string]string{"reason": "invalid_link"}})
		s.renderError(w, r, http.StatusBadRequest, "reset.invalid")
		return ident, resetPage{}, false
	}
	ov, err := s.devices.Overview(r.Context(), ident.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "read factors failed", "user_id", ident.ID, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return ident, resetPage{}, false
	}
	rp := resetPage{Token: token, TOTP: ov.TOTP, Recovery: ov.Recovery > 0}
	rp.PasskeyOnly = ov.HasStrong && !rp.TOTP && !rp.Recovery
	return ident, rp, true
}

func (s *Server) handleResetPasswordPage(w http.ResponseWriter, r *http.Request) {
	_, rp, ok := s.resetForm(w, r, r.URL.Query().Get("t"))
	if !ok {
		return
	}
	p := s.newPage(w, r)
	p.Data = rp
	s.render(w, r, http.StatusOK, "reset_password", p)
}

// resetWorkDelay is the least wait between answering a reset request and
// working on it; up to as much again is added at random.
const resetWorkDelay = 50 * time.Millisecond

var totpLike = regexp.MustCompile(`^[0-9]{6,8}$`)

func (s *Server) handleResetPassword(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	ident, rp, ok := s.resetForm(w, r, r.PostFormValue("t"))
	if !ok {
		return
	}
	p := s.newPage(w, r)
	p.Data = rp
	fail := func(status int, key string) {
		p.Error = p.T(key)
		s.render(w, r, status, "reset_password", p)
	}
	if rp.PasskeyOnly {
		fail(http.StatusForbidden, "reset.passkey_only")
		return
	}
	password := r.PostFormValue("password")
	if err := profiles.CheckPassword(password); err != nil {
		var pe *profiles.PolicyError
		if errors.As(err, &pe) {
			p.FieldErrors["password"] = p.T("validation.password." + pe.Code)
		}
		fail(http.StatusBadRequest, "signup.fix_errors")
		return
	}

	// The risk engine sees every recovery. Recovery always weighs extra in
	// the policy; the second factor is asked for whenever the account has
	// one (below), and the deny band refuses outright, except after the
	// user's own "this wasn't me": a reset is the way back the report
	// promised, and it comes through the user's mailbox (a deny-listed
	// network is refused all the same).
	ev := s.loginEvent(r, ident.ID)
	ev.Kind = risk.KindRecovery
	if a := s.assess(r, ev, ident.ID); a.Decision == risk.DecisionDeny && (!a.Has(risk.CodeReportedNotMe) || a.Has(risk.CodeIPDenylisted)) {
		s.audit(r, store.AuditEvent{Kind: "password_reset.denied", Actor: "anonymous", Subject: ident.ID, Outcome: "denied",
			Details: map[string]string{"risk_score": strconv.Itoa(a.Score)}})
		fail(http.StatusForbidden, "reset.denied")
		return
	}

	methods := []string{"email"}
	if rp.TOTP || rp.Recovery {
		if s.throttle.count(mfaKey(ident.ID)) >= maxSecondFactorFailures || s.throttle.count(netKeyOf(clientIP(r))) >= maxFailuresPerIP {
			s.audit(r, store.AuditEvent{Kind: "password_reset.throttled", Actor: "anonymous", Subject: ident.ID, Outcome: "denied",
				Details: map[string]string{"step": "second_factor"}})
			w.Header().Set("Retry-After", "900")
			fail(http.StatusTooManyRequests, "factor.throttled")
			return
		}
		code := truncate(r.PostFormValue("code"), 64)
		method := "recovery_code"
		var err error
		if rp.TOTP && totpLike.MatchString(code) {
			method = "totp"
			err = s.devices.VerifyTOTP(r.Context(), ident.ID, code)
		} else if rp.Recovery {
			var left int
			if left, err = s.devices.UseRecoveryCode(r.Context(), ident.ID, code); err == nil {
				s.factorAudit(r, "recovery_code.used", ident.ID,
					map[string]string{"step": "password_reset", "remaining": strconv.Itoa(left)})
			}
		} else {
			err = devices.ErrRefused
		}
		if err != nil {
			if !errors.Is(err, devices.ErrRefused) {
				s.log.ErrorContext(r.Context(), "second factor check failed", "user_id", ident.ID, "err", err)
			}
			if !s.secondFactorFailed(r, ident.ID, method, err) {
				return
			}
			fail(http.StatusUnauthorized, "reset.factor_invalid")
			return
		}
		s.throttle.reset(mfaKey(ident.ID))
		methods = append(methods, method)
	}

	ident, err := s.profiles.ResetPassword(r.Context(), rp.Token, password)
	switch {
	case errors.Is(err, profiles.ErrLinkInvalid):
		s.renderError(w, r, http.StatusBadRequest, "reset.invalid")
		return
	case err != nil:
		var ve *profiles.ValidationError
		if errors.As(err, &ve) {
			fail(http.StatusBadRequest, "signup.fix_errors")
			return
		}
		s.log.ErrorContext(r.Context(), "password reset failed", "user_id", ident.ID, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	ended, revoked, err := s.profiles.SignOutEverywhere(r.Context(), ident.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "sign out everywhere after reset failed", "user_id", ident.ID, "err", err)
	}
	s.endSession(w, r)
	s.throttle.reset(userKey(ident.ID))
	s.audit(r, store.AuditEvent{Kind: "password_reset.completed", Actor: ident.ID, Subject: ident.ID, Outcome: "ok",
		Details: map[string]string{"methods": strings.Join(methods, " "), "sessions_ended": strconv.Itoa(ended), "refresh_tokens_revoked": strconv.Itoa(revoked)}})
	tag := s.theme.lang(r.Header.Get("Accept-Language"))
	if err := s.sendMail(r.Context(), tag, "reset_done", ident.Email, mailData{Name: ident.Name, Link: s.link("/reset")}); err != nil {
		s.log.ErrorContext(r.Context(), "queue reset notice failed", "user_id", ident.ID, "err", err)
	}
	p.Data = resetPage{Done: true}
	s.render(w, r, http.StatusOK, "reset_password", p)
}
