package googlesim

import (
	"net/http"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
	health "google.golang.org/api/health/v4"
)

// The nightly measurements are the shared person's.
func TestDailyMeasurements(t *testing.T) {
	p := person.New("u1")
	d, s, svc, c := startWithClient(t, AreaMetrics+".readonly", AreaActivity+".readonly")
	list := func(typ, field, from, to string) []*health.DataPoint {
		t.Helper()
		resp, err := svc.Users.DataTypes.DataPoints.List("users/me/dataTypes/" + typ).
			Filter(field + `.date >= "` + from + `" AND ` + field + `.date < "` + to + `"`).PageSize(100).Do()
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		strict(t, d, "list "+typ, c.last(), &health.ListDataPointsResponse{})
		return resp.DataPoints
	}

	// Thirty days: one point a day for the nights the person has
	// measurements, the person's values, in the documented ranges.
	spo2 := list("daily-oxygen-saturation", "daily_oxygen_saturation", "2026-10-21", "2026-11-20")
	hrv := list("daily-heart-rate-variability", "daily_heart_rate_variability", "2026-10-21", "2026-11-20")
	br := list("daily-respiratory-rate", "daily_respiratory_rate", "2026-10-21", "2026-11-20")
	temp := list("daily-sleep-temperature-derivations", "daily_sleep_temperature_derivations", "2026-10-21", "2026-11-20")
	vo2 := list("daily-vo2-max", "daily_vo2_max", "2026-10-21", "2026-11-20")
	nights := 0
	for day := time.Date(2026, 10, 21, 0, 0, 0, 0, time.UTC); day.Before(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)); day = day.AddDate(0, 0, 1) {
		local, _ := p.Day(day.Format(time.DateOnly))
		if _, ok := p.Nightly(local); ok {
			nights++
		}
	}
	if len(vo2) != 30 || nights == 30 || len(spo2) != nights || len(hrv) != nights || len(br) != nights || len(temp) != nights {
		t.Fatalf("%d nights measured of 30: spo2 %d, hrv %d, br %d, temp %d, vo2 %d", nights, len(spo2), len(hrv), len(br), len(temp), len(vo2))
	}
	for i := range spo2 {
		date := spo2[i].DailyOxygenSaturation.Date
		local, _ := p.Day(time.Date(int(date.Year), time.Month(date.Month), int(date.Day), 0, 0, 0, 0, time.UTC).Format(time.DateOnly))
		n, _ := p.Nightly(local)
		o, h, b, tp := spo2[i].DailyOxygenSaturation, hrv[i].DailyHeartRateVariability, br[i].DailyRespiratoryRate, temp[i].DailySleepTemperatureDerivations
		if o.AveragePercentage != n.SpO2Avg || o.LowerBoundPercentage != n.SpO2Min || o.UpperBoundPercentage != n.SpO2Max || o.UpperBoundPercentage > 100 ||
			h.AverageHeartRateVariabilityMilliseconds != n.DailyRMSSD || h.DeepSleepRootMeanSquareOfSuccessiveDifferencesMilliseconds != n.DeepRMSSD ||
			b.BreathsPerMinute != n.BreathingRate || round1(tp.NightlyTemperatureCelsius-tp.BaselineTemperatureCelsius) != n.SkinTempRelative ||
			!sameDate(h.Date, date) || !sameDate(b.Date, date) || !sameDate(tp.Date, date) {
			t.Fatalf("night %+v: %+v %+v %+v %+v, person %+v", date, o, h, b, tp, n)
		}
	}
	for _, v := range vo2 {
		date := v.DailyVo2Max.Date
		local, _ := p.Day(time.Date(int(date.Year), time.Month(date.Month), int(date.Day), 0, 0, 0, 0, time.UTC).Format(time.DateOnly))
		if v.DailyVo2Max.Vo2Max != p.VO2Max(local) || v.DailyVo2Max.CardioFitnessLevel != cardioFitnessLevel(v.DailyVo2Max.Vo2Max) {
			t.Fatalf("vo2 %+v", v.DailyVo2Max)
		}
	}

	// Scopes: the nightly types are health metrics, VO2 max activity.
	metricsOnly, mc := healthClient(t, s, s.MintTokens("u1", AreaMetrics+".readonly").AccessToken)
	_, err := metricsOnly.Users.DataTypes.DataPoints.List("users/me/dataTypes/daily-vo2-max").Do()
	wantGoogleError(t, err, mc, http.StatusForbidden, "PERMISSION_DENIED")
	activityOnly, ac := healthClient(t, s, s.MintTokens("u1", AreaActivity+".readonly").AccessToken)
	_, err = activityOnly.Users.DataTypes.DataPoints.List("users/me/dataTypes/daily-oxygen-saturation").Do()
	wantGoogleError(t, err, ac, http.StatusForbidden, "PERMISSION_DENIED")
}

func sameDate(a, b *health.Date) bool {
	return a.Year == b.Year && a.Month == b.Month && a.Day == b.Day
}
