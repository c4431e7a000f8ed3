package geo

import (
	"net/netip"

	"github.com/phuslu/iploc"
)

// CountryDB locates addresses to country precision with the IP-to-country
// table embedded in github.com/phuslu/iploc (IP2Location LITE data). It
// needs no files and is safe for concurrent use. The zero value is ready.
type CountryDB struct{}

// Locate returns the country of ip at PrecisionCountry, with the country's
// representative point and radius, or the zero Location when ip is not
// locatable or not in the table.
func (CountryDB) Locate(ip netip.Addr) Location {
	ip = ip.Unmap()
	if !Locatable(ip) {
		return Location{}
	}
	return countryLocation(iploc.IPCountry(ip))
}

func countryLocation(code string) Location {
	c, ok := LookupCountry(code)
	if !ok {
		return Location{}
	}
	return Location{Country: c.Code, Lat: c.Lat, Lon: c.Lon, RadiusKm: c.RadiusKm, Precision: PrecisionCountry}
}
