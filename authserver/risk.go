package authserver

import (
	"context"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/risk"
	"github.com/assent-auth/assent/risk/geo"
	"github.com/assent-auth/assent/store"
)

// historyAdapter gives the risk engine its History: per-user records from
// the store, and per-network counters from the in-memory throttle (a
// restart forgets those, as it forgets the delays they drive).
type historyAdapter struct {
	st store.History
	th *throttle
}

var _ risk.History = historyAdapter{}

func (h historyAdapter) User(ctx context.Context, q risk.UserQuery, f *risk.UserFacts) error {
	if q.SignIns > 0 {
		sis, err := h.st.ListSignIns(ctx, q.UserID, q.SignIns)
		if err != nil {
			return err
		}
		for _, s := range sis {
			f.SignIns = append(f.SignIns, signInFromStore(s))
		}
	}
	if q.Payments > 0 {
		ps, err := h.st.ListPayments(ctx, q.UserID, q.PaymentsSince, q.Payments)
		if err != nil {
			return err
		}
		for _, p := range ps {
			f.Payments = append(f.Payments, risk.PaymentRecord{Time: p.Time, Amount: p.Amount, Currency: p.Currency, Payee: p.Payee, Strong: p.Strong})
		}
	}
	if q.DeviceID != "" {
		t, err := h.st.DeviceFirstSeen(ctx, q.UserID, q.DeviceID)
		if err != nil {
			return err
		}
		f.DeviceFirstSeen = t
	}
	if q.Payee != "" {
		t, err := h.st.PayeeFirstSeen(ctx, q.UserID, q.Payee)
		if err != nil {
			return err
		}
		f.PayeeKnown = !t.IsZero()
	}
	t, err := h.st.LastReport(ctx, q.UserID)
	if err != nil {
		return err
	}
	f.LastReport = t
	f.Failures = h.th.countSince(userKey(q.UserID), q.FailuresSince)
	return nil
}

func (h historyAdapter) Network(ctx context.Context, q risk.NetworkQuery, f *risk.NetworkFacts) error {
	key := netKey(q.Network)
	f.Failures = h.th.countSince(key, q.FailuresSince)
	f.Accounts = h.th.distinctSince(key, q.AccountsSince)
	return nil
}

func userKey(id string) string      { return "user:" + id }
func netKey(p netip.Prefix) string  { return "net:" + p.String() }
func netKeyOf(ip netip.Addr) string { return netKey(risk.NetworkOf(ip)) }
func signInFromStore(s store.SignInRecord) risk.SignIn {
	ip, _ := netip.ParseAddr(s.IP)
	var prec geo.Precision
	prec.UnmarshalText([]byte(s.Precision))
	return risk.SignIn{
		Time: s.Time,
		IP:   ip,
		Location: geo.Location{Country: s.Country, Lat: s.Lat, Lon: s.Lon, RadiusKm: s.RadiusKm,
			Precision: prec, Mobile: s.Mobile, Anonymous: s.Anonymous},
		DeviceID: s.DeviceID,
		Browser:  s.Browser,
		OS:       s.OS,
		Strong:   s.Strong,
	}
}

// loginEvent is the risk event for a sign-in attempt by userID from r.
func (s *Server) loginEvent(r *http.Request, userID string) risk.Event {
	return risk.Event{
		Kind:      risk.KindLogin,
		UserID:    userID,
		Time:      s.now(),
		IP:        clientIP(r).String(),
		UserAgent: r.UserAgent(),
		DeviceID:  s.deviceID(r),
		Channel:   risk.ChannelWeb,
		ClientID:  s.oidcClientOf(r), // the policy's per-client overrides (oidc_consent.go)
	}
}

// assess runs the engine and records the assessment in the audit log. The
// engine fails closed: on error the assessment still demands a challenge.
func (s *Server) assess(r *http.Request, ev risk.Event, subject string) risk.Assessment {
	a, err := s.risk.Assess(r.Context(), ev)
	if err != nil {
		s.log.WarnContext(r.Context(), "risk assessment failed; failing closed", "err", err)
	}
	s.metrics.assessments.WithLabelValues(string(ev.Kind), a.Decision.String()).Inc()
	s.audit(r, store.AuditEvent{Kind: "risk.assessed", Actor: "system", Subject: subject, Outcome: a.Decision.String(),
		Details: assessmentDetails(ev, a)})
	return a
}

