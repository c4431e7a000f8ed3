package authserver

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/store"
)

// requireAdmin lets a request through only with the admin bearer token,
// compared in constant time (of the token's hash, so its length leaks
// nothing either).
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	want := sha256.Sum256(s.cfg.AdminToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="assent-admin"`)
			writeProblem(w, http.StatusUnauthorized, "A valid admin token is required: Authorization: Bearer <token>.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) adminRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/v1/users", s.adminListUsers)
	mux.HandleFunc("POST /admin/v1/users", s.adminCreateUser)
	mux.HandleFunc("POST /admin/v1/users/import", s.adminImportUsers)
	mux.HandleFunc("GET /admin/v1/users/{user}", s.adminGetUser)
	mux.HandleFunc("PATCH /admin/v1/users/{user}", s.adminUpdateUser)
	mux.HandleFunc("DELETE /admin/v1/users/{user}", s.adminDeleteUser)
	mux.HandleFunc("POST /admin/v1/users/{user}/lock", s.adminLockUser)
	mux.HandleFunc("POST /admin/v1/users/{user}/unlock", s.adminUnlockUser)
	mux.HandleFunc("GET /admin/v1/audit", s.adminListAudit)
	mux.HandleFunc("GET /admin/v1/users/{user}/risk", s.adminUserRisk)
	mux.HandleFunc("GET /admin/v1/risk/policy", s.adminRiskPolicy)
	mux.HandleFunc("POST /admin/v1/users/{user}/risk/assess", s.adminAssessRisk)
	s.adminFactorRoutes(mux)
	s.adminProfileRoutes(mux)
	mux.HandleFunc("POST /admin/v1/users/{user}/app-enrollments", s.adminStartAppEnrollment)
	s.adminPushRoutes(mux)
	s.adminClientRoutes(mux)
	s.adminEventRoutes(mux)
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, "No such admin endpoint.")
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// writeDomainError maps a profiles error to a problem document.
func (s *Server) writeDomainError(w http.ResponseWriter, r *http.Request, err error) {
	var ve *profiles.ValidationError
	switch {
	case errors.As(err, &ve):
		writeProblem(w, http.StatusUnprocessableEntity, "The request has invalid fields.",
			FieldError{Field: ve.Field, Code: ve.Code, Detail: ve.Message})
	case errors.Is(err, profiles.ErrEmailTaken):
		writeProblem(w, http.StatusConflict, "Another user has this e-mail address.",
			FieldError{Field: "email", Code: "taken", Detail: "Another user has this e-mail address."})
	case errors.Is(err, profiles.ErrNotFound):
		writeProblem(w, http.StatusNotFound, "No such user.")
	default:
		s.log.ErrorContext(r.Context(), "admin request failed", "err", err)
		writeProblem(w, http.StatusInternalServerError, "Internal error; see the server log for request "+RequestID(r.Context())+".")
	}
}

// lookupUser resolves the {user} path value: an e-mail address when it
// contains @, a user id otherwise.
func (s *Server) lookupUser(r *http.Request) (profiles.Identity, error) {
	key := r.PathValue("user")
	if strings.Contains(key, "@") {
		return s.profiles.GetByEmail(r.Context(), key)
	}
	return s.profiles.Get(r.Context(), key)
}

func (s *Server) adminAudit(r *http.Request, kind, subject string, details map[string]string) {
	s.audit(r, store.AuditEvent{Kind: kind, Actor: "admin", Subject: subject, Outcome: "ok", Details: details})
}

type userList struct {
	Users []profiles.Identity `json:"users"`
	// Next is the cursor for the following page, empty on the last one.
	Next string `json:"next,omitempty"`
}

func (s *Server) adminListUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if email := q.Get("email"); email != "" {
		u, err := s.profiles.GetByEmail(r.Context(), email)
		if errors.Is(err, profiles.ErrNotFound) {
			writeJSON(w, http.StatusOK, userList{Users: []profiles.Identity{}})
			return
		}
		if err != nil {
			s.writeDomainError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, userList{Users: []profiles.Identity{u}})
		return
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeProblem(w, http.StatusBadRequest, "Invalid query.", FieldError{Field: "limit", Detail: "must be a whole number from 1 to 1000"})
			return
		}
		limit = n
	}
	us, err := s.profiles.List(r.Context(), q.Get("after"), limit)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	for i := range us {
		us[i] = s.profiles.Redacted(us[i])
	}
	out := userList{Users: us}
	if len(us) == limit {
		out.Next = us[len(us)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

// createUserRequest is the body of POST /admin/v1/users and one line of an
// import.
type createUserRequest struct {
	Email        string `json:"email"`
	Name         string `json:"name,omitempty"`
	Password     string `json:"password,omitempty"`
	PasswordHash string `json:"password_hash,omitempty"`
	// Unverified creates the user with an unverified e-mail; operators'
	// users count as verified by default.
	Unverified bool `json:"unverified,omitempty"`
}

func (c createUserRequest) newUser() profiles.NewUser {
	return profiles.NewUser{Email: c.Email, Name: c.Name, Password: c.Password, PasswordHash: c.PasswordHash, EmailVerified: !c.Unverified}
}

func (s *Server) adminCreateUser(w http.ResponseWriter, r *http.Request) {
	var req createUserRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	u, err := s.profiles.Create(r.Context(), req.newUser())
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	s.adminAudit(r, "user.created", u.ID, map[string]string{"via": "admin"})
	w.Header().Set("Location", "/admin/v1/users/"+u.ID)
	writeJSON(w, http.StatusCreated, u)
}

func (s *Server) adminGetUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.lookupUser(r)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	// High-sensitivity attributes only through .../attributes.
	writeJSON(w, http.StatusOK, s.profiles.Redacted(u))
}

func (s *Server) adminUpdateUser(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email *string `json:"email"`
		Name  *string `json:"name"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	u, err := s.lookupUser(r)
	if err == nil {
		u, err = s.profiles.Update(r.Context(), u.ID, profiles.Changes{Email: req.Email, Name: req.Name})
	}
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	s.adminAudit(r, "user.updated", u.ID, nil)
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) adminDeleteUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.lookupUser(r)
	if err == nil {
		err = s.profiles.Delete(r.Context(), u.ID)
	}
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	s.adminAudit(r, "user.deleted", u.ID, nil)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) adminLockUser(w http.ResponseWriter, r *http.Request)   { s.adminSetLock(w, r, true) }
func (s *Server) adminUnlockUser(w http.ResponseWriter, r *http.Request) { s.adminSetLock(w, r, false) }

