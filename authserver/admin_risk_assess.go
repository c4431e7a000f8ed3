package authserver

import (
	"errors"
	"net/http"
	"strings"

	"github.com/assent-auth/assent/risk"
)

// assessRequest is the body of POST /admin/v1/users/{user}/risk/assess:
// an event as the server would see it.
type assessRequest struct {
	Kind      string `json:"kind"` // login (default), payment, enrollment, recovery, admin
	IP        string `json:"ip"`
	UserAgent string `json:"user_agent"`
	DeviceID  string `json:"device_id"`
	Channel   string `json:"channel"` // web (default), app, ciba
	ClientID  string `json:"client_id"`
	Payment   *struct {
		Amount       int64  `json:"amount"` // minor units
		Currency     string `json:"currency"`
		Payee        string `json:"payee"`
		PayeeTrusted bool   `json:"payee_trusted"`
		Instrument   string `json:"instrument"` // credit_transfer (default) or card
	} `json:"payment"`
}

// adminAssessRisk scores an event for a user with the active policy and
// the user's real history, and records nothing: an operator's "what would
// the engine decide" (a sign-in from this address, a payment of this
// amount), and the load generator's measure of an assessment through the
// server.
func (s *Server) adminAssessRisk(w http.ResponseWriter, r *http.Request) {
	u, err := s.lookupUser(r)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	var req assessRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	ev := risk.Event{Kind: risk.Kind(req.Kind), UserID: u.ID, Time: s.now(), IP: req.IP, UserAgent: req.UserAgent,
		DeviceID: req.DeviceID, Channel: risk.Channel(req.Channel), ClientID: req.ClientID}
	if ev.Kind == "" {
		ev.Kind = risk.KindLogin
	}
	if p := req.Payment; p != nil {
		ev.Payment = risk.Payment{Amount: p.Amount, Currency: strings.ToUpper(p.Currency), Payee: p.Payee,
			PayeeTrusted: p.PayeeTrusted, Instrument: risk.Instrument(p.Instrument)}
	}
	a, err := s.risk.Assess(r.Context(), ev)
	switch {
	case errors.Is(err, risk.ErrInvalidEvent):
		writeProblem(w, http.StatusUnprocessableEntity, "The event cannot be assessed: "+strings.TrimPrefix(err.Error(), risk.ErrInvalidEvent.Error()+": ")+".")
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "risk assessment failed", "err", err)
		writeProblem(w, http.StatusInternalServerError, "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user_id": u.ID, "dry_run": true, "assessment": a})
}
