package authserver

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/store"
)

// E-mail change: the signed-in user names a new address and gives their
// password; the new address gets a confirmation link; using it changes the
// address and mails the old one an undo link, which puts the old address
// back and ends every session.

const maxEmailChangeMails = 3

// emailChangePage is the data of the e-mail change page.
type emailChangePage struct {
	// Form: the page asks for the new address.
	Form bool
	// Password: the form asks for the current password.
	Password bool
	// Action and Token: the page is a button that posts Token to Action.
	Action string
	Token  string
}

func (s *Server) emailChangeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /account/email", s.handleEmailChangePage)
	mux.HandleFunc("POST /account/email", s.handleEmailChange)
	mux.HandleFunc("GET /email/confirm", s.handleEmailLinkPage("/email/confirm"))
	mux.HandleFunc("POST /email/confirm", s.handleEmailConfirm)
	mux.HandleFunc("GET /email/undo", s.handleEmailLinkPage("/email/undo"))
	mux.HandleFunc("POST /email/undo", s.handleEmailUndo)
}

func (s *Server) renderEmailChange(w http.ResponseWriter, r *http.Request, status int, ident profiles.Identity, d emailChangePage, errKey, noticeKey string) {
	p := s.newPage(w, r)
	p.User = ident
	if errKey != "" {
		p.Error = p.T(errKey)
	}
	if noticeKey != "" {
		p.Notice = p.T(noticeKey)
	}
	p.Data = d
	s.render(w, r, status, "email_change", p)
}

func (s *Server) handleEmailChangePage(w http.ResponseWriter, r *http.Request) {
	_, ident, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	s.renderEmailChange(w, r, http.StatusOK, ident, emailChangePage{Form: true, Password: ident.HasPassword}, "", "")
}

func (s *Server) handleEmailChange(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	sess, ident, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	form := emailChangePage{Form: true, Password: ident.HasPassword}
	key := "email-change:" + ident.ID
	if s.throttle.count(key) >= maxEmailChangeMails {
		w.Header().Set("Retry-After", "900")
		s.renderEmailChange(w, r, http.StatusTooManyRequests, ident, form, "verify.throttled", "")
		return
	}
	// Changing where recovery mail goes needs the password (or, without
	// one, a fresh strong sign-in).
	if ident.HasPassword {
		if _, _, err := s.profiles.Authenticate(r.Context(), ident.Email, r.PostFormValue("password")); err != nil {
			n := s.throttle.fail(userKey(ident.ID), netKeyOf(clientIP(r)))
			s.audit(r, store.AuditEvent{Kind: "email.change_failed", Actor: ident.ID, Subject: ident.ID, Outcome: "failed",
				Details: map[string]string{"reason": "bad_password"}})
			if !sleepCtx(r.Context(), delay(n, s.cfg.FailureDelay, s.cfg.MaxFailureDelay)) {
				return
			}
			s.renderEmailChange(w, r, http.StatusUnauthorized, ident, form, "email_change.bad_password", "")
			return
		}
	} else if !s.freshStrong(sess) {
		s.renderEmailChange(w, r, http.StatusForbidden, ident, form, "email_change.fresh_sign_in", "")
		return
	}
	newEmail := truncate(r.PostFormValue("email"), 254)
	tok, err := s.profiles.EmailChangeLink(r.Context(), ident.ID, newEmail)
	var ve *profiles.ValidationError
	switch {
	case errors.As(err, &ve):
		s.renderEmailChange(w, r, http.StatusBadRequest, ident, form, "email_change.invalid", "")
		return
	case errors.Is(err, profiles.ErrEmailTaken):
		// The user is signed in and gave their password: telling them is
		// no enumeration an attacker could run at scale.
		s.renderEmailChange(w, r, http.StatusConflict, ident, form, "signup.email_taken", "")
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "e-mail change link failed", "user_id", ident.ID, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	s.throttle.fail(key)
	tag := s.theme.lang(r.Header.Get("Accept-Language"))
	norm, _ := profiles.NormalizeEmail(newEmail)
	if err := s.sendMail(r.Context(), tag, "email_confirm", norm, mailData{Name: ident.Name, Link: s.link("/email/confirm?t=" + tok)}); err != nil {
		s.log.ErrorContext(r.Context(), "queue e-mail change mail failed", "user_id", ident.ID, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	s.audit(r, store.AuditEvent{Kind: "email.change_requested", Actor: ident.ID, Subject: ident.ID, Outcome: "ok"})
	s.renderEmailChange(w, r, http.StatusOK, ident, emailChangePage{}, "", "email_change.sent")
}

// handleEmailLinkPage shows a mailed link as a button, so that a mail
// scanner following links changes nothing.
func (s *Server) handleEmailLinkPage(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.URL.Query().Get("t")
		if tok == "" || len(tok) > 1024 {
			s.renderError(w, r, http.StatusBadRequest, "verify.invalid")
			return
		}
		s.renderEmailChange(w, r, http.StatusOK, profiles.Identity{}, emailChangePage{Action: action, Token: tok}, "", "")
	}
}

func (s *Server) handleEmailConfirm(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	ident, old, undo, err := s.profiles.ConfirmEmailChange(r.Context(), r.PostFormValue("t"))
	if !s.emailLinkOK(w, r, err, "change") {
		return
	}
	s.audit(r, store.AuditEvent{Kind: "email.changed", Actor: ident.ID, Subject: ident.ID, Outcome: "ok"})
	tag := s.theme.lang(r.Header.Get("Accept-Language"))
	if err := s.sendMail(r.Context(), tag, "email_changed", old, mailData{Name: ident.Name, Link: s.link("/email/undo?t=" + undo)}); err != nil {
		s.log.ErrorContext(r.Context(), "queue e-mail change notice failed", "user_id", ident.ID, "err", err)
	}
	s.renderEmailChange(w, r, http.StatusOK, profiles.Identity{}, emailChangePage{}, "", "email_change.done")
}

func (s *Server) handleEmailUndo(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	ident, err := s.profiles.UndoEmailChange(r.Context(), r.PostFormValue("t"))
	if !s.emailLinkOK(w, r, err, "undo") {
		return
	}
	ended, revoked, err := s.profiles.SignOutEverywhere(r.Context(), ident.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "sign out everywhere after undo failed", "user_id", ident.ID, "err", err)
	}
	s.endSession(w, r)
	s.audit(r, store.AuditEvent{Kind: "email.change_undone", Actor: ident.ID, Subject: ident.ID, Outcome: "ok",
		Details: map[string]string{"sessions_ended": strconv.Itoa(ended), "refresh_tokens_revoked": strconv.Itoa(revoked)}})
	s.renderEmailChange(w, r, http.StatusOK, profiles.Identity{}, emailChangePage{}, "", "email_change.undone")
}

func (s *Server) emailLinkOK(w http.ResponseWriter, r *http.Request, err error, step string) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, profiles.ErrLinkInvalid), errors.Is(err, profiles.ErrEmailTaken):
		s.audit(r, store.AuditEvent{Kind: "email.change_failed", Actor: "anonymous", Outcome: "failed",
			Details: map[string]string{"step": step, "reason": "invalid_link"}})
		s.renderError(w, r, http.StatusBadRequest, "verify.invalid")
	default:
		s.log.ErrorContext(r.Context(), "e-mail change failed", "step", step, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
	}
	return false
}
