package authserver

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/store"
)

// endSessionTokens revokes the refresh tokens issued on a browser
// session that has ended; a failure is logged.
func (s *Server) endSessionTokens(r *http.Request, sess store.Session) {
	if _, err := s.oidc.EndBrowserSession(r.Context(), sess.UserID, sess.IDHash); err != nil {
		s.log.ErrorContext(r.Context(), "revoke refresh tokens of ended session failed", "err", err)
	}
}

// handleEndSession serves RP-initiated logout (GET or POST). The ID token
// hint names the user and the client; when the browser's session is that
// user's, the session ends and the client's refresh tokens for the user
// are revoked (an ID token alone, which may be old or copied, revokes
// nothing). The browser then goes to the client's registered
// post_logout_redirect_uri, or to the sign-in page. A bad request gets an
// error page and no redirect.
func (s *Server) handleEndSession(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return
	}
	l, err := s.oidc.EndSession(r.Context(), r.Form)
	if errors.Is(err, oidcprovider.ErrBadLogout) {
		s.log.InfoContext(r.Context(), "logout refused", "err", err)
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "logout failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	ended, revoked := false, 0
	if sess, err := s.session(r); err == nil && sess.UserID == l.Subject {
		n, err := s.oidc.RevokeClientTokens(r.Context(), l.Subject, l.ClientID)
		if err != nil {
			s.log.ErrorContext(r.Context(), "logout failed", "err", err)
			s.renderError(w, r, http.StatusInternalServerError, "error.internal")
			return
		}
		revoked = n
		_, ended = s.endSession(w, r)
		s.endSessionTokens(r, sess)
	}
	s.audit(r, store.AuditEvent{Kind: "oidc.logout", Actor: l.Subject, Subject: l.Subject, Outcome: "ok",
		Details: map[string]string{"client_id": l.ClientID, "session_ended": boolText(ended), "revoked": strconv.Itoa(revoked)}})
	w.Header().Set("Cache-Control", "no-store")
	if l.Redirect != "" {
		http.Redirect(w, r, l.Redirect, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/signin?signed_out=1", http.StatusSeeOther)
}
