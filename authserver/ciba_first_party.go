package authserver

import (
	"net/http"
	"sync"

	"github.com/assent-auth/assent/store"
)

// A CIBA request that names a known customer whom the risk engine denies is
// answered, for a third-party client, as for an unknown customer (a decoy
// binding number, pending, then expired), so the endpoint does not tell
// who has an account. A first-party client (the operator's own channels,
// such as its call centre, marked first_party) is trusted with the answer
// instead: the backchannel endpoint refuses at once with access_denied and
// an error_description the agent can act on, "risk_denied" followed by the
// engine's primary reason code (risk.Assessment.PrimaryReason), which
// carries no personal data. No request is kept.

// cibaDenyFirstParty answers a first-party client's request that the risk
// engine denied, after the assessment's audit event.
func (s *Server) cibaDenyFirstParty(w http.ResponseWriter, r *http.Request, c store.OIDCClient, subject string, details map[string]string, audited *sync.WaitGroup) {
	audited.Wait()
	details["outcome"], details["reason"] = "refused", "risk_denied"
	s.audit(r, store.AuditEvent{Kind: "ciba.requested", Actor: c.ID, Subject: subject, Outcome: store.CIBADenied, Details: details})
	desc := "risk_denied"
	if code := details["risk_reason"]; code != "" {
		desc += ": " + code
	}
	// OpenID CIBA Core 1.0, section 13: access_denied is a 403.
	writeOAuthError(w, oauthErr(http.StatusForbidden, "access_denied", desc))
}
