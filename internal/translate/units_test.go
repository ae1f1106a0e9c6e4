package translate

import "testing"

func TestUnitSystemFor(t *testing.T) {
	for in, want := range map[string]UnitSystem{
		"": Metric, "en_US": US, "en-us": US, "en_GB": UK, "en-GB;q=0.9, fr": UK,
		"fr_FR": Metric, "fr, en_US": Metric, " EN_US ": US, "de-DE": Metric,
	} {
		if got := UnitSystemFor(in); got != want {
			t.Errorf("UnitSystemFor(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestConversions(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(float64) float64
		in   float64
		want float64
	}{
		{"metric distance", Metric.Distance, 8_046_720, 8.04672},
		{"uk distance", UK.Distance, 8_046_720, 8.04672},
		{"us distance", US.Distance, 8_046_720, 5},
		{"us distance at its places", func(mm float64) float64 { return round(US.Distance(mm), US.DistancePlaces()) }, 1_000_000, 0.62137},
		{"metric elevation", Metric.Elevation, 30_480, 30.48},
		{"us elevation", US.Elevation, 30_480, 100},
		{"metric length", Metric.Length, 1_755, 175.5},
		{"us length", US.Length, 1_778, 70},
		{"metric weight", Metric.Weight, 72_580, 72.6},
		{"us weight", US.Weight, 72_574.7792, 160},
		{"uk weight", UK.Weight, 72_574.7792, 11.43},
		{"uk weight whole stone", UK.Weight, 63_502.9318, 10},
		{"metric grams", Metric.Grams, 70.5, 70_500},
		{"us grams", US.Grams, 1, 453.59237},
	} {
		if got := tc.f(tc.in); got != tc.want {
			t.Errorf("%s(%v) = %v, want %v", tc.name, tc.in, got, tc.want)
		}
	}
}
