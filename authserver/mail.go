package authserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	texttemplate "text/template"

	"golang.org/x/text/language"

	"github.com/assent-auth/assent/mail"
)

// mailNames are the mail templates: each has NAME.txt and NAME.html (laid
// into layout.html) under mail/, and its subject is the message
// "mail.NAME.subject". A theme directory overrides any of them in its own
// mail/ directory, and their texts come from the pages' catalogs.
var mailNames = []string{"verify", "reset", "reset_done", "email_confirm", "email_changed", "notice", "signin_link", "app_enroll"}

// mailTemplates holds the parsed mail templates.
type mailTemplates struct {
	text map[string]*texttemplate.Template
	html map[string]*htmltemplate.Template
}

func loadMailTemplates(dir string) (*mailTemplates, error) {
	base, err := fs.Sub(webFS, "web")
	if err != nil {
		return nil, err
	}
	read := func(name string) ([]byte, error) {
		if dir != "" {
			b, err := fs.ReadFile(os.DirFS(dir), name)
			if err == nil {
				return b, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
		return fs.ReadFile(base, name)
	}
	mt := &mailTemplates{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	layout, err := read("mail/layout.html")
	if err != nil {
		return nil, err
	}
	for _, name := range mailNames {
		txt, err := read("mail/" + name + ".txt")
		if err != nil {
			return nil, err
		}
		if mt.text[name], err = texttemplate.New(name).Parse(string(txt)); err != nil {
			return nil, fmt.Errorf("mail template %s.txt: %w", name, err)
		}
		src, err := read("mail/" + name + ".html")
		if err != nil {
			return nil, err
		}
		h, err := htmltemplate.New(name).Parse(string(layout))
		if err == nil {
			_, err = h.Parse(string(src))
		}
		if err != nil {
			return nil, fmt.Errorf("mail template %s.html: %w", name, err)
		}
		mt.html[name] = h
	}
	return mt, nil
}

// mailData is what a mail template gets.
type mailData struct {
	Lang string
	// Name is the recipient's name, if they gave one.
	Name string
	// Link is the one link the message is about; Code a code to type.
	Link string
	Code string
	// Kind selects the texts of a security notice ("mail.notice.KIND.*");
	// Facts are its lines of what happened (when, where, which browser).
	Kind  string
	Facts []string
	// QR is an image of Code (a data: URL); Expires says when Code lapses.
	QR      htmltemplate.URL
	Expires string

	theme *theme
	tag   language.Tag
}

// T returns the message for key in the mail's language.
func (d mailData) T(key string) string { return d.theme.message(d.tag, key) }

// sendMail renders the named mail in the language tag and queues it. The
// outbox delivers it after this returns, surviving a restart.
func (s *Server) sendMail(ctx context.Context, tag language.Tag, name, to string, d mailData) error {
	if s.cfg.Mail == nil {
		return errors.New("no mail outbox configured")
	}
	d.Lang, d.theme, d.tag = tag.String(), s.theme, tag
	toName := d.Name
	if !mail.ValidName(toName) {
		toName = ""
	}
	var txt, html bytes.Buffer
	if err := s.acct.tpl.text[name].Execute(&txt, d); err != nil {
		return fmt.Errorf("render mail %s: %w", name, err)
	}
	if err := s.acct.tpl.html[name].ExecuteTemplate(&html, "layout", d); err != nil {
		return fmt.Errorf("render mail %s: %w", name, err)
	}
	_, err := s.cfg.Mail.Enqueue(ctx, mail.Message{
		To:      to,
		ToName:  toName,
		Subject: d.T(subjectKey(name, d.Kind)),
		Text:    txt.String(),
		HTML:    html.String(),
	})
	return err
}

// link is an absolute URL on the issuer.
func (s *Server) link(path string) string {
	u := *s.issuer
	u.Path, u.RawQuery = "", ""
	return u.String() + path
}

// subjectKey is the catalog key of a mail's subject: "mail.NAME.subject",
// or "mail.NAME.KIND.subject" for a kind of notice.
func subjectKey(name, kind string) string {
	if kind != "" {
		return "mail." + name + "." + kind + ".subject"
	}
	return "mail." + name + ".subject"
}
