package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Config configures the shop.
type Config struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// URL is the shop's own address, where Assent sends the browser back
	// after a browser checkout (URL + "/callback", registered as the
	// client's redirect URI); empty turns browser checkout off.
	URL    string
	Logger *slog.Logger
	// HTTP is the client for Assent (one with a 10 s timeout when nil).
	HTTP *http.Client
	// Now is the clock that paces polling (time.Now when nil).
	Now func() time.Time
}

// item is one line of the fixed demo cart.
type item struct {
	Name  string
	Price string
}

var cart = []item{{"Espresso beans, 1 kg", "34.90"}, {"Ceramic cup, set of two", "24.00"}, {"Hand grinder", "31.00"}}

const (
	cartTotal = "89.90"
	payee     = "Demo Shop"
	payeeIBAN = "DE89370400440532013000"
)

// order is a payment waiting for the shopper's approval.
type order struct {
	ID        string
	Email     string
	Total     string
	AuthReqID string
	Number    int
	Interval  time.Duration
	NextPoll  time.Time
	Expires   time.Time
	// Outcome: "" while waiting, then "paid" or "failed".
	Outcome string
	Reason  string
	ACR     string
	AMR     []string
	Exempt  string
	// Approved describes the authorization_details the tokens carry.
	Approved string
	details  string
}

type shop struct {
	cfg      Config
	hc       *http.Client
	verifier *oidc.IDTokenVerifier
	bcURL    string
	tokenURL string
	mu       sync.Mutex
	orders   map[string]*order
	seq      int
	// Browser checkout (checkout.go).
	oauth     oauth2.Config
	checkouts map[string]*checkout
}

// newShop discovers Assent's endpoints and keys.
func newShop(ctx context.Context, c Config) (*shop, error) {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, hc), c.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", c.Issuer, err)
	}
	var d struct {
		BC    string `json:"backchannel_authentication_endpoint"`
		Token string `json:"token_endpoint"`
	}
	if err := p.Claims(&d); err != nil || d.BC == "" {
		return nil, fmt.Errorf("%s does not offer CIBA", c.Issuer)
	}
	return &shop{cfg: c, hc: hc, bcURL: d.BC, tokenURL: d.Token, orders: map[string]*order{},
		verifier: p.VerifierContext(oidc.ClientContext(context.WithoutCancel(ctx), hc), &oidc.Config{ClientID: c.ClientID}),
		oauth: oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, Endpoint: p.Endpoint(),
			RedirectURL: strings.TrimSuffix(c.URL, "/") + "/callback", Scopes: []string{oidc.ScopeOpenID}},
		checkouts: map[string]*checkout{}}, nil
}

func (s *shop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/":
		render(w, http.StatusOK, cartPage, map[string]any{"Cart": cart, "Total": cartTotal, "Payee": payee, "Browser": s.cfg.URL != ""})
	case r.Method == http.MethodPost && r.URL.Path == "/pay":
		s.pay(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/checkout" && s.cfg.URL != "":
		s.checkout(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/callback" && s.cfg.URL != "":
		s.callback(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/order/"):
		s.status(w, r, strings.TrimPrefix(r.URL.Path, "/order/"))
	default:
		http.NotFound(w, r)
	}
}

// paymentDetails is the RFC 9396 payment_initiation the shop asks for.
func paymentDetails(total string) string {
	b, _ := json.Marshal([]map[string]any{{
		"type":             "payment_initiation",
		"instructedAmount": map[string]string{"currency": "EUR", "amount": total},
		"creditorName":     payee,
		"creditorAccount":  map[string]string{"iban": payeeIBAN},
	}})
	return string(b)
}

func (s *shop) pay(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.FormValue("email"))
	if email == "" || len(email) > 254 {
		render(w, http.StatusBadRequest, cartPage, map[string]any{"Cart": cart, "Total": cartTotal, "Payee": payee, "Error": "Enter the e-mail of your Assent account."})
		return
	}
	s.mu.Lock()
	s.seq++
	o := &order{ID: rand.Text()[:12], Email: email, Total: cartTotal, details: paymentDetails(cartTotal)}
	msg := fmt.Sprintf("Order %d", 1000+s.seq)
	s.mu.Unlock()
	var resp struct {
		AuthReqID     string `json:"auth_req_id"`
		ExpiresIn     int    `json:"expires_in"`
		Interval      int    `json:"interval"`
		BindingNumber int    `json:"binding_number"`
		Error         string `json:"error"`
		Description   string `json:"error_description"`
	}
	status, err := s.post(r.Context(), s.bcURL, url.Values{"scope": {"openid"}, "login_hint": {email},
		"binding_message": {msg}, "authorization_details": {o.details}}, &resp)
	if err != nil || status != http.StatusOK {
		s.cfg.Logger.Warn("backchannel request failed", "status", status, "error", resp.Error, "err", err)
		render(w, http.StatusBadGateway, cartPage, map[string]any{"Cart": cart, "Total": cartTotal, "Payee": payee,
			"Error": "The payment could not be started: " + resp.Error + " " + resp.Description})
		return
	}
	now := s.cfg.Now()
	o.AuthReqID, o.Number = resp.AuthReqID, resp.BindingNumber
	o.Interval = time.Duration(max(resp.Interval, 1)) * time.Second
	o.NextPoll, o.Expires = now.Add(o.Interval), now.Add(time.Duration(resp.ExpiresIn)*time.Second)
	s.mu.Lock()
	s.orders[o.ID] = o
	s.mu.Unlock()
	http.Redirect(w, r, "/order/"+o.ID, http.StatusSeeOther)
}

// status shows an order, polling Assent when the interval allows.
func (s *shop) status(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	o, ok := s.orders[id]
	var poll bool
	if ok && o.Outcome == "" && !s.cfg.Now().Before(o.NextPoll) {
		poll = true
		o.NextPoll = s.cfg.Now().Add(o.Interval)
	}
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if poll {
		s.poll(r.Context(), o)
	}
	s.mu.Lock()
	view := *o
	s.mu.Unlock()
	render(w, http.StatusOK, orderPage, view)
}

func (s *shop) poll(ctx context.Context, o *order) {
	var resp struct {
		IDToken     string          `json:"id_token"`
		Details     json.RawMessage `json:"authorization_details"`
		Error       string          `json:"error"`
		Description string          `json:"error_description"`
	}
	_, err := s.post(ctx, s.tokenURL, url.Values{"grant_type": {"urn:openid:params:grant-type:ciba"}, "auth_req_id": {o.AuthReqID}}, &resp)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err != nil:
		s.cfg.Logger.Warn("token request failed", "err", err)
	case resp.Error == "authorization_pending":
	case resp.Error == "slow_down":
		o.Interval += 5 * time.Second
		o.NextPoll = s.cfg.Now().Add(o.Interval)
	case resp.Error != "":
		o.Outcome, o.Reason = "failed", strings.TrimSpace(resp.Error+" "+resp.Description)
	default:
		o.Outcome, o.Reason = "failed", "the tokens did not verify"
		idt, err := s.verifier.Verify(ctx, resp.IDToken)
		if err != nil {
			s.cfg.Logger.Warn("ID token refused", "err", err)
			return
		}
		var c struct {
			ACR     string          `json:"acr"`
			AMR     []string        `json:"amr"`
			Details json.RawMessage `json:"authorization_details"`
			Exempt  string          `json:"psd2_exemption"`
		}
		if err := idt.Claims(&c); err != nil || !sameJSON(c.Details, []byte(o.details)) || !sameJSON(resp.Details, []byte(o.details)) {
			o.Reason = "the approval is not for this payment"
			return
		}
		o.Outcome, o.Reason, o.ACR, o.AMR, o.Exempt, o.Approved = "paid", "", c.ACR, c.AMR, c.Exempt, describeDetails(c.Details)
	}
}

