package authserver

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/deviceclient"
	"github.com/assent-auth/assent/risk"
	"github.com/assent-auth/assent/store"
)

const cibaSecret = "merchant-secret-0123456789-abcdefghij"

// pingReceiver is the merchant's notification endpoint: a real HTTP server
// on loopback that records every ping and can fail the first ones.
type pingReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	pings []ping
	fail  int
	got   chan ping
}

type ping struct {
	auth, authReqID string
}

func newPingReceiver(t *testing.T) *pingReceiver {
	p := &pingReceiver{got: make(chan ping, 16)}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			AuthReqID string `json:"auth_req_id"`
		}
		json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&body)
		p.mu.Lock()
		if p.fail > 0 {
			p.fail--
			p.mu.Unlock()
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		pg := ping{auth: r.Header.Get("Authorization"), authReqID: body.AuthReqID}
		p.pings = append(p.pings, pg)
		p.mu.Unlock()
		p.got <- pg
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *pingReceiver) wait(t *testing.T) ping {
	t.Helper()
	select {
	case pg := <-p.got:
		return pg
	case <-time.After(5 * time.Second):
		t.Fatal("no ping arrived")
		return ping{}
	}
}

// merchant is a CIBA client written with plain net/http.
type merchant struct {
	t      *testing.T
	e      *env
	id     string
	secret string
}

type cibaAnswer struct {
	status int
	body   map[string]any
	raw    []byte
}

func (a cibaAnswer) str(k string) string { s, _ := a.body[k].(string); return s }
func (a cibaAnswer) num(k string) int    { f, _ := a.body[k].(float64); return int(f) }

