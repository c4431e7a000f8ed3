package authserver

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/assent-auth/assent/risk"
)

// riskAssessmentView is one recorded assessment as the admin API shows it.
type riskAssessmentView struct {
	Seq           uint64        `json:"seq"`
	Time          string        `json:"time"`
	Event         string        `json:"event"`
	Score         int           `json:"score"`
	Level         string        `json:"level"`
	Decision      string        `json:"decision"`
	ACR           string        `json:"acr,omitempty"`
	Methods       string        `json:"methods,omitempty"`
	Exemption     string        `json:"exemption,omitempty"`
	Country       string        `json:"country,omitempty"`
	IP            string        `json:"ip,omitempty"`
	PolicyVersion string        `json:"policy_version"`
	Reasons       []risk.Reason `json:"reasons"`
}

// adminUserRisk lists the user's most recent risk assessments, newest
// first, with every reason.
func (s *Server) adminUserRisk(w http.ResponseWriter, r *http.Request) {
	u, err := s.lookupUser(r)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			writeProblem(w, http.StatusBadRequest, "Invalid query.", FieldError{Field: "limit", Detail: "must be a whole number from 1 to 200"})
			return
		}
		limit = n
	}
	// The audit log is scanned from the start: fine at this size; an index
	// by subject comes with the console's event stream.
	var ring []riskAssessmentView
	var after uint64
	for {
		evs, err := s.store.ListAudit(r.Context(), after, 1000)
		if err != nil {
			s.writeDomainError(w, r, err)
			return
		}
		for _, ev := range evs {
			if ev.Kind != "risk.assessed" || ev.Subject != u.ID {
				continue
			}
			v := riskAssessmentView{Seq: ev.Seq, Time: ev.Time.Format("2006-01-02T15:04:05Z07:00"), IP: ev.IP,
				Event: ev.Details["event"], Level: ev.Details["level"], Decision: ev.Details["decision"],
				ACR: ev.Details["acr"], Methods: ev.Details["methods"], Exemption: ev.Details["exemption"],
				Country: ev.Details["country"], PolicyVersion: ev.Details["policy_version"], Reasons: []risk.Reason{}}
			v.Score, _ = strconv.Atoi(ev.Details["score"])
			json.Unmarshal([]byte(ev.Details["reasons"]), &v.Reasons)
			ring = append(ring, v)
			if len(ring) > limit {
				ring = ring[1:]
			}
		}
		if len(evs) < 1000 {
			break
		}
		after = evs[len(evs)-1].Seq
	}
	out := make([]riskAssessmentView, 0, len(ring))
	for i := len(ring) - 1; i >= 0; i-- {
		out = append(out, ring[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"user_id": u.ID, "assessments": out})
}

// adminRiskPolicy shows the active policy's version and source.
func (s *Server) adminRiskPolicy(w http.ResponseWriter, r *http.Request) {
	p := s.cfg.RiskPolicy.Current()
	writeJSON(w, http.StatusOK, map[string]any{"version": p.Version(), "source": string(p.Source())})
}
