package loadgen

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// maxBody bounds what is read of any answer.
const maxBody = 1 << 20

// NewTransport returns the HTTP transport the workers share: keep-alive
// connections, enough idle ones for every worker.
func NewTransport(workers int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0
	t.MaxIdleConnsPerHost = max(workers*2, 16)
	t.IdleConnTimeout = 90 * time.Second
	t.ResponseHeaderTimeout = 0
	return t
}

// browser is one simulated browser: its own cookies, no automatic
// redirects (each step is checked), the shared transport.
type browser struct {
	base string
	hc   *http.Client
}

func newBrowser(base string, tr http.RoundTripper) *browser {
	b := &browser{base: base, hc: &http.Client{Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	b.forget()
	return b
}

// forget drops every cookie, as a new browser would have none.
func (b *browser) forget() {
	jar, _ := cookiejar.New(nil)
	b.hc.Jar = jar
}

// answer is a read response.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (b *browser) do(ctx context.Context, req *http.Request) (answer, error) {
	resp, err := b.hc.Do(req.WithContext(ctx))
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return answer{}, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody)) // keep the connection reusable
	return answer{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

func (b *browser) get(ctx context.Context, u string) (answer, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Accept", "text/html")
	return b.do(ctx, req)
}

// post sends a form; with clientID set, as that OAuth client (HTTP Basic,
// each part form-encoded first as RFC 6749 section 2.3.1 says).
func (b *browser) post(ctx context.Context, path string, form url.Values, clientID, secret string) (answer, error) {
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if clientID != "" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	} else {
		req.Header.Set("Origin", b.base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	return b.do(ctx, req)
}

// resolve makes a Location header absolute against from.
func resolve(from, loc string) (*url.URL, error) {
	base, err := url.Parse(from)
	if err != nil {
		return nil, err
	}
	return base.Parse(loc)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn loads the sign-in page at page (for the CSRF token and cookies)
// and posts the password, as a browser does; it returns where the server
// sent the browser next.
func (b *browser) signIn(ctx context.Context, page *url.URL, email, password string) (string, error) {
	a, err := b.get(ctx, page.String())
	if err != nil {
		return "", err
	}
	if a.status != http.StatusOK {
		return "", opErr(fmt.Sprintf("signin_page_http_%d", a.status), "GET %s", page.Path)
	}
	m := csrfRE.FindSubmatch(a.body)
	if m == nil {
		return "", opErr("no_csrf_token", "the sign-in page has no CSRF token")
	}
	form := url.Values{"csrf": {html.UnescapeString(string(m[1]))}, "email": {email}, "password": {password}}
	if rt := page.Query().Get("return_to"); rt != "" {
		form.Set("return_to", rt)
	}
	if acr := page.Query().Get("acr"); acr != "" {
		form.Set("acr", acr)
	}
	a, err = b.post(ctx, "/signin", form, "", "")
	if err != nil {
		return "", err
	}
	loc := a.header.Get("Location")
	switch {
	case a.status == http.StatusTooManyRequests:
		return "", opErr("signin_throttled", "the server throttled the sign-in")
	case a.status == http.StatusUnauthorized:
		return "", opErr("signin_refused", "wrong password, locked account or denied by risk")
	case a.status != http.StatusSeeOther || loc == "":
		return "", opErr(fmt.Sprintf("signin_http_%d", a.status), "POST /signin")
	case strings.HasPrefix(loc, "/signin/factor"):
		return "", opErr("second_factor_asked", "the server asked for a second factor")
	}
	return loc, nil
}

// tokenAnswer is a token endpoint's JSON answer, success or error.
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// token calls the token endpoint and checks for an access token.
func (b *browser) token(ctx context.Context, form url.Values, clientID, secret string) (tokenAnswer, error) {
	a, err := b.post(ctx, "/oauth/token", form, clientID, secret)
	if err != nil {
		return tokenAnswer{}, err
	}
	return readToken(a.status, a.body)
}

// readToken checks a token endpoint's answer for an access token.
func readToken(status int, body []byte) (tokenAnswer, error) {
	a := answer{status: status, body: body}
	var t tokenAnswer
	if jerr := json.Unmarshal(a.body, &t); jerr != nil && a.status == http.StatusOK {
		return t, opErr("token_bad_json", "%v", jerr)
	}
	if a.status != http.StatusOK {
		if t.Error != "" {
			return t, opErr("token_"+t.Error, "%s", t.Description)
		}
		return t, opErr(fmt.Sprintf("token_http_%d", a.status), "POST /oauth/token")
	}
	if t.AccessToken == "" {
		return t, opErr("token_no_access_token", "the answer has no access token")
	}
	return t, nil
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func pkceChallenge(verifier string) string {
	s := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(s[:])
}
