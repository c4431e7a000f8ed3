// Package geo owns IP geolocation for risk assessment: the embedded
// IP-to-country database with a centroid for every ISO 3166-1 country, an
// optional city-level MaxMind-format database, and great-circle distance.
//
// It imports no other Assent package; private, loopback and other
// non-routable addresses never have a location.
package geo
