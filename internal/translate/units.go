package translate

import (
	"math"
	"strings"
)

// UnitSystem is the unit system Fitbit chose from the request's
// Accept-Language header (https://dev.fitbit.com/build/reference/web-api/developer-guide/application-design/#Units):
// en_US is US customary, en_GB is metric with weight in stone, and anything
// else, including no header, is metric.
type UnitSystem int

const (
	Metric UnitSystem = iota
	US
	UK
)

func (u UnitSystem) String() string {
	switch u {
	case US:
		return "en_US"
	case UK:
		return "en_GB"
	}
	return "METRIC"
}

// UnitSystemFor reads Accept-Language as Fitbit did: only the first language
// counts, Fitbit's en_US form and the standard en-US form are the same, and
// case does not matter.
func UnitSystemFor(acceptLanguage string) UnitSystem {
	first, _, _ := strings.Cut(acceptLanguage, ",")
	first, _, _ = strings.Cut(first, ";")
	switch strings.ToLower(strings.ReplaceAll(strings.TrimSpace(first), "-", "_")) {
	case "en_us":
		return US
	case "en_gb":
		return UK
	}
	return Metric
}

// Exact conversion factors from Google's fixed units (millimetres, grams).
const (
	mmPerKm   = 1e6
	mmPerMile = 1_609_344
	mmPerM    = 1000
	mmPerFoot = 304.8
	mmPerCm   = 10
	mmPerInch = 25.4
	gPerKg    = 1000
	gPerPound = 453.59237
	gPerStone = 14 * gPerPound
)

// round rounds half away from zero to decs decimals, as Fitbit's answers show
// them (summaries' distances and elevation with two decimals, weight with
// one).
func round(v float64, decs int) float64 {
	p := math.Pow10(decs)
	return math.Round(v*p) / p
}

// Distance converts millimetres to km (metric, en_GB) or miles (en_US),
// unrounded: callers round what they show (DistancePlaces), a day's after
// summing its windows.
func (u UnitSystem) Distance(mm float64) float64 {
	if u == US {
		return mm / mmPerMile
	}
	return mm / mmPerKm
}

// DistancePlaces are the decimals of Fitbit's series and intraday
// distances: km to the millimetre, miles to 5 decimals. Summaries show 2.
func (u UnitSystem) DistancePlaces() int {
	if u == US {
		return 5
	}
	return 6
}

// Elevation converts millimetres to metres, or feet for en_US, unrounded:
// callers round the value they show to 2 decimals, a day's after summing
// its windows.
func (u UnitSystem) Elevation(mm float64) float64 {
	if u == US {
		return mm / mmPerFoot
	}
	return mm / mmPerM
}

// Length converts millimetres to cm, or inches for en_US (height and stride).
func (u UnitSystem) Length(mm float64) float64 {
	if u == US {
		return round(mm/mmPerInch, 1)
	}
	return round(mm/mmPerCm, 1)
}

// Weight converts grams to kg (metric), pounds (en_US) or stone (en_GB, as a
// decimal number of stones, two decimals so a pound still shows).
func (u UnitSystem) Weight(g float64) float64 {
	switch u {
	case US:
		return round(g/gPerPound, 1)
	case UK:
		return round(g/gPerStone, 2)
	}
	return round(g/gPerKg, 1)
}

// Grams converts a weight in the unit system back to grams, for writes.
func (u UnitSystem) Grams(w float64) float64 {
	switch u {
	case US:
		return w * gPerPound
	case UK:
		return w * gPerStone
	}
	return w * gPerKg
}
