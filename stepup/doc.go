// Package stepup lets a resource server (an API) accept Assent's JWT
// access tokens and demand step-up authentication as RFC 9470 describes:
// a token whose acr is below what a route needs, or whose auth_time is
// older than its max age, is answered with 401 and
//
//	WWW-Authenticate: Bearer error="insufficient_user_authentication",
//	  error_description="...", acr_values="mfa", max_age=300
//
// so the client can send the user back to Assent with those parameters.
// It knows nothing of Assent's server packages; it imports acr for the
// ordering of levels.
//
// Example:
//
//	v, err := stepup.New(ctx, stepup.Config{Issuer: "https://id.example", Audience: "shop"})
//	...
//	mux.Handle("POST /transfers", v.Require(stepup.Requirement{ACR: acr.MFA, MaxAge: 5 * time.Minute}, transfers))
//	// in the handler: tok, _ := stepup.TokenFrom(r.Context())
package stepup
