package authserver

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/assent-auth/assent/adminclient"
	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/store"
)

// Admin endpoints the operator console needs beyond the user and factor
// ones: the approval requests waiting right now, signing a user out
// everywhere, and a user's recent sign-ins.
func (s *Server) adminConsoleRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/v1/push/pending", s.adminPendingPush)
	mux.HandleFunc("POST /admin/v1/users/{user}/signout", s.adminSignOutUser)
	mux.HandleFunc("GET /admin/v1/users/{user}/signins", s.adminUserSignIns)
	mux.HandleFunc("GET /admin/v1/users/{user}/sessions", s.adminUserSessions)
}

// auditPublisher hands the audit events a domain package appends itself
// (push) to the event stream and the statistics, as Server.audit does for
// the server's own.
type auditPublisher struct {
	push.Store
	hub *eventHub
}

func (p auditPublisher) AppendAudit(ctx context.Context, e store.AuditEvent) (uint64, error) {
	seq, err := p.Store.AppendAudit(ctx, e)
	if err == nil {
		e.Seq = seq
		p.hub.publish(e)
	}
	return seq, err
}

// The answers' shapes are the admin client's.
type (
	PendingPush  = adminclient.PendingPush
	PushDecision = adminclient.PushDecision
	PushOverview = adminclient.PushOverview
)

// pendingCheckLimit bounds the store reads of one listing: under a flood
// of requests the oldest (soonest to expire) are listed and the rest
// counted.
const pendingCheckLimit = 500

// adminPendingPush lists the approval requests still waiting, soonest to
// expire first, and the latest decisions. The candidates come from the
// audit stream (no scan of every user), after the store's waiting requests
// were taken in once at the first listing since the start; each is read
// back from the store, which has the last word on whether it still waits.
func (s *Server) adminPendingPush(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := s.now()
	s.seedPendingPush(ctx, now)
	open, recent := s.events.stats.pushState()
	type cand struct {
		id string
		pushRef
	}
	cands := make([]cand, 0, len(open))
	for id, ref := range open {
		cands = append(cands, cand{id, ref})
	}
	slices.SortFunc(cands, func(a, b cand) int { return cmp.Or(a.created.Compare(b.created), cmp.Compare(a.id, b.id)) })
	out := PushOverview{Time: now.UTC(), Pending: []PendingPush{}, Recent: []PushDecision{}}
	emails := map[string]string{}
	email := func(userID string) string {
		if e, ok := emails[userID]; ok {
			return e
		}
		ident, err := s.profiles.Get(ctx, userID)
		if err != nil && !errors.Is(err, profiles.ErrNotFound) {
			s.log.WarnContext(ctx, "pending push: user lookup failed", "user_id", userID, "err", err)
		}
		emails[userID] = ident.Email
		return ident.Email
	}
	for i, c := range cands {
		if i == pendingCheckLimit {
			out.More = len(cands) - i
			break
		}
		req, err := s.store.GetPushRequest(ctx, c.userID, c.id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !req.PendingAt(now)) {
			s.events.stats.forgetPush(c.id)
			continue
		}
		if err != nil {
			s.writeDomainError(w, r, err)
			return
		}
		out.Pending = append(out.Pending, PendingPush{ID: req.ID, UserID: req.UserID, Email: email(req.UserID), Kind: req.Kind,
			RPName: req.RPName, IP: req.IP, Country: req.Country, Browser: req.Browser,
			Amount: req.Amount, Currency: req.Currency, Payee: req.Payee,
			CreatedAt: req.CreatedAt.UTC(), ExpiresAt: req.ExpiresAt.UTC(), ExpiresIn: req.ExpiresAt.Sub(now).Seconds()})
	}
	slices.SortStableFunc(out.Pending, func(a, b PendingPush) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	for _, d := range recent {
		out.Recent = append(out.Recent, PushDecision{Time: d.Time.UTC(), RequestID: d.RequestID, UserID: d.UserID, Email: email(d.UserID),
			Status: d.Status, NotMe: d.NotMe, LatencyMs: d.LatencyMs})
	}
	writeJSON(w, http.StatusOK, out)
}

// adminSignOutUser ends every browser session of the user and revokes the
// refresh tokens of their applications.
func (s *Server) adminSignOutUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.lookupUser(r)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	sessions, tokens, err := s.profiles.SignOutEverywhere(r.Context(), u.ID)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	s.adminAudit(r, "user.signed_out_everywhere", u.ID, map[string]string{"sessions": strconv.Itoa(sessions),
		"refresh_tokens": strconv.Itoa(tokens), "by": "admin"})
	writeJSON(w, http.StatusOK, adminclient.SignOutResult{Sessions: sessions, RefreshTokens: tokens})
}

// adminUserSignIns returns the user's recent successful sign-ins, newest
// first, as the risk engine's history keeps them.
func (s *Server) adminUserSignIns(w http.ResponseWriter, r *http.Request) {
	limit := 10
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeProblem(w, http.StatusBadRequest, "Invalid query.", FieldError{Field: "limit", Detail: "must be a whole number from 1 to 100"})
			return
		}
		limit = n
	}
	u, err := s.lookupUser(r)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	recs, err := s.store.ListSignIns(r.Context(), u.ID, limit)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	out := make([]adminclient.SignIn, 0, len(recs))
	for _, rec := range recs {
		out = append(out, adminclient.SignIn{Time: rec.Time.UTC(), IP: rec.IP, Country: rec.Country, City: rec.City,
			DeviceID: rec.DeviceID, Browser: rec.Browser, OS: rec.OS, Strong: rec.Strong})
	}
	writeJSON(w, http.StatusOK, map[string]any{"sign_ins": out})
}

// adminUserSessions returns the user's browser sessions that have not
// expired, newest first. Session ids never leave the server, not even
// hashed.
func (s *Server) adminUserSessions(w http.ResponseWriter, r *http.Request) {
	u, err := s.lookupUser(r)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	ss, err := s.store.ListUserSessions(r.Context(), u.ID)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	now := s.now()
	out := []adminclient.Session{}
	for _, se := range ss {
		if !se.ExpiresAt.After(now) {
			continue
		}
		out = append(out, adminclient.Session{CreatedAt: se.CreatedAt.UTC(), AuthTime: se.AuthTime.UTC(), ExpiresAt: se.ExpiresAt.UTC(),
			AMR: se.AMR, IP: se.IP, UserAgent: se.UserAgent})
	}
	slices.SortFunc(out, func(a, b adminclient.Session) int { return b.CreatedAt.Compare(a.CreatedAt) })
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
}
