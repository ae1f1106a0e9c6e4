package googlesim

import (
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// dataType describes one Google Health data type (kebab-case in paths).
type dataType struct {
	area     string // scope area needed to read it
	field    string // the DataPoint union field (camelCase)
	maxPage  int    // page size limit of the list method
	listable bool   // false: roll-ups only (total-calories)
}

const (
	defaultPageSize = 25
	maxPageSize     = 10000
	sessionPageSize = 25 // sleep and exercise
	// History is how far back the simulated data goes.
	History = 90 * 24 * time.Hour
)

var dataTypes = map[string]dataType{
	"steps":                {AreaActivity, "steps", maxPageSize, true},
	"distance":             {AreaActivity, "distance", maxPageSize, true},
	"floors":               {AreaActivity, "floors", maxPageSize, true},
	"altitude":             {AreaActivity, "altitude", maxPageSize, true},
	"active-energy-burned": {AreaActivity, "activeEnergyBurned", maxPageSize, true},
	"active-minutes":       {AreaActivity, "activeMinutes", maxPageSize, true},
	"active-zone-minutes":  {AreaActivity, "activeZoneMinutes", maxPageSize, true},
	"activity-level":       {AreaActivity, "activityLevel", maxPageSize, true},
	"exercise":             {AreaActivity, "exercise", sessionPageSize, true},
	"total-calories":       {AreaActivity, "totalCalories", 0, false},
	// Activity, as Google's data-types pages give it.
	"calories-in-heart-rate-zone": {AreaActivity, "caloriesInHeartRateZone", 0, false},
	"heart-rate":                  {AreaMetrics, "heartRate", maxPageSize, true},
	"daily-resting-heart-rate":    {AreaMetrics, "dailyRestingHeartRate", maxPageSize, true},
	"daily-heart-rate-zones":      {AreaMetrics, "dailyHeartRateZones", maxPageSize, true},
	"time-in-heart-rate-zone":     {AreaMetrics, "timeInHeartRateZone", maxPageSize, true},
	"heart-rate-variability":      {AreaMetrics, "heartRateVariability", maxPageSize, true},
	"weight":                      {AreaMetrics, "weight", maxPageSize, true},
	"body-fat":                    {AreaMetrics, "bodyFat", maxPageSize, true},
	"height":                      {AreaMetrics, "height", maxPageSize, true},
	"oxygen-saturation":           {AreaMetrics, "oxygenSaturation", maxPageSize, true},
	// The daily measurements of a night (nightly.go).
	"daily-oxygen-saturation":             {AreaMetrics, "dailyOxygenSaturation", maxPageSize, true},
	"daily-heart-rate-variability":        {AreaMetrics, "dailyHeartRateVariability", maxPageSize, true},
	"daily-respiratory-rate":              {AreaMetrics, "dailyRespiratoryRate", maxPageSize, true},
	"daily-sleep-temperature-derivations": {AreaMetrics, "dailySleepTemperatureDerivations", maxPageSize, true},
	// Google's data-types pages do not give its scope; activity, with the
	// other fitness types, is ASSUMED.
	"daily-vo2-max": {AreaActivity, "dailyVo2Max", maxPageSize, true},
	"sleep":         {AreaSleep, "sleep", sessionPageSize, true},
}

// rng is deterministic per user and purpose (see simkit.Rand).
var (
	rng     = simkit.Rand
	between = simkit.Between
)

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// int64s are JSON strings in Google's APIs.
func i64(n int) string { return strconv.Itoa(n) }

// The JSON of the small objects every point carries, as structs (a day
// has 17,280 heart-rate samples): their fields in the order encoding/json
// gives a map's keys, so that answers read as before.
type (
	dateJSON struct {
		Day   int `json:"day"`
		Month int `json:"month"`
		Year  int `json:"year"`
	}
	timeOfDayJSON struct {
		Hours   int `json:"hours"`
		Minutes int `json:"minutes"`
		Seconds int `json:"seconds"`
	}
	civilJSON struct {
		Date dateJSON       `json:"date"`
		Time *timeOfDayJSON `json:"time,omitempty"`
	}
	sampleTimeJSON struct {
		CivilTime    civilJSON `json:"civilTime"`
		PhysicalTime string    `json:"physicalTime"`
		UTCOffset    string    `json:"utcOffset"`
	}
	intervalJSON struct {
		CivilEndTime   civilJSON `json:"civilEndTime"`
		CivilStartTime civilJSON `json:"civilStartTime"`
		EndTime        string    `json:"endTime"`
		EndUTCOffset   string    `json:"endUtcOffset"`
		StartTime      string    `json:"startTime"`
		StartUTCOffset string    `json:"startUtcOffset"`
	}
	deviceJSON struct {
		DisplayName  string `json:"displayName,omitempty"`
		FormFactor   string `json:"formFactor,omitempty"`
		Manufacturer string `json:"manufacturer,omitempty"`
	}
	sourceJSON struct {
		Device          *deviceJSON `json:"device,omitempty"`
		Platform        string      `json:"platform"`
		RecordingMethod string      `json:"recordingMethod"`
	}
)

func civilDate(t time.Time) dateJSON { return dateJSON{t.Day(), int(t.Month()), t.Year()} }

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// seconds is a google-duration of whole seconds: "3600s".
func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) + "s" }

// civilAt is the civil date-time t showed at offset off, which Google
// outputs beside every physical time (the *civil* fields are output only).
func civilAt(t time.Time, off time.Duration) civilJSON {
	return civilDateTimeJSON(t.UTC().Add(off))
}

