package mail_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/mail"
	"github.com/assent-auth/assent/mail/mailtest"
	"github.com/assent-auth/assent/store"
	"github.com/assent-auth/assent/store/bolt"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testAEAD(t *testing.T) cipher.AEAD {
	b, err := aes.NewCipher(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func openDB(t *testing.T, dir string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, "assent.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newOutbox(t *testing.T, db *bolt.DB, s mail.Sender, c *clock) *mail.Outbox {
	t.Helper()
	o, err := mail.New(mail.Config{
		Store: db, AEAD: testAEAD(t), Sender: s, From: "Assent <no-reply@example.com>", Host: "login.example.com",
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), Now: c.Now,
		MinBackoff: time.Second, MaxBackoff: 8 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func smtpSender(t *testing.T, srv *mailtest.Server) *mail.SMTPSender {
	t.Helper()
	s, err := mail.NewSMTPSender(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// parsed is a received message taken apart with net/mail and mime/multipart.
type parsed struct {
	header netmail.Header
	parts  map[string]string // media type -> decoded body
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse message: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	p := parsed{header: m.Header, parts: map[string]string{}}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		b, _ := io.ReadAll(part)
		p.parts[pt] = string(b)
	}
	return p
}

func message(to, subject string) mail.Message {
	return mail.Message{
		To: to, ToName: "Åsa Öberg", Subject: subject,
		Text: "Hello Åsa,\nopen http://localhost:8080/verify?t=abc_123-XYZ to go on. " + strings.Repeat("long line ", 20),
		HTML: `<p>Hello Åsa,</p><p><a href="http://localhost:8080/verify?t=abc_123-XYZ">Verify</a></p>`,
	}
}

func TestDeliverOverSMTP(t *testing.T) {
	for _, opts := range []mailtest.Options{
		{TLS: mail.TLSStartTLS, Username: "assent", Password: "s3cret"},
		{TLS: mail.TLSImplicit, Username: "assent", Password: "s3cret"},
		{TLS: mail.TLSNone},
	} {
		t.Run(opts.TLS, func(t *testing.T) {
			srv := mailtest.NewServer(t, opts)
			c := newClock()
			o := newOutbox(t, openDB(t, t.TempDir()), smtpSender(t, srv), c)
			id, err := o.Enqueue(t.Context(), message("asa@example.com", "Vahvista sähköpostiosoitteesi"))
			if err != nil {
				t.Fatal(err)
			}
			if n, err := o.Deliver(t.Context()); err != nil || n != 1 {
				t.Fatalf("Deliver = %d, %v; want 1", n, err)
			}
			msgs := srv.Messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages received, want 1", len(msgs))
			}
			if msgs[0].From != "no-reply@example.com" || len(msgs[0].To) != 1 || msgs[0].To[0] != "asa@example.com" {
				t.Errorf("envelope from %q to %q", msgs[0].From, msgs[0].To)
			}
			p := parse(t, msgs[0].Data)
			dec := new(mime.WordDecoder)
			if subj, _ := dec.DecodeHeader(p.header.Get("Subject")); subj != "Vahvista sähköpostiosoitteesi" {
				t.Errorf("Subject = %q", subj)
			}
			if to, err := p.header.AddressList("To"); err != nil || to[0].Name != "Åsa Öberg" || to[0].Address != "asa@example.com" {
				t.Errorf("To = %v, %v", to, err)
			}
			if got := p.header.Get("Message-ID"); got != "<"+id+"@login.example.com>" {
				t.Errorf("Message-ID = %q", got)
			}
			if !strings.Contains(p.parts["text/plain"], "http://localhost:8080/verify?t=abc_123-XYZ") {
				t.Errorf("text part: %q", p.parts["text/plain"])
			}
			if !strings.Contains(p.parts["text/html"], `href="http://localhost:8080/verify?t=abc_123-XYZ"`) {
				t.Errorf("html part: %q", p.parts["text/html"])
			}
		})
	}
}

func TestWrongPasswordIsRetried(t *testing.T) {
	srv := mailtest.NewServer(t, mailtest.Options{Username: "assent", Password: "right"})
	cfg := srv.Config()
	cfg.Password = "wrong"
	s, err := mail.NewSMTPSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, t.TempDir())
	o := newOutbox(t, db, s, newClock())
	if _, err := o.Enqueue(t.Context(), message("a@example.com", "x")); err != nil {
		t.Fatal(err)
	}
	if n, _ := o.Deliver(t.Context()); n != 0 {
		t.Fatalf("delivered %d with a wrong password", n)
	}
	left, _ := db.ListMail(t.Context(), "", 10)
	if len(left) != 1 || !strings.HasPrefix(left[0].LastError, "smtp auth: reply 4") {
		t.Errorf("outbox after auth failure: %d left, %+v", len(left), lastErrors(left))
	}
}

// TestOutageThenRecovery: the server refuses several transactions after
// the whole message was sent, then recovers; every message arrives exactly
// once and the waits grow.
func TestOutageThenRecovery(t *testing.T) {
	srv := mailtest.NewServer(t, mailtest.Options{})
	c := newClock()
	db := openDB(t, t.TempDir())
	o := newOutbox(t, db, smtpSender(t, srv), c)
	const n = 5
	subjects := map[string]bool{}
	for i := range n {
		subj := "message " + string(rune('A'+i))
		subjects[subj] = true
		if _, err := o.Enqueue(t.Context(), message("a@example.com", subj)); err != nil {
			t.Fatal(err)
		}
	}
	srv.FailNext(12)
	for step := 0; step < 100; step++ {
		if _, err := o.Deliver(t.Context()); err != nil {
			t.Fatal(err)
		}
		if left, _ := db.ListMail(t.Context(), "", 10); len(left) == 0 {
			break
		}
		c.Advance(time.Second)
	}
	if srv.Refused() != 12 {
		t.Errorf("server refused %d transactions, want 12", srv.Refused())
	}
	msgs := srv.Messages()
	if len(msgs) != n {
		t.Fatalf("%d messages arrived, want %d", len(msgs), n)
	}
	seen := map[string]int{}
	for _, m := range msgs {
		seen[parse(t, m.Data).header.Get("Subject")]++
	}
	for subj := range subjects {
		if seen[subj] != 1 {
			t.Errorf("%q arrived %d times, want once", subj, seen[subj])
		}
	}
}

// TestRestartLosesNothing: a message queued before a restart is delivered
// after it, once.
func TestRestartLosesNothing(t *testing.T) {
	srv := mailtest.NewServer(t, mailtest.Options{})
	dir := t.TempDir()
	c := newClock()
	db := openDB(t, dir)
	o := newOutbox(t, db, smtpSender(t, srv), c)
	if _, err := o.Enqueue(t.Context(), message("a@example.com", "before restart")); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db2 := openDB(t, dir)
	o2 := newOutbox(t, db2, smtpSender(t, srv), c)
	if n, err := o2.Deliver(t.Context()); err != nil || n != 1 {
		t.Fatalf("Deliver after restart = %d, %v", n, err)
	}
	if n, _ := o2.Deliver(t.Context()); n != 0 {
		t.Errorf("second pass delivered %d more", n)
	}
	if got := len(srv.Messages()); got != 1 {
		t.Errorf("%d messages arrived, want 1", got)
	}
}

// TestHangingServer: a server that accepts and never answers costs one
// timeout; the message stays queued.
func TestHangingServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	s, err := mail.NewSMTPSender(mail.SMTPConfig{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, t.TempDir())
	o := newOutbox(t, db, s, newClock())
	if _, err := o.Enqueue(t.Context(), message("a@example.com", "x")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if n, _ := o.Deliver(t.Context()); n != 0 {
		t.Fatal("delivered to a silent server")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("hanging server held delivery for %v", d)
	}
	left, _ := db.ListMail(t.Context(), "", 10)
	if len(left) != 1 || left[0].LastError != "smtp greeting: timeout" {
		t.Errorf("outbox: %d left, %+v", len(left), lastErrors(left))
	}
}

func TestHeaderInjectionRefused(t *testing.T) {
	o := newOutbox(t, openDB(t, t.TempDir()), mail.DirSender{Dir: t.TempDir()}, newClock())
	for name, m := range map[string]mail.Message{
		"to with CRLF":    {To: "a@example.com\r\nBcc: victim@example.com", Subject: "x", Text: "x"},
		"to with name":    {To: "Eve <a@example.com>", Subject: "x", Text: "x"},
		"two addresses":   {To: "a@example.com, b@example.com", Subject: "x", Text: "x"},
		"subject with LF": {To: "a@example.com", Subject: "x\nBcc: victim@example.com", Text: "x"},
		"name with CR":    {To: "a@example.com", ToName: "Eve\rBcc: v@example.com", Subject: "x", Text: "x"},
		"empty body":      {To: "a@example.com", Subject: "x"},
		"long subject":    {To: "a@example.com", Subject: strings.Repeat("x", 400), Text: "x"},
		"not an address":  {To: "nobody", Subject: "x", Text: "x"},
	} {
		if _, err := o.Enqueue(t.Context(), m); !errors.Is(err, mail.ErrInvalidMessage) {
			t.Errorf("%s: err = %v, want ErrInvalidMessage", name, err)
		}
	}
}

func TestDirSender(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	db := openDB(t, t.TempDir())
	o := newOutbox(t, db, mail.DirSender{Dir: dir}, newClock())
	id, err := o.Enqueue(t.Context(), message("a@example.com", "to a file"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := o.Deliver(t.Context()); err != nil || n != 1 {
		t.Fatalf("Deliver = %d, %v", n, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, id+".eml"))
	if err != nil {
		t.Fatal(err)
	}
	if p := parse(t, b); !strings.Contains(p.parts["text/plain"], "verify?t=abc_123-XYZ") {
		t.Errorf("file text part: %q", p.parts["text/plain"])
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d files in the outbox directory, want 1", len(entries))
	}
}

func TestConfigValidate(t *testing.T) {
	err := mail.SMTPConfig{Port: 70000, TLS: "ssl", Username: "u"}.Validate()
	for _, want := range []string{"smtp.host", "smtp.port", "smtp.tls", "smtp.password"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %s", err, want)
		}
	}
}

func lastErrors(ms []store.Mail) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.LastError)
	}
	return out
}
