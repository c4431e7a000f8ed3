package main

import (
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/assent-auth/assent/oidcprovider"
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
	shopSrv := httptest.NewUnstartedServer(nil)
	shopURL := "http://" + shopSrv.Listener.Addr().String()
	const pw = "demo shopper password"
	w := newWorld(t, oidcprovider.ClientConfig{ID: "demoshop", Secret: shopSecret, CIBAMode: "poll", FirstParty: true,
		RedirectURIs: []string{shopURL + "/callback"}}, pw)
	as := w.as

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
		req := nextRequest(ctx, t, w.conn)
		if req.Kind != kind {
			t.Fatalf("the app shows %+v, want a %s request", req, kind)
		}
		if kind == "payment" && (req.Amount != "89.90" || req.Currency != "EUR" || !strings.HasPrefix(req.Payee, "Demo Shop")) {
			t.Fatalf("the app shows %+v", req)
		}
		w.approve(ctx, t, req, number)
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
