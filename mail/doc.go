// Package mail delivers the server's e-mail: it composes multipart
// text+HTML messages safe from header injection, keeps them sealed in the
// store's outbox until delivered, and delivers them with retries and
// exponential backoff over SMTP (STARTTLS or implicit TLS, with auth) or,
// with no mail server configured, as .eml files in a directory.
//
// It renders no templates and knows nothing of HTTP: authserver hands it
// finished texts. It never imports authserver.
package mail