func (m merchant) post(path string, form url.Values) cibaAnswer {
	m.t.Helper()
	req, _ := http.NewRequestWithContext(m.t.Context(), http.MethodPost, m.e.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(m.id, m.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := cibaAnswer{status: resp.StatusCode, raw: raw}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		m.t.Fatalf("%s answered %d %q", path, resp.StatusCode, raw)
	}
	return a
}

func (m merchant) start(form url.Values) cibaAnswer {
	m.t.Helper()
	if !form.Has("scope") {
		form.Set("scope", "openid")
	}
	return m.post("/bc-authorize", form)
}

func (m merchant) poll(id string) cibaAnswer {
	m.t.Helper()
	return m.post("/oauth/token", url.Values{"grant_type": {oidcprovider.GrantTypeCIBA}, "auth_req_id": {id}})
}

func wantOAuthError(t *testing.T, what string, a cibaAnswer, status int, code string) {
	t.Helper()
	if a.status != status || a.str("error") != code {
		t.Fatalf("%s: %d %s, want %d %s", what, a.status, a.raw, status, code)
	}
}

func paymentDetails(amount, currency, payee string) string {
	return `[{"type":"payment_initiation","instructedAmount":{"currency":"` + currency + `","amount":"` + amount +
		`"},"creditorName":"` + payee + `","creditorAccount":{"iban":"DE89370400440532013000"}}]`
}

// cibaWorld is a server with a poll client (shop), a ping client (till)
// and a web-only client, a user with the reference app enrolled and
// connected, and number matching by risk.
type cibaWorld struct {
	e        *env
	opts     []envOption
	shop     merchant
	till     merchant
	receiver *pingReceiver
	conn     *deviceclient.Conn
	device   *deviceclient.Identity
}

func newCIBAWorld(t *testing.T, opts ...envOption) *cibaWorld {
	recv := newPingReceiver(t)
	opts = append([]envOption{
		withClients(
			oidcprovider.ClientConfig{ID: "shop", Secret: cibaSecret, RedirectURIs: []string{rpCallback}, CIBAMode: "poll"},
			oidcprovider.ClientConfig{ID: "till", Secret: cibaSecret, RedirectURIs: []string{rpCallback}, CIBAMode: "ping",
				NotificationEndpoint: recv.URL + "/ciba/notify"},
			oidcprovider.ClientConfig{ID: "web", Secret: rpSecret, RedirectURIs: []string{rpCallback}},
		),
		func(c *Config) {
			c.PushNumberMatching = push.NumberByRisk
			c.PushFatigue = push.Fatigue{MaxRequests: 1000, MaxDenials: 1000}
		},
	}, opts...)
	e := newEnv(t, opts...)
	w := &cibaWorld{e: e, opts: opts, receiver: recv,
		shop: merchant{t: t, e: e, id: "shop", secret: cibaSecret},
		till: merchant{t: t, e: e, id: "till", secret: cibaSecret}}
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	w.device = b.enrollApp(t.Context())
	conn, err := w.device.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	w.conn = conn
	return w
}

// approve waits for the request on the phone and answers it.
func (w *cibaWorld) answer(t *testing.T, a deviceclient.Answer) push.RequestView {
	t.Helper()
	m := nextOfType(t, w.conn, push.MsgRequest)
	d, err := w.device.Sign(*m.Request, a)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.conn.Send(d); err != nil {
		t.Fatal(err)
	}
	if res := nextOfType(t, w.conn, push.MsgResult); !res.OK {
		t.Fatalf("decision refused: %+v", res)
	}
	return *m.Request
}

// noTRA is the default policy without the transaction risk analysis
// exemption, so the low-value boundaries show.
func noTRA(t *testing.T) envOption {
	pol, err := risk.LoadPolicy(bytes.Replace(risk.DefaultPolicyYAML(), []byte("tra:\n      enabled: true"), []byte("tra:\n      enabled: false"), 1))
	if err != nil {
		t.Fatal(err)
	}
	return func(c *Config) { c.RiskPolicy = pol }
}

func TestCIBAPollPaymentEndToEnd(t *testing.T) {
	w := newCIBAWorld(t, noTRA(t))
	e, shop := w.e, w.shop
	details := paymentDetails("89.90", "EUR", "Acme Shop")

	// Discovery advertises CIBA and RAR; go-oidc reads it.
	p, err := gooidc.NewProvider(t.Context(), e.ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		BC     string   `json:"backchannel_authentication_endpoint"`
		Modes  []string `json:"backchannel_token_delivery_modes_supported"`
		Grants []string `json:"grant_types_supported"`
		Types  []string `json:"authorization_details_types_supported"`
	}
	if err := p.Claims(&disc); err != nil {
		t.Fatal(err)
	}
	if disc.BC != e.ts.URL+"/bc-authorize" || !slices.Equal(disc.Modes, []string{"poll", "ping"}) ||
		!slices.Contains(disc.Grants, oidcprovider.GrantTypeCIBA) || !slices.Equal(disc.Types, []string{"payment_initiation"}) {
		t.Fatalf("discovery: %+v", disc)
	}

	a := shop.start(url.Values{"login_hint": {"ada@example.com"}, "binding_message": {"Order 4711"},
		"authorization_details": {details}, "acr_values": {"mfa"}})
	if a.status != http.StatusOK || a.str("auth_req_id") == "" || a.num("expires_in") != 120 || a.num("interval") != 5 {
		t.Fatalf("backchannel: %d %s", a.status, a.raw)
	}
	id, number := a.str("auth_req_id"), a.num("binding_number")
	if number < 10 || number > 99 {
		t.Fatalf("a payment without an exemption must ask for number matching; binding_number %d", number)
	}

	// Polling: pending, then slow_down when too fast.
	wantOAuthError(t, "first poll", shop.poll(id), 400, "authorization_pending")
	wantOAuthError(t, "fast poll", shop.poll(id), 400, "slow_down")
	// Someone else's auth_req_id is unknown to another client.
	other := merchant{t: t, e: e, id: "till", secret: cibaSecret}
	wantOAuthError(t, "other client's id", other.poll(id), 400, "invalid_grant")
	// A web-only client may not use the grant; a wrong secret is refused.
	web := merchant{t: t, e: e, id: "web", secret: rpSecret}
	wantOAuthError(t, "web client", web.poll(id), 400, "unauthorized_client")
	wantOAuthError(t, "wrong secret", merchant{t: t, e: e, id: "shop", secret: "wrong"}.poll(id), 401, "invalid_client")

	// The phone shows the amount and payee exactly; a decision signed over
	// another amount is refused.
	m := nextOfType(t, w.conn, push.MsgRequest)
	req := *m.Request
	if req.Kind != store.PushPayment || req.Amount != "89.90" || req.Currency != "EUR" ||
		req.Payee != "Acme Shop (DE89370400440532013000)" || !strings.Contains(req.RPName, "Order 4711") ||
		!slices.Contains(req.Choices, number) {
		t.Fatalf("the app shows %+v (number %d)", req, number)
	}
	tampered := req
	tampered.Amount = "8.99"
	d, _ := w.device.Sign(tampered, deviceclient.Answer{Approve: true, Number: number})
	w.conn.Send(d)
	if res := nextOfType(t, w.conn, push.MsgResult); res.OK || res.Reason != "tampered" {
		t.Fatalf("tampered amount: %+v", res)
	}
	e.clock.Advance(11 * time.Second)
	wantOAuthError(t, "poll after tampering", shop.poll(id), 400, "authorization_pending")

	d, _ = w.device.Sign(req, deviceclient.Answer{Approve: true, Number: number})
	w.conn.Send(d)
	if res := nextOfType(t, w.conn, push.MsgResult); !res.OK {
		t.Fatalf("approval: %+v", res)
	}
	e.clock.Advance(16 * time.Second)
	tok := shop.poll(id)
	if tok.status != http.StatusOK || tok.str("token_type") != "Bearer" || tok.str("refresh_token") != "" {
		t.Fatalf("tokens: %d %s", tok.status, tok.raw)
	}
	var wantDetails any
	json.Unmarshal([]byte(details), &wantDetails)
	if got := tok.body["authorization_details"]; !jsonEqual(got, wantDetails) {
		t.Fatalf("token response authorization_details %v, want %v", got, wantDetails)
	}

	// go-oidc verifies the ID token against /keys.
	idt, err := p.Verifier(&gooidc.Config{ClientID: "shop"}).Verify(t.Context(), tok.str("id_token"))
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	var claims struct {
		ACR      string   `json:"acr"`
		AMR      []string `json:"amr"`
		AuthTime int64    `json:"auth_time"`
		Details  any      `json:"authorization_details"`
		Exempt   string   `json:"psd2_exemption"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.ACR != "1" || !slices.Equal(claims.AMR, []string{"swk", "mca"}) || claims.AuthTime == 0 ||
		!jsonEqual(claims.Details, wantDetails) || claims.Exempt != "" {
		t.Fatalf("ID token claims %+v", claims)
	}
	if idt.Subject == "" || idt.Audience[0] != "shop" {
		t.Fatalf("ID token sub %q aud %v", idt.Subject, idt.Audience)
	}
	// The JWT access token verifies with the same keys and carries the same.
	at, err := p.Verifier(&gooidc.Config{SkipClientIDCheck: true}).Verify(t.Context(), tok.str("access_token"))
	if err != nil {
		t.Fatalf("verify access token: %v", err)
	}
	claims.Details = nil
	if err := at.Claims(&claims); err != nil || claims.ACR != "1" || !jsonEqual(claims.Details, wantDetails) {
		t.Fatalf("access token claims %+v, %v", claims, err)
	}

	// Introspection returns the approved details too (RFC 9396 section 9.2).
	in := shop.post("/oauth/introspect", url.Values{"token": {tok.str("access_token")}})
	if in.status != http.StatusOK || in.body["active"] != true || !jsonEqual(in.body["authorization_details"], wantDetails) {
		t.Fatalf("introspection: %d %s", in.status, in.raw)
	}

	// auth_req_id is single-use.
	wantOAuthError(t, "replay", shop.poll(id), 400, "invalid_grant")

	// The audit log has the assessment and the decision with its reasons.
	events, err := e.db.ListAudit(t.Context(), 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range events {
		if strings.HasPrefix(ev.Kind, "ciba.") || ev.Kind == "risk.assessed" && ev.Details["event"] == "payment" {
			kinds = append(kinds, ev.Kind)
		}
	}
	for _, k := range []string{"risk.assessed", "ciba.requested", "ciba.approved", "ciba.tokens_issued"} {
		if !slices.Contains(kinds, k) {
			t.Errorf("audit log lacks %s: %v", k, kinds)
		}
	}

	// Now that a payment had strong authentication, a EUR 30.00 payment to
	// the same payee is exempt (low value): no number to match, and the
	// token says so. EUR 30.01 is not.
	a = shop.start(url.Values{"login_hint": {"ada@example.com"}, "authorization_details": {paymentDetails("30.00", "EUR", "Acme Shop")}})
	if a.status != http.StatusOK || a.num("binding_number") != 0 {
		t.Fatalf("low-value payment: %d %s", a.status, a.raw)
	}
	w.answer(t, deviceclient.Answer{Approve: true})
	tok = shop.poll(a.str("auth_req_id"))
	idt, err = p.Verifier(&gooidc.Config{ClientID: "shop"}).Verify(t.Context(), tok.str("id_token"))
	if err != nil {
		t.Fatalf("low-value tokens: %s: %v", tok.raw, err)
	}
	claims.AMR, claims.Exempt = nil, ""
	idt.Claims(&claims)
	if claims.Exempt != string(risk.ExemptionLowValue) || !slices.Equal(claims.AMR, []string{"swk", "mca", "rba"}) {
		t.Fatalf("low-value claims %+v", claims)
	}
	a = shop.start(url.Values{"login_hint": {"ada@example.com"}, "authorization_details": {paymentDetails("30.01", "EUR", "Acme Shop")}})
	if a.status != http.StatusOK || a.num("binding_number") == 0 {
		t.Fatalf("EUR 30.01 must need number matching: %d %s", a.status, a.raw)
	}

	// The phone denies: access_denied with the reason. The token request
	// that carries the decision over stores it: a second one gets the same
	// answer, and the denial is audited once.
	w.answer(t, deviceclient.Answer{Approve: false})
	wantOAuthError(t, "denied", shop.poll(a.str("auth_req_id")), 400, "access_denied")
	wantOAuthError(t, "denied again", shop.poll(a.str("auth_req_id")), 400, "access_denied")
	events, err = e.db.ListAudit(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	kinds = kinds[:0]
	for _, ev := range events {
		if strings.HasPrefix(ev.Kind, "ciba.") {
			kinds = append(kinds, ev.Kind)
		}
	}
	if n := slices.Index(kinds, "ciba.denied"); n < 0 || slices.Contains(kinds[n+1:], "ciba.denied") {
		t.Errorf("want one ciba.denied: %v", kinds)
	}
	// The decision is logged before the tokens it leads to.
	if i, j := slices.Index(kinds, "ciba.approved"), slices.Index(kinds, "ciba.tokens_issued"); i < 0 || j < i {
		t.Errorf("ciba.approved must precede ciba.tokens_issued: %v", kinds)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestCIBAPingDurableRetry(t *testing.T) {
	w := newCIBAWorld(t)
	e, till := w.e, w.till

	a := till.start(url.Values{"login_hint": {"ada@example.com"}, "client_notification_token": {"notify-me-8f3a"},
		"authorization_details": {paymentDetails("12.00", "EUR", "Corner Cafe")}})
	if a.status != http.StatusOK {
		t.Fatalf("backchannel: %d %s", a.status, a.raw)
	}
	id := a.str("auth_req_id")
	w.answer(t, deviceclient.Answer{Approve: true, Number: a.num("binding_number")})
	pg := w.receiver.wait(t)
	if pg.auth != "Bearer notify-me-8f3a" || pg.authReqID != id {
		t.Fatalf("ping %+v, want the bearer token and %s", pg, id)
	}
	if tok := till.poll(id); tok.status != http.StatusOK || tok.str("id_token") == "" {
		t.Fatalf("tokens after ping: %d %s", tok.status, tok.raw)
	}

	// The endpoint fails the first ping; the retry is kept in the store and
	// survives a restart.
	w.receiver.mu.Lock()
	w.receiver.fail = 1
	w.receiver.mu.Unlock()
	a = till.start(url.Values{"login_hint": {"ada@example.com"}, "client_notification_token": {"second-token"},
		"authorization_details": {paymentDetails("14.00", "EUR", "Corner Cafe")}})
	id = a.str("auth_req_id")
	w.answer(t, deviceclient.Answer{Approve: true, Number: a.num("binding_number")})
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec, err := e.db.GetCIBARequest(t.Context(), cibaHash(id))
		if err == nil && rec.NotifyAttempts == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("first notification attempt not recorded: %+v %v", rec, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.conn.Close()
	e.stop()
	e.start(w.opts...)
	e.clock.Advance(2 * time.Second)
	e.srv.cibaTick(t.Context())
	if pg := w.receiver.wait(t); pg.auth != "Bearer second-token" || pg.authReqID != id {
		t.Fatalf("retried ping %+v", pg)
	}
	till.e = e
	if tok := till.poll(id); tok.status != http.StatusOK {
		t.Fatalf("tokens after the retried ping: %d %s", tok.status, tok.raw)
	}
}

func TestCIBAUnknownUserExpiryAndBadInput(t *testing.T) {
	w := newCIBAWorld(t)
	e, shop, till := w.e, w.shop, w.till
	details := paymentDetails("10.00", "EUR", "Acme Shop")

	form := func(hint string) url.Values {
		return url.Values{"login_hint": {hint}, "authorization_details": {details}, "requested_expiry": {"30"}}
	}
	known := shop.start(form("ada@example.com"))
	unknown := shop.start(form("nobody@example.com"))
	// A second request while the first is pending in Ada's app is not
	// sent to the app (push_already_pending), yet it must look exactly
	// like the unknown user's: same fields, a number to show, pending
	// and then expired. Otherwise sending a hint twice tells whether an
	// account exists.
	refused := shop.start(form("ada@example.com"))
	keys := func(a cibaAnswer) []string {
		var ks []string
		for k := range a.body {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	for _, a := range []cibaAnswer{known, unknown, refused} {
		if a.status != 200 || !slices.Equal(keys(a), keys(known)) || a.num("expires_in") != 30 || a.num("interval") != known.num("interval") {
			t.Fatalf("answers differ in shape:\nknown %d %s\nunknown %d %s\nrefused %d %s",
				known.status, known.raw, unknown.status, unknown.raw, refused.status, refused.raw)
		}
		// A low-risk payment goes without number matching here; the
		// deny band (TestCIBARiskDeny) shows one for both.
		if n, ok := a.body["binding_number"]; ok != (known.body["binding_number"] != nil) || ok && (a.num("binding_number") < 10 || a.num("binding_number") > 99) {
			t.Fatalf("binding_number %v in %s", n, a.raw)
		}
	}
	e.clock.Advance(5 * time.Second)
	wantOAuthError(t, "unknown user poll", shop.poll(unknown.str("auth_req_id")), 400, "authorization_pending")
	wantOAuthError(t, "refused known user poll", shop.poll(refused.str("auth_req_id")), 400, "authorization_pending")
	wantOAuthError(t, "known user poll", shop.poll(known.str("auth_req_id")), 400, "authorization_pending")
	e.clock.Advance(26 * time.Second)
	wantOAuthError(t, "unknown user after expiry", shop.poll(unknown.str("auth_req_id")), 400, "expired_token")
	wantOAuthError(t, "refused known user after expiry", shop.poll(refused.str("auth_req_id")), 400, "expired_token")
	wantOAuthError(t, "known user after expiry", shop.poll(known.str("auth_req_id")), 400, "expired_token")
	// Only the audit log has the reason.
	var outcomes []string
	for _, ev := range e.auditEvents() {
		if ev.Kind == "ciba.requested" {
			outcomes = append(outcomes, ev.Outcome+"/"+ev.Details["outcome"]+"/"+ev.Details["reason"])
			if ev.Details["reason"] != "" && ev.Subject == "" {
				t.Errorf("refusal audited without its user: %+v", ev)
			}
		}
	}
	if want := []string{"pending//", "pending/unknown_user/", "pending/refused/push_already_pending"}; !slices.Equal(outcomes, want) {
		t.Fatalf("audited outcomes %q, want %q", outcomes, want)
	}
	wantOAuthError(t, "made-up id", shop.poll("not-an-id"), 400, "invalid_grant")

	ada := url.Values{"login_hint": {"ada@example.com"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range ada {
			f[kk] = vv
		}
		f.Set(k, v)
		return f
	}
	bad := []struct {
		name string
		form url.Values
		code string
	}{
		{"amount as a number", with("authorization_details", `[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":89.9},"creditorName":"A"}]`), "invalid_authorization_details"},
		{"negative amount", with("authorization_details", paymentDetails("-1.00", "EUR", "A")), "invalid_authorization_details"},
		{"zero amount", with("authorization_details", paymentDetails("0.00", "EUR", "A")), "invalid_authorization_details"},
		{"rounding trick", with("authorization_details", paymentDetails("30.001", "EUR", "A")), "invalid_authorization_details"},
		{"exponent", with("authorization_details", paymentDetails("3e1", "EUR", "A")), "invalid_authorization_details"},
		{"decimals on JPY", with("authorization_details", paymentDetails("100.5", "JPY", "A")), "invalid_authorization_details"},
		{"unknown currency", with("authorization_details", paymentDetails("10.00", "XXX", "A")), "invalid_authorization_details"},
		{"unknown type", with("authorization_details", `[{"type":"account_information"}]`), "invalid_authorization_details"},
		{"nested extra", with("authorization_details", `[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"1.00"},"creditorName":"A","extra":{"a":{"b":1}}}]`), "invalid_authorization_details"},
		{"two payments", with("authorization_details", "["+paymentDetails("1.00", "EUR", "A")[1:len(paymentDetails("1.00", "EUR", "A"))-1]+","+paymentDetails("2.00", "EUR", "B")[1:]), "invalid_authorization_details"},
		{"oversize", with("authorization_details", paymentDetails("1.00", "EUR", strings.Repeat("A", 5000))), "invalid_authorization_details"},
		{"bad IBAN", with("authorization_details", strings.Replace(paymentDetails("1.00", "EUR", "A"), "DE89", "xx", 1)), "invalid_authorization_details"},
		{"binding message control", with("binding_message", "Order\n4711"), "invalid_binding_message"},
		{"binding message too long", with("binding_message", strings.Repeat("x", 65)), "invalid_binding_message"},
		{"no openid", with("scope", "email"), "invalid_scope"},
		{"two hints", with("id_token_hint", "x.y.z"), "invalid_request"},
		{"forged id_token_hint", url.Values{"id_token_hint": {"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}}, "invalid_request"},
		{"bad expiry", with("requested_expiry", "-5"), "invalid_request"},
	}
	for _, tc := range bad {
		wantOAuthError(t, tc.name, shop.start(tc.form), 400, tc.code)
	}
	wantOAuthError(t, "ping without a notification token", till.start(url.Values{"login_hint": {"ada@example.com"}}), 400, "invalid_request")
	web := merchant{t: t, e: e, id: "web", secret: rpSecret}
	wantOAuthError(t, "web client", web.start(url.Values{"login_hint": {"ada@example.com"}}), 400, "unauthorized_client")
	wantOAuthError(t, "wrong secret", merchant{t: t, e: e, id: "shop", secret: "nope"}.start(url.Values{"login_hint": {"ada@example.com"}}), 401, "invalid_client")
}

// TestCIBARiskDeny: a policy that puts every payment in the deny band
// never asks the app, and answers as for an unknown user (a number, pending,
// then expired): an immediate access_denied would tell that the account
// exists. The audit log keeps risk_denied.
func TestCIBARiskDeny(t *testing.T) {
	pol, err := risk.LoadPolicy(bytes.Replace(risk.DefaultPolicyYAML(), []byte("payment: {}"), []byte("payment: {weight: 90}"), 1))
	if err != nil {
		t.Fatal(err)
	}
	w := newCIBAWorld(t, func(c *Config) { c.RiskPolicy = pol })
	pay := url.Values{"authorization_details": {paymentDetails("5.00", "EUR", "Acme Shop")}, "requested_expiry": {"20"}}
	hint := func(h string) url.Values {
		f := url.Values{"login_hint": {h}}
		for k, v := range pay {
			f[k] = v
		}
		return f
	}
	a := w.shop.start(hint("ada@example.com"))
	u := w.shop.start(hint("nobody@example.com"))
	for _, x := range []cibaAnswer{a, u} {
		if x.status != http.StatusOK || len(x.body) != len(u.body) || x.body["binding_number"] == nil {
			t.Fatalf("backchannel answers differ: known %d %s, unknown %d %s", a.status, a.raw, u.status, u.raw)
		}
	}
	// (The sign-in below gets the app's only request: none was sent.)
	for _, x := range []cibaAnswer{a, u} {
		wantOAuthError(t, "deny band", w.shop.poll(x.str("auth_req_id")), 400, "authorization_pending")
	}
	w.e.clock.Advance(21 * time.Second)
	for _, x := range []cibaAnswer{a, u} {
		wantOAuthError(t, "deny band after expiry", w.shop.poll(x.str("auth_req_id")), 400, "expired_token")
	}
	var reasons []string
	for _, ev := range w.e.auditEvents() {
		if ev.Kind == "ciba.requested" && ev.Details["reason"] != "" {
			reasons = append(reasons, ev.Details["reason"])
		}
	}
	if !slices.Equal(reasons, []string{"risk_denied"}) {
		t.Fatalf("audited reasons %q", reasons)
	}
	// The high band asks for a phishing-resistant step-up, which an app
	// approval cannot give: refused with a code the merchant can act on.
	high, err := risk.LoadPolicy(bytes.Replace(risk.DefaultPolicyYAML(), []byte("payment: {}"), []byte("payment: {weight: 65}"), 1))
	if err != nil {
		t.Fatal(err)
	}
	wh := newCIBAWorld(t, func(c *Config) { c.RiskPolicy = high })
	a2 := wh.shop.start(url.Values{"login_hint": {"ada@example.com"}, "authorization_details": {paymentDetails("5.00", "EUR", "Acme Shop")}})
	r2 := wh.shop.poll(a2.str("auth_req_id"))
	wantOAuthError(t, "high band", r2, 400, "access_denied")
	if r2.str("error_description") != "step_up_required" {
		t.Fatalf("reason %q", r2.str("error_description"))
	}
	// An unknown user is refused alike (as a user without history).
	u2 := wh.shop.start(url.Values{"login_hint": {"nobody@example.com"}, "authorization_details": {paymentDetails("5.00", "EUR", "Acme Shop")}})
	if len(u2.body) != len(a2.body) || u2.body["binding_number"] != nil || a2.body["binding_number"] != nil {
		t.Fatalf("high band answers differ: known %s, unknown %s", a2.raw, u2.raw)
	}
	ru := wh.shop.poll(u2.str("auth_req_id"))
	wantOAuthError(t, "high band, unknown user", ru, 400, "access_denied")
	if ru.str("error_description") != "step_up_required" {
		t.Fatalf("unknown user reason %q", ru.str("error_description"))
	}

	// A sign-in request (no payment) is not denied by the payment weight.
	a = w.shop.start(url.Values{"login_hint": {"ada@example.com"}})
	w.answer(t, deviceclient.Answer{Approve: true, Number: a.num("binding_number")})
	if tok := w.shop.poll(a.str("auth_req_id")); tok.status != http.StatusOK || tok.body["authorization_details"] != nil {
		t.Fatalf("sign-in tokens: %d %s", tok.status, tok.raw)
	}
}

// TestCIBAAdminClients registers CIBA clients through the admin API, as
// `assent client create --ciba-mode` does.
func TestCIBAAdminClients(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		body map[string]any
		want int
	}{
		{map[string]any{"id": "till", "ciba_mode": "ping", "notification_endpoint": "https://till.example/ciba"}, http.StatusCreated},
		{map[string]any{"id": "pos", "ciba_mode": "poll"}, http.StatusCreated},
		{map[string]any{"id": "x1", "ciba_mode": "push"}, http.StatusUnprocessableEntity},
		{map[string]any{"id": "x2", "ciba_mode": "ping"}, http.StatusUnprocessableEntity},
		{map[string]any{"id": "x3", "ciba_mode": "ping", "notification_endpoint": "http://till.example/ciba"}, http.StatusUnprocessableEntity},
		{map[string]any{"id": "x4", "ciba_mode": "poll", "public": true}, http.StatusUnprocessableEntity},
		{map[string]any{"id": "x5"}, http.StatusUnprocessableEntity},
	} {
		if r := e.admin("POST", "/admin/v1/clients", tc.body); r.status != tc.want {
			t.Errorf("create %v: %d, want %d: %s", tc.body, r.status, tc.want, r.body)
		}
	}
	r := e.admin("GET", "/admin/v1/clients/till", nil)
	if r.status != 200 || !strings.Contains(r.body, `"ciba_mode": "ping"`) || !strings.Contains(r.body, `"notification_endpoint": "https://till.example/ciba"`) {
		t.Fatalf("show: %d %s", r.status, r.body)
	}
}

// TestCIBALowValueCounters: approvals under the low-value exemption are
// recorded as such, so after a strong approval five payments of EUR 20
// pass without number matching and the sixth needs it; and EUR 30 + 30 +
// 30 pass while a further EUR 10.01 (EUR 100.01 in all) needs it.
func TestCIBALowValueCounters(t *testing.T) {
	pay := func(t *testing.T, w *cibaWorld, amount string) (number int, exemption string) {
		t.Helper()
		a := w.shop.start(url.Values{"login_hint": {"ada@example.com"}, "authorization_details": {paymentDetails(amount, "EUR", "Acme Shop")}})
		if a.status != http.StatusOK {
			t.Fatalf("backchannel: %d %s", a.status, a.raw)
		}
		w.answer(t, deviceclient.Answer{Approve: true, Number: a.num("binding_number")})
		tok := w.shop.poll(a.str("auth_req_id"))
		at, _ := tok.body["access_token"].(string)
		if tok.status != http.StatusOK {
			t.Fatalf("tokens: %d %s", tok.status, tok.raw)
		}
		claims := jwtClaims(at)
		exemption, _ = claims["psd2_exemption"].(string)
		return a.num("binding_number"), exemption
	}
	t.Run("count", func(t *testing.T) {
		t.Parallel()
		w := newCIBAWorld(t, noTRA(t))
		if n, ex := pay(t, w, "89.90"); n == 0 || ex != "" {
			t.Fatalf("first payment: number %d, exemption %q; want strong authentication", n, ex)
		}
		for i := range 5 {
			if n, ex := pay(t, w, "20.00"); n != 0 || ex != "low_value" {
				t.Fatalf("low-value payment %d: number %d, exemption %q", i+1, n, ex)
			}
		}
		if n, ex := pay(t, w, "20.00"); n == 0 || ex != "" {
			t.Fatalf("sixth low-value payment: number %d, exemption %q; want strong authentication", n, ex)
		}
	})
	t.Run("cumulative", func(t *testing.T) {
		t.Parallel()
		w := newCIBAWorld(t, noTRA(t))
		pay(t, w, "89.90")
		for range 3 {
			if n, ex := pay(t, w, "30.00"); n != 0 || ex != "low_value" {
				t.Fatalf("EUR 30.00: number %d, exemption %q", n, ex)
			}
		}
		if n, ex := pay(t, w, "10.01"); n == 0 || ex != "" {
			t.Fatalf("EUR 10.01 making 100.01: number %d, exemption %q; want strong authentication", n, ex)
		}
	})
}
