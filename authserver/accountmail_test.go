package authserver

import (
	"bytes"
	"context"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	netmail "net/mail"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/assent-auth/assent/mail"
	"github.com/assent-auth/assent/mail/mailtest"
	"github.com/assent-auth/assent/profiles"
)

// mailEnv is a server whose outbox delivers to a real SMTP server on
// loopback (STARTTLS and AUTH PLAIN), with its delivery loop running.
type mailEnv struct {
	*env
	smtp   *mailtest.Server
	outbox *mail.Outbox
}

func newMailEnv(t *testing.T, opts ...envOption) *mailEnv {
	t.Helper()
	m := &mailEnv{smtp: mailtest.NewServer(t, mailtest.Options{TLS: mail.TLSStartTLS, Username: "assent", Password: "smtp-secret"})}
	sender, err := mail.NewSMTPSender(m.smtp.Config())
	if err != nil {
		t.Fatal(err)
	}
	m.env = newEnv(t, func(c *Config) {
		aead, err := c.Keys.AEAD("mail outbox v1")
		if err != nil {
			t.Fatal(err)
		}
		m.outbox, err = mail.New(mail.Config{Store: c.Store, AEAD: aead, Sender: sender, From: "Assent <no-reply@example.com>",
			Logger: c.Logger, Poll: 20 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		c.Mail = m.outbox
		for _, o := range opts {
			o(c)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.outbox.Run(ctx) }()
	// Registered after the server's cleanup, so it runs first: the loop
	// stops before the database closes.
	t.Cleanup(func() { cancel(); <-done })
	return m
}

// received is a delivered message taken apart with net/mail and
// mime/multipart.
type received struct {
	to, subject string
	text, html  string
}

func parseMail(t *testing.T, data []byte) received {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	to, err := msg.Header.AddressList("To")
	if err != nil || len(to) != 1 {
		t.Fatalf("To: %v %v", to, err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	r := received{to: to[0].Address, subject: subject}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q", msg.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
		case "text/plain":
			r.text = string(b)
		case "text/html":
			r.html = string(b)
		}
	}
	if r.text == "" || r.html == "" {
		t.Fatalf("message lacks a text or an HTML part: %+v", r)
	}
	return r
}

// waitMail waits for the nth message (1-based) that is not a security
// notice (those come with sign-ins from new browsers, as every test
// browser is) and returns it parsed.
func (m *mailEnv) waitMail(n int) received {
	m.t.Helper()
	return m.waitMailWhere(n, func(r received) bool { return !isNotice(r) })
}

// isNotice reports whether r is a security notice: those carry the
// "this wasn't me" link.
func isNotice(r received) bool { return strings.Contains(r.text, "/report?t=") }

// waitMailWhere waits for the nth message (1-based) that keep accepts.
func (m *mailEnv) waitMailWhere(n int, keep func(received) bool) received {
	m.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var kept []received
		for _, msg := range m.smtp.Messages() {
			if r := parseMail(m.t, msg.Data); keep(r) {
				kept = append(kept, r)
			}
		}
		if len(kept) >= n {
			return kept[n-1]
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mailtest: %d matching messages after 10s, want %d", len(kept), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+`)

// linkPath returns the path and query of the one link on the server in the
// text part, checking that the HTML part carries the same link.
func (m *mailEnv) linkPath(r received, prefix string) string {
	m.t.Helper()
	for _, l := range linkRE.FindAllString(r.text, -1) {
		if strings.HasPrefix(l, m.ts.URL+prefix) {
			if !strings.Contains(html.UnescapeString(r.html), `href="`+l+`"`) {
				m.t.Errorf("HTML part lacks the link %s", l)
			}
			return strings.TrimPrefix(l, m.ts.URL)
		}
	}
	m.t.Fatalf("no %s link in:\n%s", prefix, r.text)
	return ""
}

var formTokenRE = regexp.MustCompile(`name="t" value="([^"]+)"`)

func formToken(t *testing.T, body string) string {
	t.Helper()
	m := formTokenRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no token in form:\n%s", truncate(body, 2000))
	}
	return html.UnescapeString(m[1])
}

var codeRE = regexp.MustCompile(`\b([0-9]{6})\b`)

func TestSignUpVerifiesEmailOverSMTP(t *testing.T) {
	m := newMailEnv(t)
	b := m.browser()
	r := b.submit("/signup", "/signup", url.Values{"email": {"ada@example.com"}, "name": {"Ada Lovelace"}, "password": {"correct horse battery"}})
	wantRedirect(t, "sign-up", r, "/account")

	msg := m.waitMail(1)
	if msg.to != "ada@example.com" || msg.subject != "Confirm your e-mail address" {
		t.Errorf("verification mail to %q subject %q", msg.to, msg.subject)
	}
	mustContain(t, "verification mail", msg.text, "Hello Ada Lovelace")
	if ident, _ := m.profiles.GetByEmail(t.Context(), "ada@example.com"); ident.EmailVerified {
		t.Fatal("verified before the link was used")
	}

	// The link, opened in another browser, shows a button; the button
	// verifies.
	link := m.linkPath(msg, "/verify?t=")
	other := m.browser()
	page := other.get(link)
	if page.status != http.StatusOK {
		t.Fatalf("GET %s: %d", link, page.status)
	}
	tok := formToken(t, page.body)
	r = other.submit(link, "/verify", url.Values{"t": {tok}})
	if r.status != http.StatusOK {
		t.Fatalf("verify: %d %s", r.status, truncate(r.body, 1000))
	}
	mustContain(t, "verified page", r.body, "your e-mail address is confirmed")
	if ident, _ := m.profiles.GetByEmail(t.Context(), "ada@example.com"); !ident.EmailVerified {
		t.Fatal("not verified after the link")
	}
	// Used once: again, it changes nothing.
	r = other.submit(link, "/verify", url.Values{"t": {tok}})
	mustContain(t, "reused link", r.body, "already confirmed")

	// Forged and cross-purpose tokens are refused.
	for _, bad := range []string{tamper(tok), "x.y", strings.Repeat("A", 2000)} {
		if r := other.submit(link, "/verify", url.Values{"t": {bad}}); r.status != http.StatusBadRequest {
			t.Errorf("forged token: %d", r.status)
		}
	}
	if !slices.Contains(m.auditKinds(), "email.verified") {
		t.Error("no email.verified audit event")
	}
}

func TestVerifyWithCodeOverSMTP(t *testing.T) {
	m := newMailEnv(t)
	b := m.browser()
	b.submit("/signup", "/signup", url.Values{"email": {"bob@example.com"}, "password": {"correct horse battery"}})
	msg := m.waitMail(1)
	code := codeRE.FindStringSubmatch(msg.text)
	if code == nil {
		t.Fatalf("no code in:\n%s", msg.text)
	}
	wrong := "000000"
	if code[1] == wrong {
		wrong = "111111"
	}
	if r := b.submit("/verify", "/verify/code", url.Values{"code": {wrong}}); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong code: %d", r.status)
	}
	r := b.submit("/verify", "/verify/code", url.Values{"code": {code[1]}})
	if r.status != http.StatusOK {
		t.Fatalf("code: %d %s", r.status, truncate(r.body, 1000))
	}
	if ident, _ := m.profiles.GetByEmail(t.Context(), "bob@example.com"); !ident.EmailVerified {
		t.Fatal("not verified after the code")
	}
	// Five wrong codes block further tries.
	c := m.browser()
	c.submit("/signup", "/signup", url.Values{"email": {"carol@example.com"}, "password": {"correct horse battery"}})
	code = codeRE.FindStringSubmatch(m.waitMail(2).text)
	for range maxVerifyCodeFailures {
		c.submit("/verify", "/verify/code", url.Values{"code": {wrong}})
	}
	if r := c.submit("/verify", "/verify/code", url.Values{"code": {code[1]}}); r.status != http.StatusTooManyRequests {
		t.Fatalf("sixth try: %d, want 429", r.status)
	}
}

func TestPasswordResetOverSMTP(t *testing.T) {
	m := newMailEnv(t)
	ctx := t.Context()
	if _, err := m.profiles.Create(ctx, profiles.NewUser{Email: "ada@example.com", Name: "Ada", Password: "correct horse battery", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	signedIn := m.browser()
	wantSignedIn(t, "sign-in", signedIn.signIn("ada@example.com", "correct horse battery"))

	anon := m.browser()
	known := anon.submit("/reset", "/reset", url.Values{"email": {"Ada@Example.com"}})
	unknown := anon.submit("/reset", "/reset", url.Values{"email": {"nobody@example.com"}})
	if known.status != http.StatusOK || unknown.status != http.StatusOK {
		t.Fatalf("reset requests: %d and %d", known.status, unknown.status)
	}
	if a, b := csrfRE.ReplaceAllString(known.body, ""), csrfRE.ReplaceAllString(unknown.body, ""); a != b {
		t.Errorf("answers differ for a known and an unknown address")
	}
	m.srv.acct.wg.Wait()
	msg := m.waitMail(1)
	if msg.to != "ada@example.com" || msg.subject != "Reset your password" {
		t.Errorf("reset mail to %q subject %q", msg.to, msg.subject)
	}
	link := m.linkPath(msg, "/reset/password?t=")

	page := anon.get(link)
	if page.status != http.StatusOK || strings.Contains(page.body, `name="code"`) {
		t.Fatalf("reset page: %d (a user without factors is asked no code)", page.status)
	}
	tok := formToken(t, page.body)
	if r := anon.submit(link, "/reset/password", url.Values{"t": {tok}, "password": {"short"}}); r.status != http.StatusBadRequest {
		t.Errorf("weak password: %d", r.status)
	}
	r := anon.submit(link, "/reset/password", url.Values{"t": {tok}, "password": {"a brand new passphrase"}})
	if r.status != http.StatusOK {
		t.Fatalf("reset: %d %s", r.status, truncate(r.body, 1000))
	}
	mustContain(t, "reset done", r.body, "signed out everywhere")

	notice := m.waitMail(2)
	if notice.to != "ada@example.com" || notice.subject != "Your password was changed" {
		t.Errorf("notice to %q subject %q", notice.to, notice.subject)
	}
	// Every session ended; the old password is gone; the link is spent.
	if r := signedIn.get("/account"); r.status != http.StatusSeeOther {
		t.Errorf("old session still works after the reset: %d", r.status)
	}
	if r := m.browser().signIn("ada@example.com", "correct horse battery"); r.status != http.StatusUnauthorized {
		t.Errorf("old password: %d", r.status)
	}
	wantSignedIn(t, "new password", m.browser().signIn("ada@example.com", "a brand new passphrase"))
	if r := anon.get(link); r.status != http.StatusBadRequest {
		t.Errorf("used link: %d", r.status)
	}
	if r := anon.submit("/reset", "/reset/password", url.Values{"t": {tok}, "password": {"another new passphrase"}}); r.status != http.StatusBadRequest {
		t.Errorf("used link posted: %d", r.status)
	}
	// The unknown address got nothing.
	time.Sleep(100 * time.Millisecond)
	for _, got := range m.smtp.Messages() {
		if slices.Contains(got.To, "nobody@example.com") {
			t.Error("mail sent to an unknown address")
		}
	}
	ev := m.lastEvent("password_reset.completed")
	if ev.Details["sessions_ended"] != "1" || ev.Details["methods"] != "email" {
		t.Errorf("audit: %+v", ev.Details)
	}
}

func TestPasswordResetAsksForSecondFactor(t *testing.T) {
	m := newMailEnv(t)
	if _, err := m.profiles.Create(t.Context(), profiles.NewUser{Email: "ada@example.com", Password: "correct horse battery", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	b := m.browser()
	wantSignedIn(t, "sign-in", b.signIn("ada@example.com", "correct horse battery"))
	key := b.enrollTOTP()

	anon := m.browser()
	anon.submit("/reset", "/reset", url.Values{"email": {"ada@example.com"}})
	link := m.linkPath(m.waitMail(1), "/reset/password?t=")
	page := anon.get(link)
	mustContain(t, "reset page", page.body, `name="code"`)
	tok := formToken(t, page.body)

	// Without the factor, or with a wrong one, nothing changes.
	for _, code := range []string{"", "000000"} {
		r := anon.submit(link, "/reset/password", url.Values{"t": {tok}, "password": {"a brand new passphrase"}, "code": {code}})
		if r.status != http.StatusUnauthorized {
			t.Fatalf("code %q: %d", code, r.status)
		}
	}
	if _, _, err := m.profiles.Authenticate(t.Context(), "ada@example.com", "correct horse battery"); err != nil {
		t.Fatalf("password changed without the second factor: %v", err)
	}
	m.clock.Advance(30 * time.Second)
	code, _ := totp.GenerateCode(key, m.clock.Now())
	r := anon.submit(link, "/reset/password", url.Values{"t": {tok}, "password": {"a brand new passphrase"}, "code": {code}})
	if r.status != http.StatusOK {
		t.Fatalf("reset with TOTP: %d %s", r.status, truncate(r.body, 1000))
	}
	if ev := m.lastEvent("password_reset.completed"); ev.Details["methods"] != "email totp" {
		t.Errorf("audit methods %q", ev.Details["methods"])
	}
}

func TestPasswordResetLimits(t *testing.T) {
	m := newMailEnv(t)
	if _, err := m.profiles.Create(t.Context(), profiles.NewUser{Email: "ada@example.com", Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	b := m.browser()
	// Per account: three mails per window, then the same answer and no mail.
	for range maxResetMailsPerEmail + 2 {
		if r := b.submit("/reset", "/reset", url.Values{"email": {"ada@example.com"}}); r.status != http.StatusOK {
			t.Fatalf("reset request: %d", r.status)
		}
	}
	m.srv.acct.wg.Wait()
	m.smtp.Wait(t, maxResetMailsPerEmail, 10*time.Second)
	time.Sleep(100 * time.Millisecond)
	if n := len(m.smtp.Messages()); n != maxResetMailsPerEmail {
		t.Errorf("%d reset mails, want %d", n, maxResetMailsPerEmail)
	}
	// Per network: many addresses from one address are refused.
	var last response
	for i := range maxResetRequestsPerNet {
		last = b.submit("/reset", "/reset", url.Values{"email": {"user" + string(rune('a'+i)) + "@example.com"}})
	}
	if last.status != http.StatusTooManyRequests {
		t.Errorf("bulk requests from one network: last answer %d, want 429", last.status)
	}
}

// TestPasswordResetTiming: the answer takes the same time for an existing
// and an unknown address. Medians over many requests, interleaved, with a
// generous bound.
func TestPasswordResetTiming(t *testing.T) {
	m := newMailEnv(t)
	const n = 40
	for i := range n {
		if _, err := m.profiles.Create(t.Context(), profiles.NewUser{Email: "user" + itoa3(i) + "@example.com", Password: "correct horse battery"}); err != nil {
			t.Fatal(err)
		}
	}
	b := m.browser()
	b.get("/reset")
	csrf := b.csrf()
	timeOne := func(email string) time.Duration {
		// A fresh throttle window each time, so limits do not decide.
		m.clock.Advance(16 * time.Minute)
		start := time.Now()
		r := b.post("/reset", url.Values{"csrf": {csrf}, "email": {email}})
		d := time.Since(start)
		if r.status != http.StatusOK {
			t.Fatalf("reset request: %d", r.status)
		}
		return d
	}
	// A difference an attacker could use shows in every round; other work
	// on a shared machine shows in some. So the answers must match in time
	// in one of three rounds.
	var mk, mu time.Duration
	for round := range 3 {
		var known, unknown []time.Duration
		for i := range n {
			// Alternate the order, so what one request leaves behind weighs on
			// both kinds alike.
			if i%2 == 0 {
				known = append(known, timeOne("user"+itoa3(i)+"@example.com"))
				unknown = append(unknown, timeOne("nobody"+itoa3(i)+"@example.com"))
			} else {
				unknown = append(unknown, timeOne("nobody"+itoa3(i)+"@example.com"))
				known = append(known, timeOne("user"+itoa3(i)+"@example.com"))
			}
		}
		mk, mu = median(known), median(unknown)
		t.Logf("round %d, median answer: existing %v, unknown %v", round+1, mk, mu)
		ratio := float64(max(mk, mu)) / float64(min(mk, mu))
		if ratio <= 2.5 || max(mk, mu)-min(mk, mu) <= 3*time.Millisecond {
			break
		}
		if round == 2 {
			t.Errorf("answers differ in time in every round: existing %v, unknown %v", mk, mu)
		}
	}
	m.srv.acct.wg.Wait()
}

func wantSignedIn(t *testing.T, what string, r response) {
	t.Helper()
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/account") {
		t.Fatalf("%s: %d to %q, want 303 to /account", what, r.status, r.header.Get("Location"))
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func itoa3(i int) string {
	return string([]byte{byte('0' + i/100%10), byte('0' + i/10%10), byte('0' + i%10)})
}

func TestEmailChangeOverSMTP(t *testing.T) {
	m := newMailEnv(t)
	if _, err := m.profiles.Create(t.Context(), profiles.NewUser{Email: "ada@example.com", Name: "Ada", Password: "correct horse battery", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.profiles.Create(t.Context(), profiles.NewUser{Email: "taken@example.com", Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	b := m.browser()
	wantSignedIn(t, "sign-in", b.signIn("ada@example.com", "correct horse battery"))
	if r := b.submit("/account/email", "/account/email", url.Values{"email": {"ada@new.example"}, "password": {"wrong password"}}); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", r.status)
	}
	if r := b.submit("/account/email", "/account/email", url.Values{"email": {"taken@example.com"}, "password": {"correct horse battery"}}); r.status != http.StatusConflict {
		t.Fatalf("taken address: %d", r.status)
	}
	if r := b.submit("/account/email", "/account/email", url.Values{"email": {"ada@new.example\r\nBcc: x@evil.example"}, "password": {"correct horse battery"}}); r.status != http.StatusBadRequest {
		t.Fatalf("injected address: %d", r.status)
	}
	if r := b.submit("/account/email", "/account/email", url.Values{"email": {"Ada@New.Example"}, "password": {"correct horse battery"}}); r.status != http.StatusOK {
		t.Fatalf("change request: %d %s", r.status, truncate(r.body, 500))
	}
	confirm := m.waitMail(1)
	if confirm.to != "ada@new.example" || confirm.subject != "Confirm your new e-mail address" {
		t.Errorf("confirmation to %q subject %q", confirm.to, confirm.subject)
	}
	link := m.linkPath(confirm, "/email/confirm?t=")
	other := m.browser()
	tok := formToken(t, other.get(link).body)
	if r := other.submit(link, "/email/confirm", url.Values{"t": {tok}}); r.status != http.StatusOK {
		t.Fatalf("confirm: %d %s", r.status, truncate(r.body, 500))
	}
	if _, err := m.profiles.GetByEmail(t.Context(), "ada@new.example"); err != nil {
		t.Fatalf("new address not in use: %v", err)
	}
	if r := other.submit(link, "/email/confirm", url.Values{"t": {tok}}); r.status != http.StatusBadRequest {
		t.Errorf("confirmation link reused: %d", r.status)
	}

	// The old address is told, with a link that undoes the change and ends
	// every session.
	notice := m.waitMail(2)
	if notice.to != "ada@example.com" || notice.subject != "Your e-mail address was changed" {
		t.Errorf("notice to %q subject %q", notice.to, notice.subject)
	}
	undo := m.linkPath(notice, "/email/undo?t=")
	utok := formToken(t, other.get(undo).body)
	if r := other.submit(undo, "/email/undo", url.Values{"t": {utok}}); r.status != http.StatusOK {
		t.Fatalf("undo: %d %s", r.status, truncate(r.body, 500))
	}
	if ident, err := m.profiles.GetByEmail(t.Context(), "ada@example.com"); err != nil || !ident.EmailVerified {
		t.Fatalf("old address not back: %v", err)
	}
	if r := b.get("/account"); r.status != http.StatusSeeOther {
		t.Errorf("session survived the undo: %d", r.status)
	}
	if r := other.submit(undo, "/email/undo", url.Values{"t": {utok}}); r.status != http.StatusBadRequest {
		t.Errorf("undo link reused: %d", r.status)
	}
}
