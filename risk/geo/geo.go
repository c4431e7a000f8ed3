package geo

import (
	"fmt"
	"math"
	"net/netip"
	"sort"
)

// Precision says how much a Location can be trusted.
type Precision uint8

const (
	// PrecisionNone means the address could not be located.
	PrecisionNone Precision = iota
	// PrecisionCountry means only the country is known; the coordinates are
	// the country's representative point and RadiusKm its typical extent.
	PrecisionCountry
	// PrecisionCity means a city-level database placed the address;
	// RadiusKm is the database's accuracy radius.
	PrecisionCity
)

// String returns "none", "country" or "city".
func (p Precision) String() string {
	switch p {
	case PrecisionCountry:
		return "country"
	case PrecisionCity:
		return "city"
	default:
		return "none"
	}
}

// MarshalText implements encoding.TextMarshaler.
func (p Precision) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Precision) UnmarshalText(b []byte) error {
	switch string(b) {
	case "none", "":
		*p = PrecisionNone
	case "country":
		*p = PrecisionCountry
	case "city":
		*p = PrecisionCity
	default:
		return fmt.Errorf("geo: unknown precision %q", b)
	}
	return nil
}

// Location is where an IP address is believed to be.
type Location struct {
	// Country is the ISO 3166-1 alpha-2 code, empty when unknown.
	Country string `json:"country,omitempty"`
	// Lat and Lon are in degrees.
	Lat float64 `json:"lat,omitempty"`
	Lon float64 `json:"lon,omitempty"`
	// RadiusKm is the uncertainty of Lat/Lon.
	RadiusKm float64 `json:"radius_km,omitempty"`
	// Precision says which kind of lookup produced the location.
	Precision Precision `json:"precision"`
	// Mobile reports a cellular network, whose addresses often geolocate to a
	// carrier gateway far from the user.
	Mobile bool `json:"mobile,omitempty"`
	// Anonymous reports a VPN, proxy or hosting network.
	Anonymous bool `json:"anonymous,omitempty"`
}

// Known reports whether the location has a country and coordinates.
func (l Location) Known() bool { return l.Precision != PrecisionNone && l.Country != "" }

// Locatable reports whether ip can have a location at all: private,
// loopback, link-local, shared (CGNAT), multicast, unspecified and
// documentation addresses cannot.
func Locatable(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	for _, p := range unroutable {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// unroutable holds the special-purpose ranges that IsGlobalUnicast and
// IsPrivate let through.
var unroutable = [...]netip.Prefix{
	netip.PrefixFrom(netip.AddrFrom4([4]byte{100, 64, 0, 0}), 10),            // shared address space (CGNAT)
	netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 0, 0}), 24),             // IETF protocol assignments
	netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, 0}), 24),             // TEST-NET-1
	netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 0, 0}), 15),            // benchmarking
	netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, 0}), 24),          // TEST-NET-2
	netip.PrefixFrom(netip.AddrFrom4([4]byte{203, 0, 113, 0}), 24),           // TEST-NET-3
	netip.PrefixFrom(netip.AddrFrom4([4]byte{240, 0, 0, 0}), 4),              // reserved
	netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8}), 32), // IPv6 documentation
}

const earthRadiusKm = 6371.0088

// DistanceKm returns the great-circle distance between two points given in
// degrees.
func DistanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	φ1, φ2 := lat1*rad, lat2*rad
	dφ := (lat2 - lat1) * rad
	dλ := (lon2 - lon1) * rad
	a := math.Sin(dφ/2)*math.Sin(dφ/2) + math.Cos(φ1)*math.Cos(φ2)*math.Sin(dλ/2)*math.Sin(dλ/2)
	return 2 * earthRadiusKm * math.Asin(math.Min(1, math.Sqrt(a)))
}

// Distance returns the distance in km between two known locations and the
// uncertainty of that figure: the sum of both radii. It returns 0, 0 when
// both are in the same country at country precision.
func Distance(a, b Location) (km, uncertaintyKm float64) {
	if a.Precision == PrecisionCountry && b.Precision == PrecisionCountry && a.Country == b.Country {
		return 0, 0
	}
	return DistanceKm(a.Lat, a.Lon, b.Lat, b.Lon), a.RadiusKm + b.RadiusKm
}

type country struct {
	code     string
	name     string
	lat, lon float64
	radiusKm float64
}

// Country describes one ISO 3166-1 country.
type Country struct {
	Code string
	Name string
	// Lat and Lon are the principal city of the country's main time zone,
	// a stand-in for its centre of population.
	Lat, Lon float64
	// RadiusKm is the radius of a disc with the country's area, at least 25.
	RadiusKm float64
}

// LookupCountry returns the country with the ISO 3166-1 alpha-2 code.
func LookupCountry(code string) (Country, bool) {
	i := sort.Search(len(countries), func(i int) bool { return countries[i].code >= code })
	if i == len(countries) || countries[i].code != code {
		return Country{}, false
	}
	c := countries[i]
	return Country{Code: c.code, Name: c.name, Lat: c.lat, Lon: c.lon, RadiusKm: c.radiusKm}, true
}

// Countries calls fn for every country, in code order.
func Countries(fn func(Country)) {
	for _, c := range countries {
		fn(Country{Code: c.code, Name: c.name, Lat: c.lat, Lon: c.lon, RadiusKm: c.radiusKm})
	}
}