// assessmentDetails flattens an assessment for the audit log. The reasons
// travel as JSON so the console and `assent risk explain` can show them.
func assessmentDetails(ev risk.Event, a risk.Assessment) map[string]string {
	d := map[string]string{
		"event":          string(ev.Kind),
		"score":          strconv.Itoa(a.Score),
		"level":          string(a.Level),
		"decision":       a.Decision.String(),
		"policy_version": a.PolicyVersion,
	}
	if a.ACR != "" {
		d["acr"] = a.ACR
	}
	if len(a.Methods) > 0 {
		d["methods"] = strings.Join(a.Methods, " ")
	}
	if a.Exemption != "" {
		d["exemption"] = string(a.Exemption)
	}
	if a.Location.Country != "" {
		d["country"] = a.Location.Country
		d["precision"] = a.Location.Precision.String()
	}
	if ev.ClientID != "" {
		d["client_id"] = ev.ClientID
	}
	codes := make([]string, 0, len(a.Reasons))
	for _, rs := range a.Reasons {
		codes = append(codes, string(rs.Code))
	}
	d["reason_codes"] = strings.Join(codes, " ")
	if b, err := json.Marshal(a.Reasons); err == nil {
		d["reasons"] = string(b)
	}
	return d
}

// recordSignIn stores a completed sign-in in the risk history. A device
// used with strong authentication becomes known from then on.
func (s *Server) recordSignIn(r *http.Request, userID, deviceID string, strong bool) {
	ip := clientIP(r)
	loc := geo.Location{}
	if geo.Locatable(ip) {
		loc = s.cfg.Locator.Locate(ip)
	}
	ua := risk.ParseUserAgent(r.UserAgent())
	rec := store.SignInRecord{
		Time: s.now().UTC(), IP: ip.String(),
		Country: loc.Country, Lat: loc.Lat, Lon: loc.Lon, RadiusKm: loc.RadiusKm,
		Mobile: loc.Mobile, Anonymous: loc.Anonymous,
		DeviceID: deviceID, Browser: ua.Browser, OS: ua.OS, Strong: strong,
	}
	if loc.Known() {
		rec.Precision = loc.Precision.String()
	}
	if err := s.store.AppendSignIn(r.Context(), userID, rec); err != nil {
		s.log.ErrorContext(r.Context(), "record sign-in history failed", "err", err)
	}
}

// The device cookie is a long-lived, sealed browser identifier: the risk
// engine knows a device once a strong sign-in happened on it. It is sealed
// (AES-GCM) so it cannot be forged or edited, and it carries no personal
// data.
const deviceCookieTTL = 400 * 24 * time.Hour

// deviceID returns the request's verified device id, or "".
func (s *Server) deviceID(r *http.Request) string {
	v := s.cookie(r, "assent_device")
	if v == "" || len(v) > 200 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return ""
	}
	id, err := openSealed(s.deviceAEAD, b, []byte("device"))
	if err != nil {
		return ""
	}
	return string(id)
}

// ensureDevice returns the request's device id, issuing a new sealed
// device cookie when the request has none.
func (s *Server) ensureDevice(w http.ResponseWriter, r *http.Request) string {
	if id := s.deviceID(r); id != "" {
		return id
	}
	id := "d_" + randomToken(16)
	sealed := sealWith(s.deviceAEAD, []byte(id), []byte("device"))
	s.setCookie(w, "assent_device", base64.RawURLEncoding.EncodeToString(sealed), deviceCookieTTL)
	return id
}

func sealWith(aead cipher.AEAD, plaintext, aad []byte) []byte {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	randRead(nonce)
	return aead.Seal(nonce, nonce, plaintext, aad)
}

func openSealed(aead cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	n := aead.NonceSize()
	if len(sealed) < n+aead.Overhead() {
		return nil, errNoSession
	}
	return aead.Open(nil, sealed[:n], sealed[n:], aad)
}

// challengeWithoutFactor is what a challenge means for a user with no
// factor to step up to: the sign-in goes on (so nobody is locked out of
// their account by a risk score alone), the user is nudged to add a passkey
// and mailed a security notice (completeSignIn sends it); only the deny
// band refuses.
func (s *Server) challengeWithoutFactor(r *http.Request, ident profiles.Identity, a risk.Assessment) {
	s.log.InfoContext(r.Context(), "challenge without a second factor: signing in with a notice", "user_id", ident.ID, "score", a.Score)
}

// riskDetails adds an assessment's outcome to a sign-in's audit details;
// completeSignIn reads them to decide on a security notice.
func riskDetails(details map[string]string, a risk.Assessment) {
	details["risk_score"] = strconv.Itoa(a.Score)
	details["risk_decision"] = a.Decision.String()
	details["risk_level"] = string(a.Level)
	codes := make([]string, 0, len(a.Reasons))
	for _, rs := range a.Reasons {
		codes = append(codes, string(rs.Code))
	}
	details["reason_codes"] = strings.Join(codes, " ")
}
