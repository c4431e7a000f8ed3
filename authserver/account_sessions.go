package authserver

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/assent-auth/assent/risk"
	"github.com/assent-auth/assent/store"
)

// The account's sessions page lists where the user is signed in and signs
// out everywhere else: the other browsers' sessions end, and so do the
// refresh tokens relying parties were given in them.

func (s *Server) sessionRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /account/sessions", s.handleSessions)
	mux.HandleFunc("POST /account/sessions/signout-others", s.handleSignOutOthers)
}

// sessionView is one session as its user sees it: never its id.
type sessionView struct {
	Current  bool
	Browser  string
	IP       string
	Created  time.Time
	LastSeen time.Time
}

type sessionsPage struct {
	Sessions []sessionView
	Others   int
}

func (s *Server) handleSessions(w http.ResponseWriter, r *http.Request) {
	sess, ident, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	all, err := s.liveSessions(r, ident.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "list sessions failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	var data sessionsPage
	for _, o := range all {
		v := sessionView{Current: bytes.Equal(o.IDHash, sess.IDHash), IP: o.IP, Created: o.CreatedAt, LastSeen: lastSeen(o)}
		if ua := risk.ParseUserAgent(o.UserAgent); ua.Browser != "" {
			v.Browser = ua.String()
		}
		if !v.Current {
			data.Others++
		}
		data.Sessions = append(data.Sessions, v)
	}
	// The current session first, then the most recently used.
	slices.SortStableFunc(data.Sessions, func(a, b sessionView) int {
		if a.Current != b.Current {
			if a.Current {
				return -1
			}
			return 1
		}
		return b.LastSeen.Compare(a.LastSeen)
	})
	pg := s.newPage(w, r)
	if r.URL.Query().Get("done") == "signed_out" {
		pg.Notice = pg.T("sessions.signed_out")
	}
	pg.User = ident
	pg.Data = data
	s.render(w, r, http.StatusOK, "sessions", pg)
}

// liveSessions returns the user's sessions that have not ended.
func (s *Server) liveSessions(r *http.Request, userID string) ([]store.Session, error) {
	all, err := s.store.ListUserSessions(r.Context(), userID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	return slices.DeleteFunc(all, func(o store.Session) bool { return !s.sessionLive(o, now) }), nil
}

// handleSignOutOthers ends every session of the user but this one, with
// the refresh tokens issued in them.
func (s *Server) handleSignOutOthers(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	sess, ident, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	all, err := s.store.ListUserSessions(r.Context(), ident.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "list sessions failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	var ended, tokens int
	for _, o := range all {
		if bytes.Equal(o.IDHash, sess.IDHash) {
			continue
		}
		if err := s.store.DeleteSession(r.Context(), o.IDHash); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.ErrorContext(r.Context(), "delete session failed", "err", err)
			s.renderError(w, r, http.StatusInternalServerError, "error.internal")
			return
		}
		n, err := s.store.DeleteSessionOIDCRefreshTokens(r.Context(), ident.ID, o.IDHash)
		if err != nil {
			s.log.ErrorContext(r.Context(), "revoke session tokens failed", "err", err)
			s.renderError(w, r, http.StatusInternalServerError, "error.internal")
			return
		}
		ended++
		tokens += n
	}
	s.audit(r, store.AuditEvent{Kind: "sessions.signed_out_others", Actor: ident.ID, Subject: ident.ID, Outcome: "ok",
		Details: map[string]string{"sessions": strconv.Itoa(ended), "refresh_tokens": strconv.Itoa(tokens)}})
	http.Redirect(w, r, "/account/sessions?done=signed_out", http.StatusSeeOther)
}
