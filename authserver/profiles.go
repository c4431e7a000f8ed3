package authserver

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/store"
	"github.com/assent-auth/assent/webhook"
)

// Customer profiles: the attribute and consent pages of the account, the
// progressive profiling question card, the data export and account
// deletion, and their admin API. The rules live in the profiles package.

func (s *Server) profileRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /account/profile", s.handleProfilePage)
	mux.HandleFunc("POST /account/profile", s.handleProfileSave)
	mux.HandleFunc("POST /account/consents", s.handleConsentsSave)
	mux.HandleFunc("GET /account/export", s.handleAccountExport)
	mux.HandleFunc("POST /account/delete", s.handleAccountDelete)
	mux.HandleFunc("GET /account/ask", s.handleAskPage)
	mux.HandleFunc("POST /account/ask", s.handleAskSave)
}

func (s *Server) adminProfileRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/v1/profile-schema", s.adminProfileSchema)
	mux.HandleFunc("GET /admin/v1/users/{user}/attributes", s.adminGetAttributes)
	mux.HandleFunc("PATCH /admin/v1/users/{user}/attributes", s.adminSetAttributes)
	mux.HandleFunc("GET /admin/v1/users/{user}/consents", s.adminListConsents)
	mux.HandleFunc("GET /admin/v1/users/{user}/export", s.adminExportUser)
	mux.HandleFunc("POST /admin/v1/users/{user}/erase", s.adminEraseUser)
	s.adminLinkRoutes(mux)
	s.adminWebhookRoutes(mux)
}

// profileUser returns the signed-in user, or sends the browser to sign in
// and back to back.
func (s *Server) profileUser(w http.ResponseWriter, r *http.Request, back string) (profiles.Identity, bool) {
	sess, err := s.session(r)
	if err == nil {
		ident, gerr := s.profiles.Get(r.Context(), sess.UserID)
		if gerr == nil {
			return ident, true
		}
		err = gerr
		s.endSession(w, r)
	}
	if !errors.Is(err, errNoSession) && !errors.Is(err, profiles.ErrNotFound) {
		s.log.ErrorContext(r.Context(), "session lookup failed", "err", err)
	}
	http.Redirect(w, r, "/signin?return_to="+url.QueryEscape(back), http.StatusSeeOther)
	return profiles.Identity{}, false
}

// profileField is one attribute as a form shows it.
type profileField struct {
	Attr     profiles.Attribute
	Input    string // text, email, tel, date, select, checkboxes
	Value    string
	Selected map[string]bool
	// UsedFor tells what the value is used for; Error is what is wrong
	// with the value sent.
	UsedFor string
	Error   string
}

// profilePage is the data of the profile and question pages.
type profilePage struct {
	Fields   []profileField
	Consents []profiles.ConsentState
	// Links are the user's linked upstream accounts, by provider name.
	Links []string
	// Rule, Required and Purposes describe a question card.
	Rule     int
	Required bool
	Purposes []profiles.Purpose
}

func (s *Server) fields(p page, attrs []profiles.Attribute, values map[string]string) []profileField {
	sch := s.profiles.Schema()
	out := make([]profileField, 0, len(attrs))
	for _, a := range attrs {
		f := profileField{Attr: a, Value: values[a.Name], Selected: map[string]bool{}}
		switch a.Type {
		case profiles.TypeEmail:
			f.Input = "email"
		case profiles.TypePhone:
			f.Input = "tel"
		case profiles.TypeDate:
			f.Input = "date"
		case profiles.TypeEnum:
			f.Input = "select"
			f.Selected[f.Value] = true
		case profiles.TypeMultiSelect:
			f.Input = "checkboxes"
			for _, v := range strings.Split(f.Value, ",") {
				f.Selected[v] = true
			}
		default:
			f.Input = "text"
		}
		var uses []string
		for _, name := range a.Purposes {
			if pu, ok := sch.Purpose(name); ok {
				uses = append(uses, pu.Description)
			}
		}
		if len(uses) > 0 {
			f.UsedFor = p.T("profile.used_for") + " " + strings.Join(uses, "; ")
		}
		f.Error = p.FieldErrors["attributes."+a.Name]
		out = append(out, f)
	}
	return out
}