// sameJSON compares two JSON documents by value.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	p, _ := json.Marshal(x)
	q, _ := json.Marshal(y)
	return bytes.Equal(p, q)
}

func (s *shop) post(ctx context.Context, endpoint string, form url.Values, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(s.cfg.ClientID), url.QueryEscape(s.cfg.ClientSecret))
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(out); err != nil {
		return resp.StatusCode, errors.New("unreadable answer")
	}
	return resp.StatusCode, nil
}

func render(w http.ResponseWriter, status int, t *template.Template, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := t.Execute(w, data); err != nil {
		slog.Error("render", "err", err)
	}
}

const style = `<style>body{font:16px system-ui,sans-serif;max-width:34em;margin:2em auto;padding:0 1em;color:#222}
table{width:100%;border-collapse:collapse}td{padding:.3em 0;border-bottom:1px solid #ddd}td:last-child{text-align:right}
.num{font-size:3em;font-weight:700;letter-spacing:.1em}.err{color:#b00}.ok{color:#070}button{font-size:1em;padding:.5em 1.2em}</style>`

var cartPage = template.Must(template.New("cart").Parse(`<!doctype html><meta charset=utf-8><title>Demo Shop</title>` + style + `
<h1>Demo Shop</h1>
<table>{{range .Cart}}<tr><td>{{.Name}}<td>EUR {{.Price}}{{end}}<tr><td><strong>Total</strong><td><strong>EUR {{.Total}}</strong></table>
{{if .Error}}<p class=err>{{.Error}}</p>{{end}}
<form method=post action=/pay><p><label>Your e-mail <input name=email type=email required autocomplete=email></label>
<p><button>Pay EUR {{.Total}} with Assent</button></form>
<p><small>You approve the payment to {{.Payee}} in the Assent app.</small>
{{if .Browser}}<form method=post action=/checkout><p><button>Pay in the browser</button></form>
<p><small>Or sign in to Assent in this browser and approve the payment there (in the app or with a passkey).</small>{{end}}`))

var orderPage = template.Must(template.New("order").Parse(`<!doctype html><meta charset=utf-8>
{{if not .Outcome}}<meta http-equiv=refresh content=2>{{end}}<title>Your order</title>` + style + `
<h1>Your order</h1><p>EUR {{.Total}} to Demo Shop, for {{.Email}}.
{{if eq .Outcome "paid"}}<p class=ok><strong>Paid. Your goods are on their way.</strong>
{{if .Approved}}<p>Approved: {{.Approved}}{{end}}
<p><small>Approved with acr {{.ACR}}, amr {{range .AMR}}{{.}} {{end}}{{if .Exempt}}, PSD2 exemption {{.Exempt}}{{end}}.</small>
{{else if eq .Outcome "failed"}}<p class=err><strong>Not paid:</strong> {{.Reason}}</p><p><a href="/">Back to the cart</a>
{{else}}<p>Open the Assent app and approve the payment.
{{if .Number}}<p>Pick this number in the app:</p><p class=num>{{.Number}}</p>{{end}}
<p><small>This page refreshes by itself.</small>{{end}}`))
