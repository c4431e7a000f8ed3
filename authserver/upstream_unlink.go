package authserver

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/store"
)

// Unlinking upstream accounts: a user removes a linked upstream OpenID
// provider account from the security page, an operator through the admin
// API. The last way into an account (no password, no passkey, one link)
// is never removed by the user, and only with force by the operator.

// noticeLinkGone is the notice mailed when an upstream account is unlinked.
const noticeLinkGone = "upstream_unlinked"

// linkedAccount is one linked upstream account as the security page and
// the admin API show it.
type linkedAccount struct {
	ID string `json:"id"`
	// Provider is the configured upstream's id, Name its display name.
	Provider  string    `json:"provider"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) linkedAccount(l store.FederatedLink) linkedAccount {
	name := l.Provider
	if u, ok := s.ups.byID[l.Provider]; ok {
		name = u.Name
	}
	return linkedAccount{ID: profiles.LinkID(l), Provider: l.Provider, Name: name, CreatedAt: l.CreatedAt}
}

// linkedAccounts returns the user's linked upstream accounts.
func (s *Server) linkedAccounts(ctx context.Context, userID string) ([]linkedAccount, error) {
	ls, err := s.profiles.Links(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]linkedAccount, 0, len(ls))
	for _, l := range ls {
		out = append(out, s.linkedAccount(l))
	}
	return out, nil
}

// otherWayIn reports whether the user can sign in without an upstream
// account: with a password or a passkey.
func (s *Server) otherWayIn(ctx context.Context, ident profiles.Identity) (bool, error) {
	if ident.HasPassword {
		return true, nil
	}
	fs, err := s.devices.List(ctx, ident.ID)
	if err != nil {
		return false, err
	}
	for _, f := range fs {
		if f.Kind == store.FactorPasskey && !f.Pending {
			return true, nil
		}
	}
	return false, nil
}

// freshSignIn reports whether the session's sign-in (of any kind) is
// recent enough for a sensitive change.
func (s *Server) freshSignIn(sess store.Session) bool {
	return s.now().Sub(sess.AuthTime) <= freshAuth
}

// handleUnlink removes one of the signed-in user's linked upstream
// accounts. It takes a sign-in within the last ten minutes and refuses to
// remove the account's last way in.
func (s *Server) handleUnlink(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	sess, ident, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	denied := func(status int, reason, key string) {
		s.audit(r, store.AuditEvent{Kind: "upstream.unlink_denied", Actor: ident.ID, Subject: ident.ID, Outcome: "denied",
			Details: map[string]string{"link_id": id, "reason": reason}})
		s.securityError(w, r, status, ident, key)
	}
	if !s.freshSignIn(sess) {
		denied(http.StatusForbidden, "needs_fresh_sign_in", "security.unlink_reauth")
		return
	}
	other, err := s.otherWayIn(r.Context(), ident)
	var l store.FederatedLink
	if err == nil {
		l, err = s.profiles.Unlink(r.Context(), ident.ID, id, !other)
	}
	switch {
	case errors.Is(err, profiles.ErrNotFound):
		s.securityError(w, r, http.StatusNotFound, ident, "security.not_found")
		return
	case errors.Is(err, profiles.ErrLastWayIn):
		denied(http.StatusConflict, "last_way_in", "security.unlink_last")
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "unlink failed", "user_id", ident.ID, "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	s.audit(r, store.AuditEvent{Kind: "upstream.unlinked", Actor: ident.ID, Subject: ident.ID, Outcome: "ok",
		Details: map[string]string{"provider": l.Provider, "link_id": id, "by": "user"}})
	s.notifyUser(r, ident.ID, noticeLinkGone)
	http.Redirect(w, r, "/security?done=unlinked", http.StatusSeeOther)
}

func (s *Server) adminLinkRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/v1/users/{user}/links", s.adminListLinks)
	mux.HandleFunc("DELETE /admin/v1/users/{user}/links/{id}", s.adminUnlink)
}

func (s *Server) adminListLinks(w http.ResponseWriter, r *http.Request) {
	u, err := s.lookupUser(r)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	ls, err := s.linkedAccounts(r.Context(), u.ID)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user_id": u.ID, "links": ls})
}

// adminUnlink removes a user's link. Removing the last way in takes
// ?force=true: the user then gets back in only by a password reset.
func (s *Server) adminUnlink(w http.ResponseWriter, r *http.Request) {
	u, err := s.lookupUser(r)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	force := false
	if v := r.URL.Query().Get("force"); v != "" {
		if force, err = strconv.ParseBool(v); err != nil {
			writeProblem(w, http.StatusBadRequest, "force must be true or false.",
				FieldError{Field: "force", Code: "invalid", Detail: "force must be true or false."})
			return
		}
	}
	other, err := s.otherWayIn(r.Context(), u)
	var l store.FederatedLink
	if err == nil {
		l, err = s.profiles.Unlink(r.Context(), u.ID, r.PathValue("id"), !other && !force)
	}
	switch {
	case errors.Is(err, profiles.ErrNotFound):
		writeProblem(w, http.StatusNotFound, "The user has no such linked account.")
		return
	case errors.Is(err, profiles.ErrLastWayIn):
		writeProblem(w, http.StatusConflict, "This link is the user's only way to sign in (no password, no passkey); add ?force=true to remove it anyway.")
		return
	case err != nil:
		s.writeDomainError(w, r, err)
		return
	}
	s.adminAudit(r, "upstream.unlinked", u.ID, map[string]string{"provider": l.Provider, "link_id": profiles.LinkID(l),
		"by": "admin", "forced": strconv.FormatBool(force && !other)})
	s.notifyUser(r, u.ID, noticeLinkGone)
	writeJSON(w, http.StatusOK, map[string]any{"user_id": u.ID, "unlinked": s.linkedAccount(l)})
}
