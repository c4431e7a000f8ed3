package authserver

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/devices"
	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/store"
)

// The security page: a signed-in user's passkeys, authenticator app and
// recovery codes.

// securityPage is the security page's data.
type securityPage struct {
	PasskeysOn bool
	Passkeys   []devices.Summary
	TOTP       *devices.Summary
	Recovery   *devices.Summary
	// AppDevices are enrolled instances of the company's app.
	AppDevices []devices.Summary
	HasStrong  bool
	// RecoveryText says how many recovery codes are left.
	RecoveryText string
	// Codes are fresh recovery codes, shown once.
	Codes []string
	// Links are the linked upstream accounts; Upstreams whether any
	// upstream provider is configured.
	Links     []linkedAccount
	Upstreams bool
	// UserCode: the user has a CIBA user code (handleUserCode).
	UserCode bool
}

// totpPage is the authenticator-app enrollment page's data.
type totpPage struct {
	QR      template.URL
	URI     template.URL
	Key     string
	Expires time.Time
}

// signedIn returns the request's session and user, or sends the browser to
// sign in and back.
func (s *Server) signedIn(w http.ResponseWriter, r *http.Request) (store.Session, profiles.Identity, bool) {
	sess, err := s.session(r)
	if err == nil {
		ident, gerr := s.profiles.Get(r.Context(), sess.UserID)
		if gerr == nil {
			return sess, ident, true
		}
		err = gerr
		s.endSession(w, r)
	}
	if !errors.Is(err, errNoSession) && !errors.Is(err, profiles.ErrNotFound) {
		s.log.ErrorContext(r.Context(), "session lookup failed", "err", err)
	}
	http.Redirect(w, r, "/signin?return_to=%2Fsecurity", http.StatusSeeOther)
	return store.Session{}, profiles.Identity{}, false
}

func (s *Server) handleSecurity(w http.ResponseWriter, r *http.Request) {
	_, ident, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	pg := s.newPage(w, r)
	q := r.URL.Query()
	if done := q.Get("done"); done != "" {
		// Only the notices the catalog has: never text from the URL.
		if key := "security.done." + done; pg.T(key) != key {
			pg.Notice = pg.T(key)
		}
	}
	if v := q.Get("recovery_left"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= devices.RecoveryCodeCount {
			pg.Notice = strings.ReplaceAll(pg.T("security.recovery_used"), "{n}", strconv.Itoa(n))
		}
	}
	s.renderSecurity(w, r, http.StatusOK, ident, pg, nil)
}

