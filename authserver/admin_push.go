package authserver

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/devices"
	"github.com/assent-auth/assent/store"
)

// adminPushRoutes serves a user's app devices and push lock to the
// operator: list, rename, revoke, and lifting the fatigue lock.
func (s *Server) adminPushRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/v1/users/{user}/app-devices", s.adminListAppDevices)
	mux.HandleFunc("PATCH /admin/v1/users/{user}/app-devices/{id}", s.adminRenameAppDevice)
	mux.HandleFunc("DELETE /admin/v1/users/{user}/app-devices/{id}", s.adminRevokeAppDevice)
	mux.HandleFunc("GET /admin/v1/users/{user}/push-lock", s.adminPushLock)
	mux.HandleFunc("DELETE /admin/v1/users/{user}/push-lock", s.adminPushUnlock)
}

// appDeviceList is the body of GET /admin/v1/users/{user}/app-devices.
type appDeviceList struct {
	Devices []devices.Summary `json:"devices"`
}

// userAppDevices returns the path's user and their enrolled app devices,
// or has answered with a problem.
func (s *Server) userAppDevices(w http.ResponseWriter, r *http.Request) (string, []devices.Summary, bool) {
	u, err := s.lookupUser(r)
	if err != nil {
		s.writeDomainError(w, r, err)
		return "", nil, false
	}
	fs, err := s.devices.List(r.Context(), u.ID)
	if err != nil {
		s.writeDomainError(w, r, err)
		return "", nil, false
	}
	out := []devices.Summary{}
	for _, f := range fs {
		if f.Kind == store.FactorAppDevice && !f.Pending {
			out = append(out, f)
		}
	}
	return u.ID, out, true
}

func (s *Server) adminListAppDevices(w http.ResponseWriter, r *http.Request) {
	_, ds, ok := s.userAppDevices(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, appDeviceList{Devices: ds})
}

// isAppDevice reports whether id is one of ds, or answers 404.
func isAppDevice(w http.ResponseWriter, ds []devices.Summary, id string) bool {
	for _, d := range ds {
		if d.ID == id {
			return true
		}
	}
	writeProblem(w, http.StatusNotFound, "The user has no app device with this id.")
	return false
}

func (s *Server) adminRenameAppDevice(w http.ResponseWriter, r *http.Request) {
	userID, ds, ok := s.userAppDevices(w, r)
	if !ok || !isAppDevice(w, ds, r.PathValue("id")) {
		return
	}
	var body struct {
		Name string `json:"name"`
	}
	if !decodeJSON(w, r, &body) {
		return
	}
	if strings.TrimSpace(body.Name) == "" {
		writeProblem(w, http.StatusBadRequest, "The name must be 1 to 64 characters without control characters.")
		return
	}
	sum, err := s.devices.Rename(r.Context(), userID, r.PathValue("id"), body.Name)
	switch {
	case errors.Is(err, devices.ErrInvalidName):
		writeProblem(w, http.StatusBadRequest, "The name must be 1 to 64 characters without control characters.")
		return
	case errors.Is(err, devices.ErrNotFound):
		writeProblem(w, http.StatusNotFound, "The user has no app device with this id.")
		return
	case err != nil:
		s.writeDomainError(w, r, err)
		return
	}
	s.adminAudit(r, "app_device.renamed", userID, map[string]string{"device_id": sum.ID, "by": "admin"})
	writeJSON(w, http.StatusOK, sum)
}

// adminRevokeAppDevice removes the device: from now on its key opens no
// channel and signs no decision, and a connected channel gets no more
// requests.
func (s *Server) adminRevokeAppDevice(w http.ResponseWriter, r *http.Request) {
	userID, ds, ok := s.userAppDevices(w, r)
	if !ok || !isAppDevice(w, ds, r.PathValue("id")) {
		return
	}
	rm, err := s.devices.Remove(r.Context(), userID, r.PathValue("id"))
	if errors.Is(err, devices.ErrNotFound) {
		writeProblem(w, http.StatusNotFound, "The user has no app device with this id.")
		return
	}
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	s.adminAudit(r, "app_device.revoked", userID, map[string]string{"device_id": rm.Removed.ID,
		"recovery_codes_removed": strconv.FormatBool(rm.RecoveryRemoved), "by": "admin"})
	writeJSON(w, http.StatusOK, map[string]any{"revoked": rm.Removed, "recovery_codes_removed": rm.RecoveryRemoved})
}

// pushLock is the body of GET /admin/v1/users/{user}/push-lock.
type pushLock struct {
	Locked bool      `json:"locked"`
	Until  time.Time `json:"until,omitzero"`
}

func (s *Server) adminPushLock(w http.ResponseWriter, r *http.Request) {
	u, err := s.lookupUser(r)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	until, locked := s.push.LockedUntil(u.ID)
	writeJSON(w, http.StatusOK, pushLock{Locked: locked, Until: until})
}

func (s *Server) adminPushUnlock(w http.ResponseWriter, r *http.Request) {
	u, err := s.lookupUser(r)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	if !s.push.Unlock(r.Context(), u.ID, "admin") {
		writeProblem(w, http.StatusNotFound, "Push approvals are not locked for this user.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
