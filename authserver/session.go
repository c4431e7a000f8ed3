package authserver

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/assent-auth/assent/store"
)

func (s *Server) cookieName(base string) string {
	if s.secure {
		return "__Host-" + base
	}
	return base
}

func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name:     s.cookieName(name),
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge < 0 {
		c.MaxAge = -1
	} else if maxAge > 0 {
		c.MaxAge = int(maxAge.Seconds())
	}
	http.SetCookie(w, c)
}

func (s *Server) cookie(r *http.Request, name string) string {
	c, err := r.Cookie(s.cookieName(name))
	if err != nil {
		return ""
	}
	return c.Value
}

func hashID(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// startSession creates a browser session for the user and sets its cookie.
// The 256-bit id lives only in the cookie; the store keeps its hash.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, userID string, amr []string) error {
	raw := make([]byte, 32)
	rand.Read(raw)
	id := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now().UTC()
	err := s.store.CreateSession(r.Context(), store.Session{
		IDHash:    hashID(id),
		UserID:    userID,
		AuthTime:  now,
		AMR:       amr,
		IP:        clientIP(r).String(),
		UserAgent: truncate(r.UserAgent(), 256),
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.SessionTTL),
	})
	if err != nil {
		return err
	}
	s.setCookie(w, "assent_session", id, s.cfg.SessionTTL)
	return nil
}

// errNoSession means the request carries no live session.
var errNoSession = errors.New("no session")

// session returns the live session of the request.
func (s *Server) session(r *http.Request) (store.Session, error) {
	id := s.cookie(r, "assent_session")
	if id == "" || len(id) > 100 {
		return store.Session{}, errNoSession
	}
	sess, err := s.store.GetSession(r.Context(), hashID(id))
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, errNoSession
	}
	if err != nil {
		return store.Session{}, err
	}
	now := s.now()
	if !s.sessionLive(sess, now) {
		return store.Session{}, errNoSession
	}
	if s.cfg.SessionIdle > 0 {
		// Recorded to the minute, so a busy session costs one write a
		// minute, not one per request.
		if now.Sub(lastSeen(sess)) >= sessionTouchEvery {
			if err := s.store.TouchSession(r.Context(), sess.IDHash, now); err != nil && !errors.Is(err, store.ErrNotFound) {
				s.log.WarnContext(r.Context(), "session touch failed", "err", err)
			}
			sess.LastSeen = now
		}
	}
	return sess, nil
}

// sessionLive reports whether sess has neither expired nor sat unused for
// the idle timeout at now.
func (s *Server) sessionLive(sess store.Session, now time.Time) bool {
	if !now.Before(sess.ExpiresAt) {
		return false
	}
	idle := s.cfg.SessionIdle
	return idle <= 0 || now.Sub(lastSeen(sess)) < idle
}

// lastSeen is when sess was last used, as far as it was recorded.
func lastSeen(sess store.Session) time.Time { return cmp.Or(sess.LastSeen, sess.CreatedAt) }

// sessionTouchEvery is how stale a session's LastSeen may grow before a
// request records it again.
const sessionTouchEvery = time.Minute

// endSession deletes the request's session, if any, and clears the cookie.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) (store.Session, bool) {
	if s.cookie(r, "assent_session") == "" {
		return store.Session{}, false
	}
	sess, err := s.session(r)
	s.setCookie(w, "assent_session", "", -1)
	if err != nil {
		return store.Session{}, false
	}
	if err := s.store.DeleteSession(r.Context(), sess.IDHash); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.ErrorContext(r.Context(), "delete session failed", "err", err)
	}
	return sess, true
}

// csrfToken returns the request's CSRF token, issuing a cookie with a new
// one when there is none. Forms carry the token in a hidden field; a POST
// is accepted only when field and cookie match (and the browser's
// Sec-Fetch-Site / Origin headers, checked by http.CrossOriginProtection,
// do not say cross-site).
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if tok := s.cookie(r, "assent_csrf"); len(tok) == 43 {
		return tok
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	tok := base64.RawURLEncoding.EncodeToString(raw)
	s.setCookie(w, "assent_csrf", tok, 0)
	return tok
}

// checkCSRF compares the form's token with the cookie's in constant time.
func (s *Server) checkCSRF(r *http.Request) bool {
	c := s.cookie(r, "assent_csrf")
	f := r.PostFormValue("csrf")
	return len(c) == 43 && subtle.ConstantTimeCompare([]byte(c), []byte(f)) == 1
}

func randRead(b []byte) { rand.Read(b) }

// randomToken returns n random bytes as unpadded base64url text.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
