// Package tui will own the operator console: live sign-ins, risk decisions
// and pending approvals, and actions on users and devices.
//
// It is a client of the server's admin API only: it never opens the
// database and never imports store or authserver.
package tui
