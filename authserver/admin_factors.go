package authserver

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/assent-auth/assent/devices"
)

// adminFactorRoutes serves a user's strong factors to the operator:
// listing (no secrets ever leave) and removal.
func (s *Server) adminFactorRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/v1/users/{user}/factors", s.adminListFactors)
	mux.HandleFunc("DELETE /admin/v1/users/{user}/factors/{id}", s.adminRemoveFactor)
}

// factorList is the body of GET /admin/v1/users/{user}/factors.
type factorList struct {
	Factors []devices.Summary `json:"factors"`
}

func (s *Server) adminListFactors(w http.ResponseWriter, r *http.Request) {
	u, err := s.lookupUser(r)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	fs, err := s.devices.List(r.Context(), u.ID)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	if fs == nil {
		fs = []devices.Summary{}
	}
	writeJSON(w, http.StatusOK, factorList{Factors: fs})
}

// adminRemoveFactor removes one factor of a user, without the fresh
// sign-in a user needs for their last one: the operator is trusted, and
// the removal is audited.
func (s *Server) adminRemoveFactor(w http.ResponseWriter, r *http.Request) {
	u, err := s.lookupUser(r)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	rm, err := s.devices.Remove(r.Context(), u.ID, r.PathValue("id"))
	if errors.Is(err, devices.ErrNotFound) {
		writeProblem(w, http.StatusNotFound, "The user has no factor with this id.")
		return
	}
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	s.adminAudit(r, "factor.removed", u.ID, map[string]string{"kind": rm.Removed.Kind, "factor_id": rm.Removed.ID,
		"recovery_codes_removed": strconv.FormatBool(rm.RecoveryRemoved), "by": "admin"})
	writeJSON(w, http.StatusOK, map[string]any{"removed": rm.Removed, "recovery_codes_removed": rm.RecoveryRemoved})
}
