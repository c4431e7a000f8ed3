package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"
	"time"
)

// TLS modes of an SMTP connection.
const (
	// TLSStartTLS upgrades a plain connection and refuses a server that
	// does not offer STARTTLS (the default; port 587).
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (port 465).
	TLSImplicit = "implicit"
	// TLSNone sends in the clear: only for a relay on the same host.
	TLSNone = "none"
)

// SMTPConfig configures delivery to a mail server.
type SMTPConfig struct {
	Host string
	Port int
	// TLS is TLSStartTLS (default), TLSImplicit or TLSNone.
	TLS string
	// Username and Password, when set, authenticate with AUTH PLAIN, which
	// is only ever sent over TLS or to a loopback server.
	Username string
	Password string
	// HelloName is sent in EHLO (default "localhost").
	HelloName string
	// Timeout bounds one delivery from dial to QUIT (default 30 s).
	Timeout time.Duration
	// TLSConfig overrides the TLS settings (tests use it for their CA).
	TLSConfig *tls.Config
}

// Validate reports every problem at once.
func (c SMTPConfig) Validate() error {
	var errs []error
	if c.Host == "" {
		errs = append(errs, errors.New("smtp.host: required"))
	}
	if c.Port < 1 || c.Port > 65535 {
		errs = append(errs, errors.New("smtp.port: must be 1 to 65535"))
	}
	switch c.TLS {
	case "", TLSStartTLS, TLSImplicit, TLSNone:
	default:
		errs = append(errs, fmt.Errorf("smtp.tls: %q is not starttls, implicit or none", c.TLS))
	}
	if (c.Username == "") != (c.Password == "") {
		errs = append(errs, errors.New("smtp.username, smtp.password: give both or neither"))
	}
	return errors.Join(errs...)
}

// SMTPSender delivers over SMTP, one connection per message.
type SMTPSender struct{ cfg SMTPConfig }

// NewSMTPSender checks c and returns a sender.
func NewSMTPSender(c SMTPConfig) (*SMTPSender, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.TLS == "" {
		c.TLS = TLSStartTLS
	}
	if c.HelloName == "" {
		c.HelloName = "localhost"
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	return &SMTPSender{cfg: c}, nil
}

// DeliveryError is a failed SMTP exchange. Its text names the stage and the
// reply code only: servers' reply texts may echo addresses.
type DeliveryError struct {
	Stage string
	Code  int
	Err   error
}

func (e *DeliveryError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("smtp %s: reply %d", e.Stage, e.Code)
	}
	var ne net.Error
	if errors.As(e.Err, &ne) && ne.Timeout() {
		return "smtp " + e.Stage + ": timeout"
	}
	return "smtp " + e.Stage + ": " + e.Err.Error()
}

func (e *DeliveryError) Unwrap() []error {
	if e.Stage == "rcpt" && e.Code >= 500 {
		return []error{e.Err, ErrPermanent}
	}
	return []error{e.Err}
}

func stageErr(stage string, err error) error {
	de := &DeliveryError{Stage: stage, Err: err}
	var te *textproto.Error
	if errors.As(err, &te) {
		de.Code = te.Code
	}
	return de
}

// Send delivers one message and returns once the server has accepted it.
func (s *SMTPSender) Send(ctx context.Context, e Envelope) error {
	c := s.cfg
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	addr := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return stageErr("dial", err)
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	conn.SetDeadline(dl)
	// A cancelled context cuts the connection short.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	tlsCfg := c.TLSConfig.Clone()
	if tlsCfg == nil {
		tlsCfg = &tls.Config{}
	}
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName = c.Host
	}
	tlsCfg.MinVersion = max(tlsCfg.MinVersion, tls.VersionTLS12)
	if c.TLS == TLSImplicit {
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return stageErr("tls", err)
		}
		conn = tc
	}
	cl, err := smtp.NewClient(conn, c.Host)
	if err != nil {
		return stageErr("greeting", err)
	}
	defer cl.Close()
	if err := cl.Hello(c.HelloName); err != nil {
		return stageErr("ehlo", err)
	}
	if c.TLS == TLSStartTLS {
		if ok, _ := cl.Extension("STARTTLS"); !ok {
			return stageErr("starttls", errors.New("server does not offer STARTTLS"))
		}
		if err := cl.StartTLS(tlsCfg); err != nil {
			return stageErr("starttls", err)
		}
	}
	if c.Username != "" {
		if err := cl.Auth(smtp.PlainAuth("", c.Username, c.Password, c.Host)); err != nil {
			return stageErr("auth", err)
		}
	}
	if err := cl.Mail(e.From); err != nil {
		return stageErr("mail", err)
	}
	if err := cl.Rcpt(e.To); err != nil {
		return stageErr("rcpt", err)
	}
	w, err := cl.Data()
	if err != nil {
		return stageErr("data", err)
	}
	if _, err := w.Write(e.Data); err != nil {
		return stageErr("data", err)
	}
	if err := w.Close(); err != nil {
		return stageErr("data", err)
	}
	// The message is accepted; a failed QUIT changes nothing.
	cl.Quit()
	return nil
}
