package authserver

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/assent-auth/assent/adminclient"
	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/store"
)

// adminClientRoutes serves the OpenID Connect clients to the operator.
func (s *Server) adminClientRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/v1/clients", s.adminListClients)
	mux.HandleFunc("POST /admin/v1/clients", s.adminCreateClient)
	mux.HandleFunc("GET /admin/v1/clients/{client}", s.adminGetClient)
	mux.HandleFunc("DELETE /admin/v1/clients/{client}", s.adminDeleteClient)
	mux.HandleFunc("POST /admin/v1/clients/{client}/rotate-secret", s.adminRotateClientSecret)
}

// clientView is a client as the admin API shows it, never with its
// secret except in the answer that creates it: the shape the admin client
// decodes.
type clientView = adminclient.OIDCClient

func viewOf(c store.OIDCClient) clientView {
	v := clientView{ID: c.ID, Name: c.Name, Public: c.Public, RedirectURIs: c.RedirectURIs, MinACR: c.MinACR,
		Configured: c.CreatedAt.IsZero(), CreatedAt: c.CreatedAt,
		AuthMethod: "client_secret_basic", PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, Scopes: c.Scopes,
		GrantTypes: c.GrantTypes, JWKS: json.RawMessage(c.JWKS), JWKSURI: c.JWKSURI, IDTokenAlg: c.IDTokenAlg, FirstParty: c.FirstParty,
		MaxAuthAgeSeconds: int64(c.MaxAuthAge / time.Second)}
	v.CIBAMode, v.NotificationEndpoint, v.CIBAUserCode = c.CIBAMode, c.NotificationEndpoint, c.CIBAUserCode
	v.LogoURI = logoPath(c)
	switch {
	case c.Public:
		v.AuthMethod = "none"
	case len(c.JWKS) > 0 || c.JWKSURI != "":
		v.AuthMethod = "private_key_jwt"
	}
	return v
}

// createClientRequest is the body of POST /admin/v1/clients.
type createClientRequest = adminclient.NewOIDCClient

func (s *Server) adminCreateClient(w http.ResponseWriter, r *http.Request) {
	var req createClientRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	c, secret, err := s.oidc.CreateClient(r.Context(), oidcprovider.NewClient{
		ID: req.ID, Name: req.Name, RedirectURIs: req.RedirectURIs, Public: req.Public, MinACR: req.MinACR,
		PostLogoutRedirectURIs: req.PostLogoutRedirectURIs, Scopes: req.Scopes, GrantTypes: req.GrantTypes,
		JWKS: string(req.JWKS), JWKSURI: req.JWKSURI, IDTokenAlg: req.IDTokenAlg, FirstParty: req.FirstParty,
		MaxAuthAge: time.Duration(req.MaxAuthAgeSeconds) * time.Second,
		CIBAMode:   req.CIBAMode, NotificationEndpoint: req.NotificationEndpoint, Logo: req.Logo,
		CIBAUserCode: req.CIBAUserCode})
	switch {
	case errors.Is(err, oidcprovider.ErrInvalidClient):
		writeProblem(w, http.StatusUnprocessableEntity, err.Error())
		return
	case errors.Is(err, store.ErrExists):
		writeProblem(w, http.StatusConflict, "A client with this id exists.")
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "create client failed", "err", err)
		writeProblem(w, http.StatusInternalServerError, "Internal error; see the server log for request "+RequestID(r.Context())+".")
		return
	}
	s.adminAudit(r, "client.created", "", map[string]string{"client_id": c.ID, "public": boolText(c.Public)})
	v := viewOf(c)
	v.Secret = secret
	w.Header().Set("Location", "/admin/v1/clients/"+c.ID)
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) adminListClients(w http.ResponseWriter, r *http.Request) {
	cs, err := s.oidc.Clients(r.Context())
	if err != nil {
		s.log.ErrorContext(r.Context(), "list clients failed", "err", err)
		writeProblem(w, http.StatusInternalServerError, "Internal error; see the server log for request "+RequestID(r.Context())+".")
		return
	}
	out := make([]clientView, 0, len(cs))
	for _, c := range cs {
		out = append(out, viewOf(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"clients": out})
}

func (s *Server) adminGetClient(w http.ResponseWriter, r *http.Request) {
	c, err := s.oidc.Client(r.Context(), r.PathValue("client"))
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, http.StatusNotFound, "No such client.")
		return
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "get client failed", "err", err)
		writeProblem(w, http.StatusInternalServerError, "Internal error; see the server log for request "+RequestID(r.Context())+".")
		return
	}
	writeJSON(w, http.StatusOK, viewOf(c))
}

func (s *Server) adminDeleteClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("client")
	err := s.oidc.DeleteClient(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, http.StatusNotFound, "No such client.")
		return
	case errors.Is(err, oidcprovider.ErrConfiguredClient):
		writeProblem(w, http.StatusConflict, "The client is declared in the configuration file; remove it there.")
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "delete client failed", "err", err)
		writeProblem(w, http.StatusInternalServerError, "Internal error; see the server log for request "+RequestID(r.Context())+".")
		return
	}
	s.adminAudit(r, "client.deleted", "", map[string]string{"client_id": id})
	w.WriteHeader(http.StatusNoContent)
}

// adminRotateClientSecret gives a stored confidential client a new
// secret, shown once in the answer; the old one stops working.
func (s *Server) adminRotateClientSecret(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("client")
	secret, err := s.oidc.RotateSecret(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, http.StatusNotFound, "No such client.")
		return
	case errors.Is(err, oidcprovider.ErrConfiguredClient):
		writeProblem(w, http.StatusConflict, "The client is declared in the configuration file; change its secret there.")
		return
	case errors.Is(err, oidcprovider.ErrNoSecret):
		writeProblem(w, http.StatusConflict, "The client has no secret (it is public or uses private_key_jwt).")
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "rotate client secret failed", "err", err)
		writeProblem(w, http.StatusInternalServerError, "Internal error; see the server log for request "+RequestID(r.Context())+".")
		return
	}
	s.adminAudit(r, "client.secret_rotated", "", map[string]string{"client_id": id})
	c, err := s.oidc.Client(r.Context(), id)
	if err != nil {
		s.log.ErrorContext(r.Context(), "get client failed", "err", err)
		writeProblem(w, http.StatusInternalServerError, "Internal error; see the server log for request "+RequestID(r.Context())+".")
		return
	}
	v := viewOf(c)
	v.Secret = secret
	writeJSON(w, http.StatusOK, v)
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
