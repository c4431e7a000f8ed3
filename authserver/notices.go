package authserver

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/risk"
	"github.com/assent-auth/assent/risk/geo"
	"github.com/assent-auth/assent/store"
)

// Security notices tell a user by mail what happened to their account
// (a sign-in from a new device or place, a lock after failed passwords, a
// sign-in method added or removed, recovery codes created or used),
// each with a "this wasn't me" link that locks the account pending a
// password reset and tells the risk engine.

// Notice kinds; each has its texts under "mail.notice.KIND.*".
const (
	noticeSignIn       = "signin"
	noticeLocked       = "locked"
	noticeFactorAdded  = "factor_added"
	noticeFactorGone   = "factor_removed"
	noticeRecoveryNew  = "recovery_generated"
	noticeRecoveryUsed = "recovery_used"
	// noticeSignUpExisting: a sign-up with the address of this account
	// (Config.SignUpConfirmEmail).
	noticeSignUpExisting = "signup_existing"
)

// factorNotices maps the audit kinds of factor changes to the notice they
// send: a new way into the account, or one fewer, is worth a mail.
var factorNotices = map[string]string{
	"factor.added":             noticeFactorAdded,
	"app_device.enrolled":      noticeFactorAdded,
	"factor.removed":           noticeFactorGone,
	"app_device.revoked":       noticeFactorGone,
	"recovery_codes.generated": noticeRecoveryNew,
	"recovery_code.used":       noticeRecoveryUsed,
}

// notifyUser is notify for a user known by id; a user that cannot be
// loaded gets no notice (the action itself was audited).
func (s *Server) notifyUser(r *http.Request, userID, kind string) {
	ident, err := s.profiles.Get(r.Context(), userID)
	if err != nil {
		s.log.WarnContext(r.Context(), "security notice: no user", "kind", kind, "user_id", userID, "err", err)
		return
	}
	s.notify(r, ident, kind)
}

// notify mails a security notice about r to the user and records it. A
// failure to queue the mail is logged; the event itself goes on.
func (s *Server) notify(r *http.Request, ident profiles.Identity, kind string) {
	tag := s.theme.lang(r.Header.Get("Accept-Language"))
	d := mailData{Name: ident.Name, Kind: kind, Facts: s.noticeFacts(r),
		Link: s.link("/report?t=" + s.profiles.ReportLink(ident.ID))}
	outcome := "queued"
	if err := s.sendMail(r.Context(), tag, "notice", ident.Email, d); err != nil {
		outcome = "not_sent"
		s.log.WarnContext(r.Context(), "security notice not queued", "kind", kind, "user_id", ident.ID, "err", err)
	}
	s.audit(r, store.AuditEvent{Kind: "security.notice", Actor: "system", Subject: ident.ID, Outcome: outcome,
		Details: map[string]string{"notice": kind}})
}

// noticeFacts are the lines of a notice: when, where, which browser.
func (s *Server) noticeFacts(r *http.Request) []string {
	tag := s.theme.lang(r.Header.Get("Accept-Language"))
	t := func(key string, v string) string { return fmt.Sprintf(s.theme.message(tag, key), v) }
	facts := []string{t("mail.notice.when", s.now().UTC().Format("2006-01-02 15:04 UTC"))}
	ip := clientIP(r)
	where := ip.String()
	if geo.Locatable(ip) {
		if loc := s.cfg.Locator.Locate(ip); loc.Country != "" {
			name := loc.Country
			if c, ok := geo.LookupCountry(loc.Country); ok {
				name = c.Name
			}
			where = name + " (" + ip.String() + ")"
		}
	}
	facts = append(facts, t("mail.notice.where", where))
	if ua := risk.ParseUserAgent(r.UserAgent()); ua.Browser != "" {
		facts = append(facts, t("mail.notice.browser", ua.String()))
	}
	return facts
}

// noticeWorthy reports whether a completed sign-in deserves a notice: the
// risk engine challenged it, or saw a new device or country.
func noticeWorthy(details map[string]string) bool {
	if details["via"] == "signup" {
		return false
	}
	if details["risk_decision"] == risk.DecisionChallenge.String() {
		return true
	}
	codes := " " + details["reason_codes"] + " "
	return strings.Contains(codes, " "+string(risk.CodeUnknownDevice)+" ") || strings.Contains(codes, " "+string(risk.CodeNewCountry)+" ")
}

// reportPage is the "this wasn't me" page's data.
type reportPage struct {
	Token string
	Done  bool
}

func (s *Server) noticeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /report", s.handleReportPage)
	mux.HandleFunc("POST /report", s.handleReport)
}

// handleReportPage asks for a button press: mail scanners open links, only
// a person presses the button.
func (s *Server) handleReportPage(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(w, r)
	tok := r.URL.Query().Get("t")
	if _, err := s.profiles.CheckReportLink(r.Context(), tok); err != nil {
		p.Error = p.T("report.invalid")
		s.render(w, r, http.StatusBadRequest, "report", p)
		return
	}
	p.Data = reportPage{Token: tok}
	s.render(w, r, http.StatusOK, "report", p)
}

func (s *Server) handleReport(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	p := s.newPage(w, r)
	ident, err := s.profiles.ReportNotMe(r.Context(), r.PostFormValue("t"))
	switch {
	case errors.Is(err, profiles.ErrLinkInvalid):
		p.Error = p.T("report.invalid")
		s.render(w, r, http.StatusBadRequest, "report", p)
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "report failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	s.audit(r, store.AuditEvent{Kind: "security.reported", Actor: ident.ID, Subject: ident.ID, Outcome: "locked",
		Details: map[string]string{"until": ident.LockedUntil.Format("2006-01-02T15:04:05Z07:00")}})
	s.endSession(w, r)
	p.Notice = p.T("report.done")
	p.Data = reportPage{Done: true}
	s.render(w, r, http.StatusOK, "report", p)
}
