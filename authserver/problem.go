package authserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"unicode/utf8"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Errors names the fields that were wrong, when the problem is invalid
	// input.
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError is one invalid field of a request.
type FieldError struct {
	Field  string `json:"field"`
	Code   string `json:"code,omitempty"`
	Detail string `json:"detail"`
}

func writeProblem(w http.ResponseWriter, status int, detail string, fields ...FieldError) {
	p := Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Errors: fields}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(p)
}

// maxJSONBytes bounds admin API request bodies, imports excepted.
const maxJSONBytes = 64 << 10

// decodeJSON reads a bounded body that must be valid UTF-8 JSON with no
// unknown fields into v. On failure it has already answered.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeProblem(w, http.StatusRequestEntityTooLarge, "The request body is larger than 64 KiB.")
		return false
	case err != nil:
		writeProblem(w, http.StatusBadRequest, "The request body could not be read.")
		return false
	case !utf8.Valid(body):
		writeProblem(w, http.StatusBadRequest, "The request body is not valid UTF-8.")
		return false
	}
	if err := strictUnmarshal(body, v); err != nil {
		writeProblem(w, http.StatusBadRequest, "The request body is not valid JSON: "+jsonErrorDetail(err))
		return false
	}
	return true
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// jsonErrorDetail describes a decoding error without echoing input.
func jsonErrorDetail(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "syntax error"
	case errors.As(err, &te):
		return "field " + te.Field + " has the wrong type"
	case errors.Is(err, io.EOF):
		return "empty body"
	}
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}
