package loadgen

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
)

// tokenCaller sends one fixed token request as an OAuth client (HTTP
// Basic), as a machine client would: no cookies, no redirects, the form
// body and Authorization header encoded once, the answer read into a
// buffer the caller reuses. A worker owns its caller; it is not safe for
// concurrent use.
type tokenCaller struct {
	rt     http.RoundTripper
	url    string
	body   []byte
	header http.Header // read only once built
	buf    bytes.Buffer
}

func newTokenCaller(base string, rt http.RoundTripper, form url.Values, clientID, secret string) *tokenCaller {
	// Each part form-encoded first, as RFC 6749 section 2.3.1 says.
	cred := url.QueryEscape(clientID) + ":" + url.QueryEscape(secret)
	return &tokenCaller{rt: rt, url: base + "/oauth/token", body: []byte(form.Encode()), header: http.Header{
		"Content-Type":  {"application/x-www-form-urlencoded"},
		"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(cred))},
	}}
}

// call posts the request and checks the answer for an access token.
func (c *tokenCaller) call(ctx context.Context) (tokenAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(c.body))
	if err != nil {
		return tokenAnswer{}, err
	}
	req.Header = c.header
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		return tokenAnswer{}, err
	}
	defer resp.Body.Close()
	c.buf.Reset()
	if _, err := c.buf.ReadFrom(io.LimitReader(resp.Body, maxBody)); err != nil {
		return tokenAnswer{}, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody)) // keep the connection reusable
	return readToken(resp.StatusCode, c.buf.Bytes())
}