// renderSecurity renders the security page for ident with pg's messages.
func (s *Server) renderSecurity(w http.ResponseWriter, r *http.Request, status int, ident profiles.Identity, pg page, codes []devices.Secret) {
	fs, err := s.devices.List(r.Context(), ident.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "list factors failed", "user_id", ident.ID, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	d := securityPage{PasskeysOn: s.devices.Passkeys(), UserCode: ident.HasUserCode}
	for i := range fs {
		f := fs[i]
		switch f.Kind {
		case store.FactorPasskey:
			d.Passkeys = append(d.Passkeys, f)
		case store.FactorTOTP:
			d.TOTP = &f
		case store.FactorRecovery:
			d.Recovery = &f
		case store.FactorAppDevice:
			if !f.Pending {
				d.AppDevices = append(d.AppDevices, f)
			}
		}
		d.HasStrong = d.HasStrong || f.Strong()
	}
	if d.Links, err = s.linkedAccounts(r.Context(), ident.ID); err != nil {
		s.log.ErrorContext(r.Context(), "list links failed", "user_id", ident.ID, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	d.Upstreams = len(s.ups.byID) > 0
	if d.Recovery != nil {
		d.RecoveryText = strings.ReplaceAll(pg.T("security.recovery_left"), "{n}", strconv.Itoa(d.Recovery.Remaining))
	}
	for _, c := range codes {
		d.Codes = append(d.Codes, c.Reveal())
	}
	pg.User = ident
	pg.Data = d
	s.render(w, r, status, "security", pg)
}

// securityError shows the security page with an error message.
func (s *Server) securityError(w http.ResponseWriter, r *http.Request, status int, ident profiles.Identity, key string) {
	pg := s.newPage(w, r)
	pg.Error = pg.T(key)
	s.renderSecurity(w, r, status, ident, pg, nil)
}

func (s *Server) factorAudit(r *http.Request, kind string, userID string, details map[string]string) {
	s.audit(r, store.AuditEvent{Kind: kind, Actor: userID, Subject: userID, Outcome: "ok", Details: details})
	if n, ok := factorNotices[kind]; ok {
		s.notifyUser(r, userID, n)
	}
}

// handleAddPasskey finishes adding a passkey from the security page.
func (s *Server) handleAddPasskey(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	_, ident, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	name, err := devices.CleanName(r.PostFormValue("name"))
	if err != nil {
		s.takeCeremony(w, r)
		s.securityError(w, r, http.StatusBadRequest, ident, "security.name_invalid")
		return
	}
	c, err := s.takeCeremony(w, r)
	var sum devices.Summary
	if err == nil {
		sum, err = s.devices.FinishRegistration(r.Context(), c, ident.ID, []byte(r.PostFormValue("credential")), name)
	}
	if err != nil {
		if !errors.Is(err, devices.ErrRefused) {
			s.log.ErrorContext(r.Context(), "add passkey failed", "user_id", ident.ID, "err", err)
			s.renderError(w, r, http.StatusInternalServerError, "error.internal")
			return
		}
		n := s.throttle.fail(netKeyOf(clientIP(r)))
		s.audit(r, store.AuditEvent{Kind: "factor.add_failed", Actor: ident.ID, Subject: ident.ID, Outcome: "failed",
			Details: refusalDetails(err, map[string]string{"kind": store.FactorPasskey})})
		if !sleepCtx(r.Context(), delay(n, s.cfg.FailureDelay, s.cfg.MaxFailureDelay)) {
			return
		}
		key := "security.passkey_failed"
		if devices.Reason(err) == devices.ReasonAlreadyRegistered {
			key = "security.passkey_exists"
		}
		s.securityError(w, r, http.StatusBadRequest, ident, key)
		return
	}
	s.factorAudit(r, "factor.added", ident.ID, map[string]string{"kind": store.FactorPasskey, "factor_id": sum.ID,
		"synced": strconv.FormatBool(sum.Synced), "user_verified": strconv.FormatBool(sum.UserVerified), "aaguid": sum.AAGUID})
	http.Redirect(w, r, "/security?done=passkey_added", http.StatusSeeOther)
}

func (s *Server) handleRenameFactor(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	_, ident, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	sum, err := s.devices.Rename(r.Context(), ident.ID, r.PathValue("id"), r.PostFormValue("name"))
	switch {
	case errors.Is(err, devices.ErrNotFound):
		s.securityError(w, r, http.StatusNotFound, ident, "security.not_found")
		return
	case errors.Is(err, devices.ErrInvalidName):
		s.securityError(w, r, http.StatusBadRequest, ident, "security.name_invalid")
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "rename factor failed", "user_id", ident.ID, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	s.factorAudit(r, "factor.renamed", ident.ID, map[string]string{"kind": sum.Kind, "factor_id": sum.ID})
	http.Redirect(w, r, "/security?done=renamed", http.StatusSeeOther)
}

// handleRemoveFactor removes one factor. Removing the last strong factor
// takes a fresh strong sign-in: a stolen password-only session must not be
// able to strip an account of its second factor.
func (s *Server) handleRemoveFactor(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	sess, ident, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	last, err := s.devices.IsLastStrong(r.Context(), ident.ID, id)
	switch {
	case errors.Is(err, devices.ErrNotFound):
		s.securityError(w, r, http.StatusNotFound, ident, "security.not_found")
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "remove factor failed", "user_id", ident.ID, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	case last && !s.freshStrong(sess):
		s.audit(r, store.AuditEvent{Kind: "factor.remove_denied", Actor: ident.ID, Subject: ident.ID, Outcome: "denied",
			Details: map[string]string{"factor_id": id, "reason": "last_factor_needs_fresh_strong_sign_in"}})
		s.securityError(w, r, http.StatusForbidden, ident, "security.reauth_needed")
		return
	}
	rm, err := s.devices.Remove(r.Context(), ident.ID, id)
	if errors.Is(err, devices.ErrNotFound) {
		s.securityError(w, r, http.StatusNotFound, ident, "security.not_found")
		return
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "remove factor failed", "user_id", ident.ID, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	s.factorAudit(r, "factor.removed", ident.ID, map[string]string{"kind": rm.Removed.Kind, "factor_id": rm.Removed.ID,
		"recovery_codes_removed": strconv.FormatBool(rm.RecoveryRemoved), "by": "user"})
	http.Redirect(w, r, "/security?done=removed", http.StatusSeeOther)
}

func (s *Server) handleBeginTOTP(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	_, ident, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	_, err := s.devices.BeginTOTP(r.Context(), ident.ID, ident.Email)
	switch {
	case devices.Reason(err) == devices.ReasonAlreadyEnrolled:
		s.securityError(w, r, http.StatusConflict, ident, "security.totp_exists")
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "begin TOTP failed", "user_id", ident.ID, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	http.Redirect(w, r, "/security/totp", http.StatusSeeOther)
}

func (s *Server) handleTOTPPage(w http.ResponseWriter, r *http.Request) {
	_, ident, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	s.renderTOTP(w, r, http.StatusOK, ident, "")
}

// renderTOTP shows the pending enrollment: its QR code, otpauth URI and
// key, and the form for the first code.
func (s *Server) renderTOTP(w http.ResponseWriter, r *http.Request, status int, ident profiles.Identity, errKey string) {
	e, err := s.devices.PendingTOTP(r.Context(), ident.ID, ident.Email)
	switch devices.Reason(err) {
	case "":
		if err != nil {
			s.log.ErrorContext(r.Context(), "load TOTP enrollment failed", "user_id", ident.ID, "err", err)
			s.renderError(w, r, http.StatusInternalServerError, "error.internal")
			return
		}
	case devices.ReasonExpired:
		s.securityError(w, r, http.StatusGone, ident, "security.totp_expired")
		return
	default:
		http.Redirect(w, r, "/security", http.StatusSeeOther)
		return
	}
	pg := s.newPage(w, r)
	if errKey != "" {
		pg.Error = pg.T(errKey)
	}
	pg.User = ident
	key := e.Key.Reveal()
	var groups []string
	for len(key) > 4 {
		groups, key = append(groups, key[:4]), key[4:]
	}
	groups = append(groups, key)
	pg.Data = totpPage{
		// Both are built here from our own values, never from input.
		QR:      template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QR)),
		URI:     template.URL(e.URI.Reveal()),
		Key:     strings.Join(groups, " "),
		Expires: e.Expires,
	}
	s.render(w, r, status, "totp", pg)
}

func (s *Server) handleConfirmTOTP(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	_, ident, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	err := s.devices.ConfirmTOTP(r.Context(), ident.ID, r.PostFormValue("code"))
	switch devices.Reason(err) {
	case "":
		if err != nil {
			s.log.ErrorContext(r.Context(), "confirm TOTP failed", "user_id", ident.ID, "err", err)
			s.renderError(w, r, http.StatusInternalServerError, "error.internal")
			return
		}
	case devices.ReasonInvalidCode, devices.ReasonReplayed:
		s.renderTOTP(w, r, http.StatusBadRequest, ident, "security.totp_invalid")
		return
	case devices.ReasonExpired:
		s.securityError(w, r, http.StatusGone, ident, "security.totp_expired")
		return
	default:
		http.Redirect(w, r, "/security", http.StatusSeeOther)
		return
	}
	s.factorAudit(r, "factor.added", ident.ID, map[string]string{"kind": store.FactorTOTP, "factor_id": "totp"})
	http.Redirect(w, r, "/security?done=totp_added", http.StatusSeeOther)
}

// handleRegenerateRecovery makes a new set of recovery codes and shows it,
// this once; the old set stops working.
func (s *Server) handleRegenerateRecovery(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	_, ident, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	codes, err := s.devices.GenerateRecoveryCodes(r.Context(), ident.ID)
	switch {
	case devices.Reason(err) == devices.ReasonNotEnrolled:
		s.securityError(w, r, http.StatusConflict, ident, "security.recovery_needs_factor")
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "generate recovery codes failed", "user_id", ident.ID, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	s.factorAudit(r, "recovery_codes.generated", ident.ID, map[string]string{"count": strconv.Itoa(len(codes))})
	pg := s.newPage(w, r)
	pg.Notice = pg.T("security.recovery_new")
	s.renderSecurity(w, r, http.StatusOK, ident, pg, codes)
}

// handleUserCode sets (or, with remove, removes) the user's CIBA user
// code: the code the user gives to the businesses they allow to send them
// approval requests in the app, for clients registered to require it.
func (s *Server) handleUserCode(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	_, ident, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	code, kind, done := r.PostFormValue("code"), "user_code.set", "user_code_set"
	remove := r.PostFormValue("remove") != ""
	if remove {
		code, kind, done = "", "user_code.removed", "user_code_removed"
	}
	err := profiles.ErrUserCodePolicy // an empty code removes only with remove
	if remove || code != "" {
		_, err = s.profiles.SetUserCode(r.Context(), ident.ID, code)
	}
	switch {
	case errors.Is(err, profiles.ErrUserCodePolicy):
		s.securityError(w, r, http.StatusBadRequest, ident, "security.user_code_policy")
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "set user code failed", "user_id", ident.ID, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	s.audit(r, store.AuditEvent{Kind: kind, Actor: ident.ID, Subject: ident.ID, Outcome: "ok"})
	http.Redirect(w, r, "/security?done="+done, http.StatusSeeOther)
}
