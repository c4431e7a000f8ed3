package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/assent-auth/assent/mail"
)

// Options choose how the server talks.
type Options struct {
	// TLS is mail.TLSStartTLS, mail.TLSImplicit or mail.TLSNone (default
	// STARTTLS).
	TLS string
	// Username and Password, when set, are required with AUTH PLAIN.
	Username, Password string
}

// Received is one accepted message.
type Received struct {
	From string
	To   []string
	Data []byte
}

// Server is a running SMTP server.
type Server struct {
	opts    Options
	Host    string
	Port    int
	RootCAs *x509.CertPool

	mu       sync.Mutex
	msgs     []Received
	failNext int
	refused  int
	changed  chan struct{}
}

// NewServer starts a server on 127.0.0.1; it stops when the test ends.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.TLS == "" {
		opts.TLS = mail.TLSStartTLS
	}
	cert, pool := selfSigned(t)
	s := &Server{opts: opts, RootCAs: pool, changed: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.MaxRecipients = 10
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	switch opts.TLS {
	case mail.TLSStartTLS:
		srv.TLSConfig = tlsCfg
	case mail.TLSImplicit:
		ln = tls.NewListener(ln, tlsCfg)
	case mail.TLSNone:
		srv.AllowInsecureAuth = true
	}
	addr := ln.Addr().(*net.TCPAddr)
	s.Host, s.Port = "127.0.0.1", addr.Port
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// Config is a mail.SMTPConfig that reaches this server.
func (s *Server) Config() mail.SMTPConfig {
	return mail.SMTPConfig{
		Host: s.Host, Port: s.Port, TLS: s.opts.TLS,
		Username: s.opts.Username, Password: s.opts.Password,
		Timeout:   5 * time.Second,
		TLSConfig: &tls.Config{RootCAs: s.RootCAs, ServerName: "localhost"},
	}
}

// FailNext makes the next n transactions fail with a temporary error after
// the whole message was sent (the hardest case for a client).
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = n
}

// Refused reports how many transactions FailNext refused.
func (s *Server) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// Messages returns what was accepted so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// Wait returns once at least n messages were accepted, failing the test
// after timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Received {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got, ch := len(s.msgs), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("mailtest: %d messages after %v, want %d", got, timeout, n)
		}
	}
}

type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

func (se *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (se *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != se.s.opts.Username || password != se.s.opts.Password {
			return errors.New("invalid credentials")
		}
		se.authed = true
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.s.opts.Username != "" && !se.authed {
		return smtp.ErrAuthRequired
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := se.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext > 0 {
		s.failNext--
		s.refused++
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.msgs = append(s.msgs, Received{From: se.from, To: se.to, Data: bytes.Clone(b)})
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

func (se *session) Reset()        { se.from, se.to = "", nil }
func (se *session) Logout() error { return nil }

// selfSigned makes a certificate for localhost and 127.0.0.1.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
