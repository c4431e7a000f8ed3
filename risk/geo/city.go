package geo

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// CityDB locates addresses with a MaxMind-format (.mmdb) city database such
// as GeoLite2-City or GeoIP2-City, and falls back to CountryDB for addresses
// the file does not place. It is safe for concurrent use.
type CityDB struct {
	r        *maxminddb.Reader
	fallback CountryDB
}

// OpenCityDB opens and verifies the .mmdb file at path.
func OpenCityDB(path string) (*CityDB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open city database %s: %w", path, err)
	}
	if err := r.Verify(); err != nil {
		r.Close()
		return nil, fmt.Errorf("verify city database %s: %w", path, err)
	}
	return &CityDB{r: r}, nil
}

// Close releases the database file.
func (c *CityDB) Close() error { return c.r.Close() }

type cityRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Location struct {
		Latitude       float64 `maxminddb:"latitude"`
		Longitude      float64 `maxminddb:"longitude"`
		AccuracyRadius uint16  `maxminddb:"accuracy_radius"`
	} `maxminddb:"location"`
	Traits struct {
		IsAnonymous      bool   `maxminddb:"is_anonymous"`
		IsAnonymousVPN   bool   `maxminddb:"is_anonymous_vpn"`
		IsAnonymousProxy bool   `maxminddb:"is_anonymous_proxy"`
		IsHostingProv    bool   `maxminddb:"is_hosting_provider"`
		IsPublicProxy    bool   `maxminddb:"is_public_proxy"`
		IsTorExitNode    bool   `maxminddb:"is_tor_exit_node"`
		ConnectionType   string `maxminddb:"connection_type"`
	} `maxminddb:"traits"`
}

// Locate returns a city-precision location when the database has
// coordinates for ip, the database's country (at country precision) when it
// has only that, and otherwise what CountryDB says.
func (c *CityDB) Locate(ip netip.Addr) Location {
	ip = ip.Unmap()
	if !Locatable(ip) {
		return Location{}
	}
	var rec cityRecord
	res := c.r.Lookup(ip)
	if !res.Found() || res.Decode(&rec) != nil {
		return c.fallback.Locate(ip)
	}
	var loc Location
	switch {
	case (rec.Location.Latitude != 0 || rec.Location.Longitude != 0) && rec.Country.ISOCode != "":
		loc = Location{
			Country:   strings.ToUpper(rec.Country.ISOCode),
			Lat:       rec.Location.Latitude,
			Lon:       rec.Location.Longitude,
			RadiusKm:  float64(rec.Location.AccuracyRadius),
			Precision: PrecisionCity,
		}
	case rec.Country.ISOCode != "":
		loc = countryLocation(strings.ToUpper(rec.Country.ISOCode))
	default:
		loc = c.fallback.Locate(ip)
	}
	t := rec.Traits
	loc.Anonymous = t.IsAnonymous || t.IsAnonymousVPN || t.IsAnonymousProxy || t.IsHostingProv || t.IsPublicProxy || t.IsTorExitNode
	loc.Mobile = t.ConnectionType == "Cellular"
	return loc
}
