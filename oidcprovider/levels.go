package oidcprovider

import "github.com/assent-auth/assent/acr"

// lowestKnown returns the lowest level among the acr values that Assent
// issues, and false when none is known.
func lowestKnown(values []string) (acr.Level, bool) {
	best, found := acr.None, false
	for _, v := range values {
		if l, ok := acr.Parse(v); ok && (!found || l < best) {
			best, found = l, true
		}
	}
	return best, found
}
