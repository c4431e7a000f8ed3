package authserver

import (
	"errors"
	"net/http"
	"time"

	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/store"
)

// adminClientRoutes serves the OpenID Connect clients to the operator.
func (s *Server) adminClientRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/v1/clients", s.adminListClients)
	mux.HandleFunc("POST /admin/v1/clients", s.adminCreateClient)
	mux.HandleFunc("GET /admin/v1/clients/{client}", s.adminGetClient)
	mux.HandleFunc("DELETE /admin/v1/clients/{client}", s.adminDeleteClient)
}

// clientView is a client as the admin API shows it: never its secret.
type clientView struct {
	ID           string    `json:"id"`
	Public       bool      `json:"public"`
	RedirectURIs []string  `json:"redirect_uris"`
	MinACR       string    `json:"min_acr,omitempty"`
	Configured   bool      `json:"configured,omitempty"`
	CreatedAt    time.Time `json:"created_at,omitzero"`
	// Secret is present only in the answer that creates the client.
	Secret string `json:"secret,omitempty"`
}

func viewOf(c store.OIDCClient) clientView {
	return clientView{ID: c.ID, Public: c.Public, RedirectURIs: c.RedirectURIs, MinACR: c.MinACR,
		Configured: c.CreatedAt.IsZero(), CreatedAt: c.CreatedAt}
}

type createClientRequest struct {
	ID           string   `json:"id"`
	RedirectURIs []string `json:"redirect_uris"`
	Public       bool     `json:"public"`
	MinACR       string   `json:"min_acr"`
}

func (s *Server) adminCreateClient(w http.ResponseWriter, r *http.Request) {
	var req createClientRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	c, secret, err := s.oidc.CreateClient(r.Context(), oidcprovider.NewClient{
		ID: req.ID, RedirectURIs: req.RedirectURIs, Public: req.Public, MinACR: req.MinACR})
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

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
