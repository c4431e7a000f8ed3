package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"

	"github.com/assent-auth/assent/mail"
	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/store"
)

// mailConfig is the mail section of the config file. Without an SMTP host,
// messages are written as .eml files to <data>/outbox/.
type mailConfig struct {
	// From is the sender (default "Assent <no-reply@ISSUER-HOST>").
	From string     `yaml:"from"`
	SMTP smtpConfig `yaml:"smtp"`
}

type smtpConfig struct {
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
	// TLS is starttls (default), implicit or none.
	TLS      string `yaml:"tls"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

func (s smtpConfig) mail() mail.SMTPConfig {
	port := s.Port
	if port == 0 {
		port = 587
		if s.TLS == mail.TLSImplicit {
			port = 465
		}
	}
	return mail.SMTPConfig{Host: s.Host, Port: port, TLS: s.TLS, Username: s.Username, Password: s.Password}
}

func (c *config) mailFrom() string {
	if c.Mail.From != "" {
		return c.Mail.From
	}
	host := "localhost"
	if u, err := url.Parse(c.Issuer); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	return "Assent <no-reply@" + host + ">"
}

func (c *config) validateMail(bad func(field, format string, a ...any)) {
	if c.Mail.SMTP.Host != "" {
		if err := c.Mail.SMTP.mail().Validate(); err != nil {
			bad("mail", "%v", err)
		}
	} else if c.Mail.SMTP != (smtpConfig{}) {
		bad("mail.smtp.host", "required when other smtp settings are given")
	}
	if c.Mail.From != "" {
		if err := mail.CheckFrom(c.Mail.From); err != nil {
			bad("mail.from", "%q is not an address", c.Mail.From)
		}
	}
}

// newOutbox builds the mail outbox: SMTP when configured, otherwise files
// in <data>/outbox/, and says in the log where mail goes.
func newOutbox(cfg *config, st store.Outbox, keys *profiles.Keyring, log *slog.Logger) (*mail.Outbox, error) {
	aead, err := keys.AEAD("mail outbox v1")
	if err != nil {
		return nil, err
	}
	var sender mail.Sender
	if cfg.Mail.SMTP.Host != "" {
		s, err := mail.NewSMTPSender(cfg.Mail.SMTP.mail())
		if err != nil {
			return nil, err
		}
		sender = s
		log.Info("mail is sent over SMTP", "host", cfg.Mail.SMTP.Host, "port", cfg.Mail.SMTP.mail().Port)
	} else {
		dir := filepath.Join(cfg.Data, "outbox")
		sender = mail.DirSender{Dir: dir}
		log.Info("no SMTP server configured: mail is written as .eml files", "dir", dir)
	}
	host := "localhost"
	if u, err := url.Parse(cfg.Issuer); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	ob, err := mail.New(mail.Config{Store: st, AEAD: aead, Sender: sender, From: cfg.mailFrom(), Host: host, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	return ob, nil
}

// runOutbox delivers until ctx ends; the returned channel closes when the
// delivery in progress has finished, before the database may close.
func runOutbox(ctx context.Context, ob *mail.Outbox) <-chan struct{} {
	done := make(chan struct{})
	go func() { defer close(done); ob.Run(ctx) }()
	return done
}
