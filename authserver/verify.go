package authserver

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"golang.org/x/text/language"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/store"
)

// accountMail is the state of the flows that go through the user's
// mailbox: e-mail verification (this file) and password reset (reset.go).
type accountMail struct {
	tpl *mailTemplates
	// sem bounds the reset requests being worked on in the background;
	// wg lets tests wait for them.
	sem chan struct{}
	wg  sync.WaitGroup
}

// Limits of the mailbox flows, per throttle window (15 minutes).
const (
	maxVerifyMailsPerUser  = 3
	maxVerifyCodeFailures  = 5
	maxResetMailsPerEmail  = 3
	maxResetRequestsPerNet = 20
	maxResetBackground     = 1024
)

func (s *Server) initAccountMail() error {
	tpl, err := loadMailTemplates(s.cfg.ThemeDir)
	if err != nil {
		return err
	}
	s.acct = &accountMail{tpl: tpl, sem: make(chan struct{}, maxResetBackground)}
	if s.cfg.Mail == nil {
		s.log.Warn("no mail outbox: verification and reset messages are not sent")
	}
	return nil
}

func (s *Server) accountMailRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /verify", s.handleVerifyPage)
	mux.HandleFunc("POST /verify", s.handleVerifyLink)
	mux.HandleFunc("POST /verify/code", s.handleVerifyCode)
	mux.HandleFunc("POST /verify/resend", s.handleVerifyResend)
	mux.HandleFunc("GET /reset", s.handleResetPage)
	mux.HandleFunc("POST /reset", s.handleResetRequest)
	mux.HandleFunc("GET /reset/password", s.handleResetPasswordPage)
	mux.HandleFunc("POST /reset/password", s.handleResetPassword)
	s.emailChangeRoutes(mux)
	s.noticeRoutes(mux)
	s.sessionRoutes(mux)
	s.signInLinkRoutes(mux)
}

// verifyPage is the verification page's data.
type verifyPage struct {
	// Token is the link's token, to confirm with a button (mail scanners
	// open links; only a person presses the button).
	Token string
	// SignedIn: the page offers the code form and a new message.
	SignedIn bool
	Verified bool
}

// sendVerification mails a verification link and code to a new user.
// Failures are logged: the account exists either way and the user can ask
// for another message.
func (s *Server) sendVerification(r *http.Request, ident profiles.Identity) {
	tag := s.theme.lang(r.Header.Get("Accept-Language"))
	if err := s.mailVerification(r.Context(), tag, ident); err != nil {
		s.log.ErrorContext(r.Context(), "queue verification mail failed", "user_id", ident.ID, "err", err)
		return
	}
	s.audit(r, store.AuditEvent{Kind: "email.verification_sent", Actor: ident.ID, Subject: ident.ID, Outcome: "ok"})
}

func (s *Server) mailVerification(ctx context.Context, tag language.Tag, ident profiles.Identity) error {
	tok, code, err := s.profiles.VerificationLink(ctx, ident.ID)
	if err != nil {
		return err
	}
	return s.sendMail(ctx, tag, "verify", ident.Email, mailData{Name: ident.Name, Link: s.link("/verify?t=" + tok), Code: code})
}

func (s *Server) handleVerifyPage(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(w, r)
	vp := verifyPage{Token: r.URL.Query().Get("t")}
	if len(vp.Token) > 512 {
		vp.Token = ""
	}
	if _, ident, ok := s.optionalUser(r); ok {
		vp.SignedIn, vp.Verified = true, ident.EmailVerified
		p.User = ident
	}
	p.Data = vp
	s.render(w, r, http.StatusOK, "verify", p)
}

// optionalUser returns the signed-in user, if any.
func (s *Server) optionalUser(r *http.Request) (store.Session, profiles.Identity, bool) {
	sess, err := s.session(r)
	if err != nil {
		return sess, profiles.Identity{}, false
	}
	ident, err := s.profiles.Get(r.Context(), sess.UserID)
	return sess, ident, err == nil
}

func (s *Server) handleVerifyLink(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	ident, err := s.profiles.VerifyEmail(r.Context(), r.PostFormValue("t"))
	s.verifyOutcome(w, r, ident, err, "link")
}

func (s *Server) handleVerifyCode(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	_, ident, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	key := "verify-code:" + ident.ID
	if s.throttle.count(key) >= maxVerifyCodeFailures {
		w.Header().Set("Retry-After", "900")
		s.renderVerify(w, r, http.StatusTooManyRequests, ident, "verify.throttled", "")
		return
	}
	got, err := s.profiles.VerifyEmailCode(r.Context(), ident.ID, truncate(r.PostFormValue("code"), 16))
	if errors.Is(err, profiles.ErrLinkInvalid) {
		n := s.throttle.fail(key, netKeyOf(clientIP(r)))
		s.audit(r, store.AuditEvent{Kind: "email.verification_failed", Actor: ident.ID, Subject: ident.ID, Outcome: "failed",
			Details: map[string]string{"via": "code"}})
		if !sleepCtx(r.Context(), delay(n, s.cfg.FailureDelay, s.cfg.MaxFailureDelay)) {
			return
		}
		s.renderVerify(w, r, http.StatusUnauthorized, ident, "verify.code_invalid", "")
		return
	}
	s.verifyOutcome(w, r, got, err, "code")
}

func (s *Server) verifyOutcome(w http.ResponseWriter, r *http.Request, ident profiles.Identity, err error, via string) {
	switch {
	case errors.Is(err, profiles.ErrAlreadyVerified):
		s.renderVerify(w, r, http.StatusOK, ident, "", "verify.already")
	case errors.Is(err, profiles.ErrLinkInvalid):
		s.audit(r, store.AuditEvent{Kind: "email.verification_failed", Actor: "anonymous", Outcome: "failed",
			Details: map[string]string{"via": via}})
		s.renderError(w, r, http.StatusBadRequest, "verify.invalid")
	case err != nil:
		s.log.ErrorContext(r.Context(), "verify e-mail failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
	default:
		s.audit(r, store.AuditEvent{Kind: "email.verified", Actor: ident.ID, Subject: ident.ID, Outcome: "ok",
			Details: map[string]string{"via": via}})
		ident.EmailVerified = true
		s.renderVerify(w, r, http.StatusOK, ident, "", "verify.done")
	}
}

func (s *Server) renderVerify(w http.ResponseWriter, r *http.Request, status int, ident profiles.Identity, errKey, noticeKey string) {
	p := s.newPage(w, r)
	if errKey != "" {
		p.Error = p.T(errKey)
	}
	if noticeKey != "" {
		p.Notice = p.T(noticeKey)
	}
	_, cur, signedIn := s.optionalUser(r)
	vp := verifyPage{SignedIn: signedIn, Verified: ident.EmailVerified || (signedIn && cur.EmailVerified)}
	if signedIn {
		p.User = cur
	}
	p.Data = vp
	s.render(w, r, status, "verify", p)
}

func (s *Server) handleVerifyResend(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	_, ident, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	if ident.EmailVerified {
		s.renderVerify(w, r, http.StatusOK, ident, "", "verify.already")
		return
	}
	key := "verify-mail:" + ident.ID
	if s.throttle.count(key) >= maxVerifyMailsPerUser {
		w.Header().Set("Retry-After", "900")
		s.renderVerify(w, r, http.StatusTooManyRequests, ident, "verify.throttled", "")
		return
	}
	s.throttle.fail(key)
	s.sendVerification(r, ident)
	s.renderVerify(w, r, http.StatusOK, ident, "", "verify.sent")
}

// backgroundTimeout bounds work a request leaves behind.
const backgroundTimeout = 30 * time.Second
