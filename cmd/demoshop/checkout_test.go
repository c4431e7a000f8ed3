package main

import (
	"bytes"
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/assent-auth/assent/adminclient"
	"github.com/assent-auth/assent/authserver"
	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/deviceclient"
	"github.com/assent-auth/assent/store/bolt"
)

var (
	csrfRE     = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	returnToRE = regexp.MustCompile(`name="return_to" value="([^"]*)"`)
	numberRE   = regexp.MustCompile(`class="push-number"[^>]*><strong>(\d+)</strong>`)
	requestRE  = regexp.MustCompile(`name="id" value="([^"]+)"`)
	detailsRE  = regexp.MustCompile(`name="details" value="([^"]*)"`)
)

// page is a browser's view of an answer: where it ended and its body.
type page struct {
	url  *url.URL
	body string
}

// TestShopperPaysInTheBrowser runs browser checkout end to end: the shop
// redirects with authorization_details and acr_values, the shopper signs
// in to a real Assent server and approves the payment in the reference
// app, and the shop shows the details the verified tokens carry.
func TestShopperPaysInTheBrowser(t *testing.T) {
	ctx := t.Context()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "assent.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, _ := profiles.NewKeyring(bytes.Repeat([]byte{9}, 32))
	ps := profiles.New(profiles.Config{Store: db, Keys: keys,
		Hasher: profiles.NewHasher(profiles.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})})
	as := httptest.NewUnstartedServer(nil)
	shopSrv := httptest.NewUnstartedServer(nil)
	shopURL := "http://" + shopSrv.Listener.Addr().String()
	issuer, _ := url.Parse("http://" + as.Listener.Addr().String())
	srv, err := authserver.New(authserver.Config{Issuer: issuer, Store: db, Profiles: ps, Keys: keys,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), AdminToken: []byte(adminToken),
		OIDCClients: []oidcprovider.ClientConfig{{ID: "demoshop", Secret: shopSecret, CIBAMode: "poll", FirstParty: true,
			RedirectURIs: []string{shopURL + "/callback"}}}})
	if err != nil {
		t.Fatal(err)
	}
	as.Config.Handler = srv
	as.Start()
	t.Cleanup(as.Close)

	const pw = "demo shopper password"
	if _, err := ps.Create(ctx, profiles.NewUser{Email: "shopper@example.com", Password: pw, EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	enr, err := adminclient.New(as.URL, adminToken).StartAppEnrollment(ctx, "shopper@example.com")
	if err != nil {
		t.Fatal(err)
	}
	phone, err := deviceclient.Activate(ctx, nil, as.URL, enr.Code, "Phone", "cli")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := phone.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	sh, err := newShop(ctx, Config{Issuer: as.URL, ClientID: "demoshop", ClientSecret: shopSecret, URL: shopURL,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	shopSrv.Config.Handler = sh
	shopSrv.Start()
	t.Cleanup(shopSrv.Close)

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	do := func(method, u string, form url.Values) page {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequestWithContext(ctx, method, u, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", (&url.URL{Scheme: "http", Host: req.URL.Host}).String())
		}
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return page{resp.Request.URL, string(b)}
	}
	find := func(re *regexp.Regexp, p page) string {
		t.Helper()
		m := re.FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("%v: no %v in %s", p.url, re, p.body)
		}
		return html.UnescapeString(m[1])
	}
	// approve answers the app's next request with the number the page shows.
	approve := func(p page, kind string) {
		t.Helper()
		number, _ := strconv.Atoi(find(numberRE, p))
		req := nextRequest(ctx, t, conn)
		if req.Kind != kind {
			t.Fatalf("the app shows %+v, want a %s request", req, kind)
		}
		if kind == "payment" && (req.Amount != "89.90" || req.Currency != "EUR" || !strings.HasPrefix(req.Payee, "Demo Shop")) {
			t.Fatalf("the app shows %+v", req)
		}
		d, _ := phone.Sign(req, deviceclient.Answer{Approve: true, Number: number})
		if err := conn.Send(d); err != nil {
			t.Fatal(err)
		}
		for {
			msg, err := conn.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if msg.Type == push.MsgResult {
				if !msg.OK {
					t.Fatalf("decision refused: %+v", msg)
				}
				return
			}
		}
	}

	if p := do("GET", shopURL+"/", nil); !strings.Contains(p.body, "Pay in the browser") {
		t.Fatalf("cart page: %s", p.body)
	}
	// The button sends the browser to Assent's sign-in page, asking for mfa.
	p := do("POST", shopURL+"/checkout", url.Values{})
	if p.url.Path != "/signin" || p.url.Query().Get("acr") != "mfa" {
		t.Fatalf("checkout ended at %v", p.url)
	}
	p = do("POST", as.URL+"/signin", url.Values{"csrf": {find(csrfRE, p)}, "return_to": {find(returnToRE, p)}, "acr": {"mfa"},
		"email": {"shopper@example.com"}, "password": {pw}})
	if p.url.Path != "/signin/factor" {
		t.Fatalf("password step ended at %v", p.url)
	}
	p = do("POST", as.URL+"/signin/factor/push", url.Values{"csrf": {find(csrfRE, p)}})
	approve(p, "signin")
	p = do("POST", as.URL+"/signin/factor/push/finish", url.Values{"csrf": {find(csrfRE, p)}})
	// Signed in at mfa, the payment still needs its own approval: the page
	// shows the amount and payee and offers the app.
	if p.url.Path != "/oidc/resume" || !strings.Contains(p.body, "EUR 89.90") || !strings.Contains(p.body, `value="app"`) {
		t.Fatalf("after sign-in: %v %s", p.url, p.body)
	}
	id, details := find(requestRE, p), find(detailsRE, p)
	p = do("POST", as.URL+"/oidc/payment", url.Values{"csrf": {find(csrfRE, p)}, "id": {id}, "details": {details}, "decision": {"app"}})
	approve(p, "payment")
	p = do("POST", as.URL+"/oidc/payment", url.Values{"csrf": {find(csrfRE, p)}, "id": {id}, "details": {details}, "decision": {"app_finish"}})
	if !strings.HasPrefix(p.url.String(), shopURL+"/order/") || !strings.Contains(p.body, "Paid. Your goods are on their way.") ||
		!strings.Contains(p.body, "Approved: EUR 89.90 to Demo Shop (DE89370400440532013000)") ||
		!strings.Contains(p.body, "amr pwd swk mca mfa") {
		t.Fatalf("back at the shop: %v %s", p.url, p.body)
	}

	// A callback this browser did not start is refused.
	if p := do("GET", shopURL+"/callback?state=forged&code=x", nil); !strings.Contains(p.body, "not started in this browser") {
		t.Fatalf("forged callback: %s", p.body)
	}
	// Cancelled at Assent: the shop says so.
	p = do("POST", shopURL+"/checkout", url.Values{})
	if p.url.Path != "/oidc/resume" {
		t.Fatalf("second checkout ended at %v", p.url)
	}
	p = do("POST", as.URL+"/oidc/payment", url.Values{"csrf": {find(csrfRE, p)}, "id": {find(requestRE, p)}, "decision": {"cancel"}})
	if !strings.Contains(p.body, "Not paid:") || !strings.Contains(p.body, "access_denied") {
		t.Fatalf("cancelled checkout: %v %s", p.url, p.body)
	}
}

// nextRequest returns the next approval request the app receives.
func nextRequest(ctx context.Context, t *testing.T, conn *deviceclient.Conn) push.RequestView {
	t.Helper()
	for {
		msg, err := conn.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Type == push.MsgRequest {
			return *msg.Request
		}
	}
}