// interval is an ObservationTimeInterval (or SessionTimeInterval): each end
// with the person's UTC offset at that instant.
func interval(start, end time.Time, startOff, endOff time.Duration) intervalJSON {
	return intervalJSON{
		StartTime: timestamp(start), StartUTCOffset: seconds(startOff), CivilStartTime: civilAt(start, startOff),
		EndTime: timestamp(end), EndUTCOffset: seconds(endOff), CivilEndTime: civilAt(end, endOff),
	}
}

// sampleTime is an ObservationSampleTime.
func sampleTime(t time.Time, off time.Duration) sampleTimeJSON {
	return sampleTimeJSON{PhysicalTime: timestamp(t), UTCOffset: seconds(off), CivilTime: civilAt(t, off)}
}

// point is one data point: its time key(s), the UTC offsets at them, and
// its union value. A daily point's start and end are its civil date at UTC
// midnight (offsets 0), so a date filter compares them directly.
type point struct {
	start, end       time.Time
	startOff, endOff time.Duration
	value            map[string]any
}

// civilOffset is the offset a filter on a civil time shifts the point's
// physical start (or end) time by.
func (p point) civilOffset(end bool) time.Duration {
	if end {
		return p.endOff
	}
	return p.startOff
}

// dataSource is a generated point's origin: the person's tracker (as
// pairedDevices lists it), its Aria scale for weighings, or the Fitbit app
// for the height the user entered. Values per health-api.json's DataSource
// and Device; the form factors are ASSUMED (a Charge is a band).
func dataSource(p *person.Person, typ string) sourceJSON {
	switch typ {
	case "weight", "body-fat":
		return sourceJSON{RecordingMethod: "PASSIVELY_MEASURED", Platform: "FITBIT",
			Device: &deviceJSON{Manufacturer: "Fitbit", DisplayName: "Aria", FormFactor: "SCALE"}}
	case "height":
		return sourceJSON{RecordingMethod: "MANUAL", Platform: "FITBIT"}
	}
	method := "PASSIVELY_MEASURED"
	if strings.HasPrefix(typ, "daily-") || typ == "total-calories" {
		method = "DERIVED"
	}
	return sourceJSON{RecordingMethod: method, Platform: "FITBIT",
		Device: &deviceJSON{Manufacturer: "Fitbit", DisplayName: p.Device().Version, FormFactor: "FITNESS_BAND"}}
}

// dataPointJSON renders a generated point as a DataPoint resource.
func dataPointJSON(p *person.Person, user, typ string, pt point) map[string]any {
	return map[string]any{
		"name":               generatedName(user, typ, pt),
		"dataSource":         dataSource(p, typ),
		dataTypes[typ].field: pt.value,
	}
}

// generatedName is the stable name of a generated point.
func generatedName(user, typ string, p point) string {
	h := fnv.New64a()
	fmt.Fprint(h, user, typ, p.start.UnixNano())
	return fmt.Sprintf("users/%s/dataTypes/%s/dataPoints/%016x", user, typ, h.Sum64())
}

// profileFor is the person's profile. Fields and types as health-api.json's
// Profile (revision 20261111): the lengths are int32, JSON numbers; there
// is no height field (height is a data type). The strides are the
// person's, which Fitbit derived from the height: the user configured
// none, so the configured and the automatic ones are the same.
func profileFor(p *person.Person, now time.Time) map[string]any {
	pr := p.Profile
	return map[string]any{
		"age":                                 p.Age(p.DayOf(now)),
		"membershipStartDate":                 civilDate(pr.MemberSince),
		"userConfiguredWalkingStrideLengthMm": pr.StrideWalkingMM,
		"userConfiguredRunningStrideLengthMm": pr.StrideRunningMM,
		"autoWalkingStrideLengthMm":           pr.StrideWalkingMM,
		"autoRunningStrideLengthMm":           pr.StrideRunningMM,
	}
}

// settingsFor follows health-api.json's Settings (revision 20261111): the
// enum values carry their type's prefix (DISTANCE_UNIT_KILOMETERS), there
// is no startDayOfWeek, and utcOffset is a google-duration string. The
// time zone is the person's, and utcOffset its offset now; the stride
// lengths are Fitbit's defaults from the height (STRIDE_LENGTH_TYPE_DEFAULT,
// as the simulated Fitbit's profile says "default").
func settingsFor(p *person.Person, user string, now time.Time) map[string]any {
	r := rng(user, "settings")
	imperial := r.IntN(3) == 0
	units := map[string]any{"distanceUnit": "DISTANCE_UNIT_KILOMETERS", "weightUnit": "WEIGHT_UNIT_KILOGRAMS",
		"heightUnit": "HEIGHT_UNIT_CENTIMETERS", "temperatureUnit": "TEMPERATURE_UNIT_CELSIUS",
		"waterUnit": "WATER_UNIT_ML", "swimUnit": "SWIM_UNIT_METERS", "glucoseUnit": "GLUCOSE_UNIT_MMOL_L"}
	if imperial {
		units = map[string]any{"distanceUnit": "DISTANCE_UNIT_MILES", "weightUnit": "WEIGHT_UNIT_POUNDS",
			"heightUnit": "HEIGHT_UNIT_INCHES", "temperatureUnit": "TEMPERATURE_UNIT_FAHRENHEIT",
			"waterUnit": "WATER_UNIT_FL_OZ", "swimUnit": "SWIM_UNIT_YARDS", "glucoseUnit": "GLUCOSE_UNIT_MG_DL"}
	}
	units["timeZone"] = p.Profile.TimeZone
	units["utcOffset"] = seconds(offset(p, now))
	units["languageLocale"] = "en-US"
	units["autoStrideEnabled"] = false
	units["strideLengthWalkingType"] = "STRIDE_LENGTH_TYPE_DEFAULT"
	units["strideLengthRunningType"] = "STRIDE_LENGTH_TYPE_DEFAULT"
	return units
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