func (s *Server) adminSetLock(w http.ResponseWriter, r *http.Request, lock bool) {
	u, err := s.lookupUser(r)
	if err == nil {
		if lock {
			u, err = s.profiles.Lock(r.Context(), u.ID)
		} else {
			u, err = s.profiles.Unlock(r.Context(), u.ID)
		}
	}
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	kind := "user.unlocked"
	if lock {
		kind = "user.locked"
	}
	s.adminAudit(r, kind, u.ID, nil)
	writeJSON(w, http.StatusOK, u)
}

// maxImportBytes bounds one import request; larger files are sent in parts
// by the CLI.
const maxImportBytes = 32 << 20

// importResult reports what an import did, line by line for failures.
type importResult struct {
	Created int              `json:"created"`
	Failed  []importLineFail `json:"failed"`
}

type importLineFail struct {
	Line   int          `json:"line"`
	Errors []FieldError `json:"errors"`
}

// adminImportUsers creates users from JSON lines (createUserRequest per
// line). Each line is created entirely or not at all; bad lines are
// reported with their number and the import goes on.
func (s *Server) adminImportUsers(w http.ResponseWriter, r *http.Request) {
	sc := bufio.NewScanner(http.MaxBytesReader(w, r.Body, maxImportBytes))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	res := importResult{Failed: []importLineFail{}}
	fail := func(line int, fe FieldError) {
		res.Failed = append(res.Failed, importLineFail{Line: line, Errors: []FieldError{fe}})
	}
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		if !utf8.Valid(b) {
			fail(line, FieldError{Field: "line", Code: "invalid_utf8", Detail: "not valid UTF-8"})
			continue
		}
		var req createUserRequest
		if err := strictUnmarshal(b, &req); err != nil {
			fail(line, FieldError{Field: "line", Code: "invalid_json", Detail: jsonErrorDetail(err)})
			continue
		}
		u, err := s.profiles.Create(r.Context(), req.newUser())
		var ve *profiles.ValidationError
		switch {
		case errors.As(err, &ve):
			fail(line, FieldError{Field: ve.Field, Code: ve.Code, Detail: ve.Message})
		case errors.Is(err, profiles.ErrEmailTaken):
			fail(line, FieldError{Field: "email", Code: "taken", Detail: "Another user has this e-mail address."})
		case err != nil:
			s.writeDomainError(w, r, fmt.Errorf("import line %d: %w", line, err))
			return
		default:
			res.Created++
			s.adminAudit(r, "user.created", u.ID, map[string]string{"via": "import"})
		}
	}
	if err := sc.Err(); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			writeProblem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("The import is larger than 32 MiB; %d users were created before line %d.", res.Created, line+1))
		case errors.Is(err, bufio.ErrTooLong):
			writeProblem(w, http.StatusBadRequest, fmt.Sprintf("Line %d is longer than 64 KiB; %d users were created before it.", line+1, res.Created))
		default:
			writeProblem(w, http.StatusBadRequest, "The request body could not be read.")
		}
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) adminListAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after uint64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeProblem(w, http.StatusBadRequest, "Invalid query.", FieldError{Field: "after", Detail: "must be a sequence number"})
			return
		}
		after = n
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeProblem(w, http.StatusBadRequest, "Invalid query.", FieldError{Field: "limit", Detail: "must be a whole number from 1 to 1000"})
			return
		}
		limit = n
	}
	evs, err := s.store.ListAudit(r.Context(), after, limit)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	if evs == nil {
		evs = []store.AuditEvent{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs})
}