func (s *Server) renderProfile(w http.ResponseWriter, r *http.Request, status int, ident profiles.Identity, values map[string]string, fieldErrs map[string]string, notice string) {
	states, _, err := s.profiles.Consents(r.Context(), ident.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "load consents failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	p := s.newPage(w, r)
	p.User = ident
	if fieldErrs != nil {
		p.FieldErrors = fieldErrs
		p.Error = p.T("profile.invalid")
	}
	if notice != "" {
		p.Notice = p.T(notice)
	}
	links, err := s.profiles.Links(r.Context(), ident.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "load links failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	var names []string
	for _, l := range links {
		name := l.Provider
		if u, ok := s.ups.byID[l.Provider]; ok {
			name = u.Name
		}
		names = append(names, name)
	}
	p.Data = profilePage{Fields: s.fields(p, s.profiles.Schema().Attributes, values), Consents: states, Links: names}
	s.render(w, r, status, "profile", p)
}

func (s *Server) handleProfilePage(w http.ResponseWriter, r *http.Request) {
	ident, ok := s.profileUser(w, r, "/account/profile")
	if !ok {
		return
	}
	notice := ""
	switch r.URL.Query().Get("done") {
	case "saved":
		notice = "profile.saved"
	case "consents":
		notice = "profile.consents_saved"
	case "linked":
		notice = "profile.linked"
	}
	s.renderProfile(w, r, http.StatusOK, ident, ident.Attributes, nil, notice)
}

// formAttributes reads the attr.<name> fields of the form for attrs.
func formAttributes(r *http.Request, attrs []profiles.Attribute) map[string][]string {
	out := map[string][]string{}
	for _, a := range attrs {
		vs := r.PostForm["attr."+a.Name]
		if vs == nil {
			vs = []string{}
		}
		out[a.Name] = vs
	}
	return out
}

// fieldErrors maps validation errors to messages by field, for a page.
func fieldErrors(err error) (map[string]string, bool) {
	var ves profiles.ValidationErrors
	var ve *profiles.ValidationError
	switch {
	case errors.As(err, &ves):
		m := map[string]string{}
		for _, e := range ves {
			m[e.Field] = e.Message
		}
		return m, true
	case errors.As(err, &ve):
		return map[string]string{ve.Field: ve.Message}, true
	}
	return nil, false
}

func (s *Server) handleProfileSave(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	ident, ok := s.profileUser(w, r, "/account/profile")
	if !ok {
		return
	}
	attrs := s.profiles.Schema().Attributes
	values := formAttributes(r, attrs)
	updated, err := s.profiles.SetAttributes(r.Context(), ident.ID, values, profiles.Collection{Channel: profiles.ChannelAccount})
	if fe, ok := fieldErrors(err); ok {
		shown := map[string]string{}
		for k, v := range values {
			shown[k] = strings.Join(v, ",")
		}
		s.renderProfile(w, r, http.StatusUnprocessableEntity, ident, shown, fe, "")
		return
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "save profile failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	s.audit(r, store.AuditEvent{Kind: "profile.updated", Actor: updated.ID, Subject: updated.ID, Outcome: "ok",
		Details: map[string]string{"channel": profiles.ChannelAccount, "attributes": strings.Join(slices.Sorted(maps.Keys(values)), " ")}})
	s.syncUser(r, webhook.EventProfileUpdated, updated.ID)
	http.Redirect(w, r, "/account/profile?done=saved", http.StatusSeeOther)
}

// applyConsents records the changes between the form's consent.<purpose>
// checkboxes and the current state, for the purposes offered.
func (s *Server) applyConsents(r *http.Request, userID string, offered []string, channel string) error {
	states, _, err := s.profiles.Consents(r.Context(), userID)
	if err != nil {
		return err
	}
	changed := false
	defer func() {
		if changed {
			s.syncUser(r, webhook.EventConsentChanged, userID)
		}
	}()
	for _, st := range states {
		if !slices.Contains(offered, st.Purpose.Name) {
			continue
		}
		want := r.PostFormValue("consent."+st.Purpose.Name) == "yes"
		if want == st.Granted {
			continue
		}
		if _, err := s.profiles.SetConsent(r.Context(), userID, st.Purpose.Name, want, channel, ""); err != nil {
			return err
		}
		changed = true
		kind := "consent.withdrawn"
		if want {
			kind = "consent.granted"
		}
		s.audit(r, store.AuditEvent{Kind: kind, Actor: userID, Subject: userID, Outcome: "ok",
			Details: map[string]string{"purpose": st.Purpose.Name, "version": st.Purpose.Version, "channel": channel}})
	}
	return nil
}

func (s *Server) handleConsentsSave(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	ident, ok := s.profileUser(w, r, "/account/profile")
	if !ok {
		return
	}
	var all []string
	for _, p := range s.profiles.Schema().Purposes {
		all = append(all, p.Name)
	}
	if err := s.applyConsents(r, ident.ID, all, profiles.ChannelAccount); err != nil {
		s.log.ErrorContext(r.Context(), "save consents failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	http.Redirect(w, r, "/account/profile?done=consents", http.StatusSeeOther)
}

func (s *Server) handleAccountExport(w http.ResponseWriter, r *http.Request) {
	ident, ok := s.profileUser(w, r, "/account/profile")
	if !ok {
		return
	}
	x, err := s.profiles.Export(r.Context(), ident.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "export failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	s.audit(r, store.AuditEvent{Kind: "user.exported", Actor: ident.ID, Subject: ident.ID, Outcome: "ok"})
	w.Header().Set("Content-Disposition", `attachment; filename="my-data.json"`)
	writeJSON(w, http.StatusOK, x)
}

func (s *Server) handleAccountDelete(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	ident, ok := s.profileUser(w, r, "/account/profile")
	if !ok {
		return
	}
	// Typing the address is the confirmation: a stray click or a forged
	// form (CSRF is checked too) cannot erase an account.
	typed, err := profiles.NormalizeEmail(r.PostFormValue("confirm"))
	if err != nil || typed != ident.Email {
		s.renderProfile(w, r, http.StatusUnprocessableEntity, ident, ident.Attributes,
			map[string]string{"confirm": s.newPage(w, r).T("profile.delete_mismatch")}, "")
		return
	}
	// Erasure cannot be undone: it takes a sign-in within the last ten
	// minutes, so a session left open or stolen cannot do it.
	if sess, err := s.session(r); err != nil || !s.freshSignIn(sess) {
		s.renderProfile(w, r, http.StatusForbidden, ident, ident.Attributes,
			map[string]string{"confirm": s.newPage(w, r).T("profile.delete_reauth")}, "")
		return
	}
	rep, err := s.profiles.Erase(r.Context(), ident.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "erase failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	s.endSession(w, r)
	pseudo := s.cfg.Keys.Pseudonym(ident.ID)
	s.audit(r, store.AuditEvent{Kind: "user.erased", Actor: pseudo, Subject: pseudo, Outcome: "ok", IP: "-", UserAgent: "-",
		Details: map[string]string{"via": "account", "audit_events": strconv.Itoa(rep.AuditEvents)}})
	s.syncErased(r.Context(), ident.ID, pseudo)
	http.Redirect(w, r, "/signin?erased=1", http.StatusSeeOther)
}

// Progressive profiling. After a sign-in, and before an authorization
// request completes, the user may be shown one question card.

// askAfterSignIn returns where to send the user after a sign-in: the
// question card when a sign-in rule applies, returnTo otherwise.
func (s *Server) askAfterSignIn(r *http.Request, ident profiles.Identity, returnTo string) string {
	p, err := s.profiles.NextPrompt(r.Context(), ident, nil, true)
	if err != nil {
		s.log.ErrorContext(r.Context(), "profile prompt failed", "err", err)
		return returnTo
	}
	if p == nil {
		return returnTo
	}
	return askURL(p.Rule, markAsked(returnTo))
}

// askBeforeAuthorizing sends the user to the question card when a rule for
// the requested scopes applies, and reports whether it did. A card that
// was already shown for this request is not shown again, unless it is
// required and still unanswered.
func (s *Server) askBeforeAuthorizing(w http.ResponseWriter, r *http.Request, userID string, scopes []string) bool {
	if len(s.profiles.Schema().Prompts) == 0 {
		return false
	}
	ident, err := s.profiles.Get(r.Context(), userID)
	if err != nil {
		return false
	}
	p, err := s.profiles.NextPrompt(r.Context(), ident, scopes, false)
	if err != nil {
		s.log.ErrorContext(r.Context(), "profile prompt failed", "err", err)
		return false
	}
	if p == nil || (r.URL.Query().Get("asked") != "" && !p.Required) {
		return false
	}
	http.Redirect(w, r, askURL(p.Rule, markAsked(r.URL.RequestURI())), http.StatusSeeOther)
	return true
}

func askURL(rule int, returnTo string) string {
	return "/account/ask?rule=" + strconv.Itoa(rule) + "&return_to=" + url.QueryEscape(returnTo)
}

// markAsked adds asked=1 to a local URL, so the card is not shown twice.
func markAsked(u string) string {
	if u == "" {
		u = "/account"
	}
	if strings.Contains(u, "asked=1") {
		return u
	}
	if strings.Contains(u, "?") {
		return u + "&asked=1"
	}
	return u + "?asked=1"
}

func (s *Server) askPrompt(w http.ResponseWriter, r *http.Request, form url.Values) (profiles.Identity, *profiles.Prompt, string, bool) {
	returnTo := safeReturnTo(form.Get("return_to"))
	if returnTo == "" {
		returnTo = "/account"
	}
	rule, err := strconv.Atoi(form.Get("rule"))
	if err != nil {
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return profiles.Identity{}, nil, "", false
	}
	ident, ok := s.profileUser(w, r, askURL(rule, returnTo))
	if !ok {
		return ident, nil, "", false
	}
	p, err := s.profiles.PromptFor(r.Context(), ident, rule)
	if err != nil {
		s.log.ErrorContext(r.Context(), "profile prompt failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return ident, nil, "", false
	}
	if p == nil { // answered meanwhile, or no such rule
		http.Redirect(w, r, returnTo, http.StatusSeeOther)
		return ident, nil, "", false
	}
	return ident, p, returnTo, true
}

func (s *Server) renderAsk(w http.ResponseWriter, r *http.Request, status int, ident profiles.Identity, pr *profiles.Prompt, returnTo string, values map[string]string, fieldErrs map[string]string) {
	p := s.newPage(w, r)
	p.User = ident
	p.ReturnTo = returnTo
	if fieldErrs != nil {
		p.FieldErrors = fieldErrs
		p.Error = p.T("profile.invalid")
	}
	p.Data = profilePage{Fields: s.fields(p, pr.Attributes, values), Rule: pr.Rule, Required: pr.Required, Purposes: pr.Purposes}
	s.render(w, r, status, "ask", p)
}

func (s *Server) handleAskPage(w http.ResponseWriter, r *http.Request) {
	ident, pr, returnTo, ok := s.askPrompt(w, r, r.URL.Query())
	if !ok {
		return
	}
	s.renderAsk(w, r, http.StatusOK, ident, pr, returnTo, ident.Attributes, nil)
}

func (s *Server) handleAskSave(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	ident, pr, returnTo, ok := s.askPrompt(w, r, r.PostForm)
	if !ok {
		return
	}
	if r.PostFormValue("skip") != "" {
		if pr.Required {
			s.renderAsk(w, r, http.StatusUnprocessableEntity, ident, pr, returnTo, ident.Attributes,
				map[string]string{"skip": s.newPage(w, r).T("ask.required")})
			return
		}
		s.audit(r, store.AuditEvent{Kind: "profile.prompt_skipped", Actor: ident.ID, Subject: ident.ID, Outcome: "ok",
			Details: map[string]string{"rule": strconv.Itoa(pr.Rule)}})
		http.Redirect(w, r, returnTo, http.StatusSeeOther)
		return
	}
	values := formAttributes(r, pr.Attributes)
	var missing []string
	for name, vs := range values {
		if strings.TrimSpace(strings.Join(vs, "")) == "" {
			missing = append(missing, name)
		}
	}
	if pr.Required && len(missing) > 0 {
		fe := map[string]string{}
		for _, n := range missing {
			fe["attributes."+n] = s.newPage(w, r).T("ask.required")
		}
		s.renderAsk(w, r, http.StatusUnprocessableEntity, ident, pr, returnTo, nil, fe)
		return
	}
	if _, err := s.profiles.SetAttributes(r.Context(), ident.ID, values, profiles.Collection{Channel: profiles.ChannelPrompt}); err != nil {
		if fe, ok := fieldErrors(err); ok {
			shown := map[string]string{}
			for k, v := range values {
				shown[k] = strings.Join(v, ",")
			}
			s.renderAsk(w, r, http.StatusUnprocessableEntity, ident, pr, returnTo, shown, fe)
			return
		}
		s.log.ErrorContext(r.Context(), "save profile answers failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	var offered []string
	for _, p := range pr.Purposes {
		offered = append(offered, p.Name)
	}
	if err := s.applyConsents(r, ident.ID, offered, profiles.ChannelPrompt); err != nil {
		s.log.ErrorContext(r.Context(), "save consents failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	s.audit(r, store.AuditEvent{Kind: "profile.updated", Actor: ident.ID, Subject: ident.ID, Outcome: "ok",
		Details: map[string]string{"channel": profiles.ChannelPrompt, "rule": strconv.Itoa(pr.Rule)}})
	s.syncUser(r, webhook.EventProfileUpdated, ident.ID)
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

// Admin API.

func (s *Server) adminProfileSchema(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.profiles.Schema())
}

type attributesResponse struct {
	UserID     string                         `json:"user_id"`
	Attributes map[string]any                 `json:"attributes"`
	Collected  map[string]profiles.Collection `json:"collected"`
}

func (s *Server) attributesOf(ident profiles.Identity) attributesResponse {
	out := attributesResponse{UserID: ident.ID, Attributes: map[string]any{}, Collected: ident.Collected}
	for name, v := range ident.Attributes {
		if a, ok := s.profiles.Schema().Attribute(name); ok {
			out.Attributes[name] = a.ClaimValue(v)
		} else {
			out.Attributes[name] = v
		}
	}
	if out.Collected == nil {
		out.Collected = map[string]profiles.Collection{}
	}
	return out
}

func (s *Server) adminGetAttributes(w http.ResponseWriter, r *http.Request) {
	u, err := s.lookupUser(r)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.attributesOf(u))
}

// adminSetAttributes takes {"attributes": {"name": "value" | ["v1", "v2"]
// | null}}; null or "" removes a value.
func (s *Server) adminSetAttributes(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Attributes map[string]json.RawMessage `json:"attributes"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	if len(req.Attributes) == 0 {
		writeProblem(w, http.StatusUnprocessableEntity, "The request has invalid fields.",
			FieldError{Field: "attributes", Code: "required", Detail: "Give at least one attribute."})
		return
	}
	values := map[string][]string{}
	var bad []FieldError
	for name, raw := range req.Attributes {
		var one string
		var many []string
		switch {
		case string(raw) == "null":
			values[name] = nil
		case json.Unmarshal(raw, &one) == nil:
			values[name] = []string{one}
		case json.Unmarshal(raw, &many) == nil:
			values[name] = many
		default:
			bad = append(bad, FieldError{Field: "attributes." + name, Code: "type", Detail: "Give a string, a list of strings or null."})
		}
	}
	if len(bad) > 0 {
		slices.SortFunc(bad, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
		writeProblem(w, http.StatusUnprocessableEntity, "The request has invalid fields.", bad...)
		return
	}
	u, err := s.lookupUser(r)
	if err == nil {
		u, err = s.profiles.SetAttributes(r.Context(), u.ID, values, profiles.Collection{Channel: profiles.ChannelAdmin})
	}
	var ves profiles.ValidationErrors
	if errors.As(err, &ves) {
		fes := make([]FieldError, 0, len(ves))
		for _, ve := range ves {
			fes = append(fes, FieldError{Field: ve.Field, Code: ve.Code, Detail: ve.Message})
		}
		writeProblem(w, http.StatusUnprocessableEntity, "The request has invalid fields.", fes...)
		return
	}
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	s.adminAudit(r, "profile.updated", u.ID, map[string]string{"channel": profiles.ChannelAdmin,
		"attributes": strings.Join(slices.Sorted(maps.Keys(values)), " ")})
	s.syncUser(r, webhook.EventProfileUpdated, u.ID)
	writeJSON(w, http.StatusOK, s.attributesOf(u))
}

func (s *Server) adminListConsents(w http.ResponseWriter, r *http.Request) {
	u, err := s.lookupUser(r)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	states, hist, err := s.profiles.Consents(r.Context(), u.ID)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user_id": u.ID, "consents": states, "history": hist})
}

func (s *Server) adminExportUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.lookupUser(r)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	x, err := s.profiles.Export(r.Context(), u.ID)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	s.adminAudit(r, "user.exported", u.ID, nil)
	writeJSON(w, http.StatusOK, x)
}

func (s *Server) adminEraseUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.lookupUser(r)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	rep, err := s.profiles.Erase(r.Context(), u.ID)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	pseudo := s.cfg.Keys.Pseudonym(u.ID)
	s.adminAudit(r, "user.erased", pseudo, map[string]string{"via": "admin", "audit_events": strconv.Itoa(rep.AuditEvents)})
	s.syncErased(r.Context(), u.ID, pseudo)
	writeJSON(w, http.StatusOK, map[string]any{"erased": true, "pseudonym": pseudo, "audit_events_pseudonymised": rep.AuditEvents})
}
