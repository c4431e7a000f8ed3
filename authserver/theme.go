package authserver

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"

	"golang.org/x/text/language"
)

//go:embed web
var webFS embed.FS

// pageNames are the templates a theme may override, besides layout.html.
var pageNames = []string{"signin", "signup", "account", "error", "factor", "security", "totp", "verify", "reset", "reset_password", "email_change", "report", "app_enroll", "push_wait", "consent", "apps", "profile", "ask", "upstream_link", "payment", "signin_link", "sessions", "continue"}

// theme holds the parsed page templates, the message catalogs and the
// static files, each taken from the theme directory where it has one and
// from the embedded defaults otherwise.
type theme struct {
	pages    map[string]*template.Template
	catalogs map[language.Tag]map[string]string
	matcher  language.Matcher
	static   http.Handler
}

// supportedLangs lists the shipped catalogs; the first is the fallback.
var supportedLangs = []language.Tag{language.English, language.Finnish}

// loadTheme reads the embedded web files with the optional theme directory
// laid over them: dir/templates/NAME.html replaces a template, dir/static/
// adds or replaces static files (logo.svg, theme.css), and
// dir/messages/LANG.json overrides individual messages.
func loadTheme(dir string) (*theme, error) {
	base, err := fs.Sub(webFS, "web")
	if err != nil {
		return nil, err
	}
	var over fs.FS
	if dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("theme directory %q is not a readable directory", dir)
		}
		over = os.DirFS(dir)
	}
	read := func(name string) ([]byte, error) {
		if over != nil {
			b, err := fs.ReadFile(over, name)
			if err == nil {
				return b, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
		return fs.ReadFile(base, name)
	}

	t := &theme{pages: map[string]*template.Template{}, catalogs: map[language.Tag]map[string]string{}}
	layout, err := read("templates/layout.html")
	if err != nil {
		return nil, err
	}
	for _, name := range pageNames {
		src, err := read("templates/" + name + ".html")
		if err != nil {
			return nil, err
		}
		tpl, err := template.New(name).Parse(string(layout))
		if err == nil {
			_, err = tpl.Parse(string(src))
		}
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		t.pages[name] = tpl
	}

	for _, tag := range supportedLangs {
		name := "messages/" + tag.String() + ".json"
		cat := map[string]string{}
		b, err := fs.ReadFile(base, name)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &cat); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if over != nil {
			b, err := fs.ReadFile(over, name)
			switch {
			case err == nil:
				var o map[string]string
				if err := json.Unmarshal(b, &o); err != nil {
					return nil, fmt.Errorf("theme %s: %w", name, err)
				}
				for k, v := range o {
					cat[k] = v
				}
			case !errors.Is(err, fs.ErrNotExist):
				return nil, err
			}
		}
		t.catalogs[tag] = cat
	}
	t.matcher = language.NewMatcher(supportedLangs)

	staticBase, _ := fs.Sub(base, "static")
	var staticOver fs.FS
	if over != nil {
		staticOver, _ = fs.Sub(over, "static")
	}
	t.static = http.StripPrefix("/static/", http.FileServerFS(overlayFS{staticOver, staticBase}))
	return t, nil
}

// lang picks the catalog for an Accept-Language header.
func (t *theme) lang(acceptLanguage string) language.Tag {
	tags, _, _ := language.ParseAcceptLanguage(acceptLanguage)
	_, i, _ := t.matcher.Match(tags...)
	return supportedLangs[i]
}

// message returns the text for key in lang, falling back to English and
// then to the key itself, so a missing translation shows, not breaks.
func (t *theme) message(lang language.Tag, key string) string {
	if s, ok := t.catalogs[lang][key]; ok {
		return s
	}
	if s, ok := t.catalogs[supportedLangs[0]][key]; ok {
		return s
	}
	return key
}

// overlayFS serves a file from top when it has it, else from bottom.
// Directory listings are refused.
type overlayFS struct{ top, bottom fs.FS }

func (o overlayFS) Open(name string) (fs.File, error) {
	if name == "." || strings.HasSuffix(name, "/") || len(path.Ext(name)) < 2 {
		return nil, fs.ErrNotExist
	}
	if o.top != nil {
		f, err := o.top.Open(name)
		if err == nil {
			return f, nil
		}
	}
	return o.bottom.Open(name)
}
