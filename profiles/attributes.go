package profiles

import (
	"context"
	"crypto/cipher"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/assent-auth/assent/store"
)

// Channels through which attributes and consents are collected.
const (
	ChannelAccount = "account"
	ChannelPrompt  = "profile_prompt"
	ChannelAdmin   = "admin"
	ChannelSignUp  = "signup"
)

// Collection records when and where an attribute value was collected.
type Collection struct {
	At      time.Time `json:"at"`
	Channel string    `json:"channel"`
	// ClientID is the relying party whose request led to the question.
	ClientID string `json:"client_id,omitempty"`
}

// ValidationErrors reports several invalid fields at once.
type ValidationErrors []*ValidationError

func (es ValidationErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Schema returns the profile schema (empty, never nil, without one).
func (s *Service) Schema() *Schema { return s.schema }

// protectedPurpose names the key that seals high-sensitivity values.
const protectedPurpose = "profile attributes v1"

func protectedAAD(userID, name string) []byte {
	return []byte("attr\x00" + userID + "\x00" + name)
}

// SetAttributes validates values (attribute name to its value, or values
// for a multi_select; an empty value removes the attribute) and stores them
// in one update, recording where they were collected. Every invalid or
// unknown attribute is reported at once in ValidationErrors, and then
// nothing is stored. A required attribute cannot be removed.
func (s *Service) SetAttributes(ctx context.Context, id string, values map[string][]string, src Collection) (Identity, error) {
	var errs ValidationErrors
	norm := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		a, ok := s.schema.Attribute(name)
		if !ok {
			errs = append(errs, &ValidationError{Field: "attributes." + name, Code: "unknown", Message: "There is no such attribute."})
			continue
		}
		v, err := s.schema.Normalize(a, values[name])
		var ve *ValidationError
		if errors.As(err, &ve) {
			errs = append(errs, ve)
			continue
		}
		if err != nil {
			return Identity{}, err
		}
		if v == "" && a.Required {
			errs = append(errs, &ValidationError{Field: "attributes." + name, Code: "required", Message: "This is required."})
			continue
		}
		norm[name] = v
	}
	if len(errs) > 0 {
		return Identity{}, errs
	}
	aead, err := s.keys.AEAD(protectedPurpose)
	if err != nil {
		return Identity{}, err
	}
	src.At = s.now().UTC()
	return s.update(ctx, id, func(u *store.User, p *personal) error {
		for name, v := range norm {
			a, _ := s.schema.Attribute(name)
			if cur, ok := currentValue(aead, u.ID, p, name); ok && cur == v {
				continue // unchanged: keep when and where it was collected
			}
			delete(p.Attributes, name)
			delete(p.Protected, name)
			delete(p.Collected, name)
			if v == "" {
				continue
			}
			if a.Sensitivity == SensitivityHigh {
				if p.Protected == nil {
					p.Protected = map[string][]byte{}
				}
				p.Protected[name] = seal(aead, []byte(v), protectedAAD(u.ID, name))
			} else {
				if p.Attributes == nil {
					p.Attributes = map[string]string{}
				}
				p.Attributes[name] = v
			}
			if p.Collected == nil {
				p.Collected = map[string]Collection{}
			}
			p.Collected[name] = src
		}
		return nil
	})
}

// currentValue returns the stored value of one attribute of p.
func currentValue(aead cipher.AEAD, userID string, p *personal, name string) (string, bool) {
	if v, ok := p.Attributes[name]; ok {
		return v, true
	}
	if sealed, ok := p.Protected[name]; ok {
		v, err := open(aead, sealed, protectedAAD(userID, name))
		return string(v), err == nil
	}
	return "", false
}

// openAttributes returns every attribute value of p, the sealed
// high-sensitivity ones opened.
func (s *Service) openAttributes(userID string, p personal) (map[string]string, error) {
	if len(p.Protected) == 0 {
		return p.Attributes, nil
	}
	aead, err := s.keys.AEAD(protectedPurpose)
	if err != nil {
		return nil, err
	}
	out := maps.Clone(p.Attributes)
	if out == nil {
		out = map[string]string{}
	}
	for name, sealed := range p.Protected {
		v, err := open(aead, sealed, protectedAAD(userID, name))
		if err != nil {
			return nil, err
		}
		out[name] = string(v)
	}
	return out, nil
}

// Redacted returns id with high-sensitivity attribute values replaced by
// "[redacted]", for listings.
func (s *Service) Redacted(id Identity) Identity {
	attrs := maps.Clone(id.Attributes)
	for name := range attrs {
		if a, ok := s.schema.Attribute(name); ok && a.Sensitivity == SensitivityHigh {
			attrs[name] = "[redacted]"
		}
	}
	id.Attributes = attrs
	return id
}

// Missing returns the names among names that the user has no value for.
func Missing(id Identity, names []string) []string {
	var out []string
	for _, n := range names {
		if id.Attributes[n] == "" {
			out = append(out, n)
		}
	}
	return out
}
