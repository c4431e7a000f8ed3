package authserver

import (
	"crypto/subtle"
	"net/http"

	"github.com/assent-auth/assent/store"
)

// The checkout payment page waits for the app as the sign-in push page
// does: push.js listens to server-sent events, polls as a fallback and
// counts down, then submits the page (app_finish). Only the endpoints
// differ, since the browser proves what it waits for with the checkout's
// flow state (checkoutPush) rather than a pending sign-in.

func (s *Server) checkoutWaitRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /oidc/payment/push/events", s.handleCheckoutPushEvents)
	mux.HandleFunc("GET /oidc/payment/push/status", s.handleCheckoutPushStatus)
}

// checkoutWaitingFor returns the app request the payment page waits for:
// the one named by the id parameter, started by this browser session for
// its payment; or an HTTP status to answer with.
func (s *Server) checkoutWaitingFor(r *http.Request) (store.PushRequest, int) {
	sess, err := s.session(r)
	if err != nil {
		return store.PushRequest{}, http.StatusUnauthorized
	}
	var f checkoutPush
	if _, err := s.readFlow(r, checkoutPushCookie, &f); err != nil || f.UserID != sess.UserID || f.PushID != r.URL.Query().Get("id") ||
		len(sess.IDHash) == 0 || subtle.ConstantTimeCompare(f.Session, sess.IDHash) != 1 {
		return store.PushRequest{}, http.StatusUnauthorized
	}
	req, err := s.push.Get(r.Context(), f.UserID, f.PushID)
	if err != nil {
		return store.PushRequest{}, http.StatusNotFound
	}
	return req, 0
}

// handleCheckoutPushEvents streams the app request's state as server-sent
// events.
func (s *Server) handleCheckoutPushEvents(w http.ResponseWriter, r *http.Request) {
	req, status := s.checkoutWaitingFor(r)
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	s.streamPushState(w, r, req)
}

// handleCheckoutPushStatus is the fallback poll: the state as JSON.
func (s *Server) handleCheckoutPushStatus(w http.ResponseWriter, r *http.Request) {
	req, status := s.checkoutWaitingFor(r)
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	s.writePushState(w, req)
}
