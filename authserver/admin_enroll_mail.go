package authserver

import (
	"encoding/base64"
	htmltemplate "html/template"
	"net/http"
	"strings"

	"github.com/assent-auth/assent/devices"
	"github.com/assent-auth/assent/profiles"
)

// An operator's app enrollment code is shown to the operator or, with
// {"send": "email"}, mailed to the user (code and QR, nothing else), so
// that it never passes through the operator's hands.

const enrollSendEmail = "email"

// enrollmentRequest is the optional body of POST
// /admin/v1/users/{user}/app-enrollments.
type enrollmentRequest struct {
	// Send is "show" (the default: the code is in the answer) or "email".
	Send string `json:"send"`
}

// enrollmentSend reads how the operator wants the code delivered to u and
// checks that it can be; on failure it has answered.
func (s *Server) enrollmentSend(w http.ResponseWriter, r *http.Request, u profiles.Identity) (string, bool) {
	var req enrollmentRequest
	if r.ContentLength != 0 && !decodeJSON(w, r, &req) {
		return "", false
	}
	switch req.Send {
	case "", "show":
		return "show", true
	case enrollSendEmail:
	default:
		writeProblem(w, http.StatusUnprocessableEntity, "The request has invalid fields.",
			FieldError{Field: "send", Code: "invalid", Detail: `send must be "show" or "email".`})
		return "", false
	}
	if s.cfg.Mail == nil {
		writeProblem(w, http.StatusServiceUnavailable, "This server sends no mail (no SMTP configured); show the code instead.")
		return "", false
	}
	if !u.EmailVerified {
		writeProblem(w, http.StatusConflict, "The user's e-mail address is not verified; an enrollment code is mailed only to a verified address.",
			FieldError{Field: "send", Code: "email_unverified", Detail: "The user's e-mail address is not verified."})
		return "", false
	}
	return enrollSendEmail, true
}

// mailAppEnrollment queues the enrollment mail to u and answers 202
// without the code.
func (s *Server) mailAppEnrollment(w http.ResponseWriter, r *http.Request, u profiles.Identity, e devices.AppEnrollment) {
	tag := s.theme.lang("")
	expires := strings.ReplaceAll(s.theme.message(tag, "mail.app_enroll.expiry"), "{time}", e.Expires.UTC().Format("15:04 MST"))
	d := mailData{Name: u.Name, Code: e.Code.Reveal(), Expires: expires,
		QR: htmltemplate.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QR))}
	if err := s.sendMail(r.Context(), tag, "app_enroll", u.Email, d); err != nil {
		s.log.ErrorContext(r.Context(), "enrollment mail not queued", "user_id", u.ID, "err", err)
		writeProblem(w, http.StatusInternalServerError, "The enrollment mail could not be queued; see the server log for request "+RequestID(r.Context())+".")
		return
	}
	s.adminAudit(r, "app_device.enrollment_started", u.ID, map[string]string{"by": "admin", "sent": enrollSendEmail})
	writeJSON(w, http.StatusAccepted, map[string]any{"sent": enrollSendEmail, "sent_to": u.Email, "expires_at": e.Expires})
}
