// Package tui is the operator console (`assent console`): the audit log
// streaming live with risk decisions and their reasons, users with their
// factors and recent assessments and actions on them, and an overview of
// sign-in rates and the active risk policy.
//
// It is a client of the server's admin API only (through adminclient): it
// never opens the database and never imports store or authserver.
package tui
