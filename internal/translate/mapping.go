package translate

import (
	"fmt"
	"slices"
	"strings"
)

// Fidelity says how faithfully a Fitbit field is answered from Google.
type Fidelity int

const (
	// Exact: the same value as Fitbit gave, after unit conversion.
	Exact Fidelity = iota + 1
	// Approximate: within Field.Tolerance, or a documented derivation.
	Approximate
	// Lost: Google has no source for it; the field is absent or as noted.
	Lost
)

func (f Fidelity) String() string {
	switch f {
	case Exact:
		return "exact"
	case Approximate:
		return "approximate"
	case Lost:
		return "lost"
	}
	return "unknown"
}

// Google Health API v4 methods the translation calls.
const (
	MethodList          = "list"
	MethodRollUp        = "rollUp"
	MethodDailyRollUp   = "dailyRollUp"
	MethodReconcile     = "reconcile"
	MethodGetIdentity   = "getIdentity"
	MethodGetProfile    = "getProfile"
	MethodGetSettings   = "getSettings"
	MethodPairedDevices = "pairedDevices.list"
	MethodCreate        = "create"
	MethodBatchDelete   = "batchDelete"
)

// Call is one kind of Google call an endpoint makes; a long range may make
// it several times (see Mapping.Calls and the per-call caps in google.go).
type Call struct {
	DataType string // the v4 data type, e.g. "steps"; empty for user-level methods
	Method   string
}

func (c Call) String() string {
	if c.DataType == "" {
		return c.Method
	}
	return c.Method + " " + c.DataType
}

// Field is one Fitbit field and where its value comes from. Fitbit, Google
// and Note are prose for the README; Paths says, as patterns over Fitbit's
// answer (fieldpath.go), which of its leaves the Field covers, so that the
// golden test can compare the simulated Fitbit's answers with the translated
// ones by the Field's fidelity. A Field without Paths describes rather than
// covers (a write's inputs, a rule that holds across fields).
type Field struct {
	Fitbit   string
	Google   string
	Fidelity Fidelity
	// Tolerance is, for Approximate, the largest difference in Fitbit's
	// unit; 0 when the field is not numeric or a documented derivation,
	// which the golden test holds to being present in both answers in the
	// same shape. Exact and Lost fields have none.
	Tolerance float64
	Note      string
	Paths     string
}

// Mapping is one endpoint: its Fitbit path, its cost in Google calls, the
// kinds of Google calls, the fields.
type Mapping struct {
	Endpoint Endpoint
	Path     string
	// Cost is the Google calls one Fitbit call makes, settings included, on
	// Google's default paging; further pages and retries after 429, 503 or
	// 504 add to it, and MaxGoogleCalls bounds it.
	Cost   string
	Calls  []Call
	Fields []Field
}

// heartDayFields are one day of the heart rate time series, which heart
// intraday answers too; prefix is where the day's entries are.
func heartDayFields(prefix string) []Field {
	return under([]Field{
		{"dateTime", "the user's civil day", Exact, 0, "", "dateTime"},
		{"value.restingHeartRate", "daily-resting-heart-rate.beatsPerMinute", Exact, 0, "absent on days without one", "value.restingHeartRate"},
		{"value.heartRateZones[].name", "LIGHT, MODERATE, VIGOROUS, PEAK", Approximate, 0, "as Out of Range, Fat Burn, Cardio, Peak; Google's zones are computed differently", "value.heartRateZones[].name"},
		{"value.heartRateZones[].min, max", "daily-heart-rate-zones.heartRateZones[].minBeatsPerMinute, maxBeatsPerMinute", Approximate, 2, "absent when Google has no bounds for the day", "value.heartRateZones[].{min,max}"},
		{"value.heartRateZones[].minutes", "time-in-heart-rate-zone.timeInHeartRateZones[].duration", Approximate, 2, "rounded to whole minutes; 0 when Google answers 400 for the roll-up", "value.heartRateZones[].minutes"},
		{"value.heartRateZones[].caloriesOut", "calories-in-heart-rate-zone.caloriesInHeartRateZones[].kcal", Approximate, 10, "0 where Google has none", "value.heartRateZones[].caloriesOut"},
		{"value.customHeartRateZones", "", Lost, 0, "always []", "value.customHeartRateZones=[]"},
	}, prefix)
}

// sleepLogFields are one sleep log of sleep v1.2, which the range and the
// list answer too; prefix is where the logs are.
func sleepLogFields(prefix string) []Field {
	return under([]Field{
		{"dateOfSleep", "sleep.interval.endTime at endUtcOffset", Exact, 0, "the local day the sleep ended on, as the list's civil_end_time filter", "dateOfSleep"},
		{"startTime, endTime, duration", "sleep.interval", Exact, 0, "local times at the interval's offsets; duration in ms, the physical length (an hour more than the civil times on the night daylight saving time ends)", "{startTime,endTime,duration}"},
		{"minutesAsleep, minutesAwake, minutesToFallAsleep, minutesAfterWakeup, timeInBed", "sleep.summary", Exact, 0, "timeInBed is minutesInSleepPeriod", "{minutesAsleep,minutesAwake,minutesToFallAsleep,minutesAfterWakeup,timeInBed}"},
		{"levels.data, levels.shortData", "sleep.stages, shortAwakenings", Exact, 0, "AWAKE is wake (stages) or awake (classic)", "levels.{data,shortData}"},
		{"levels.summary.*.minutes, count", "sleep.summary.stagesSummary", Exact, 0, "count from the stages where Google gives none", "levels.summary.*.{minutes,count}"},
		{"levels.summary.*.thirtyDayAvgMinutes", "stagesSummary of the thirty days before", Approximate, 20, "Fitbit's window is undocumented; the list reaches thirty days further back", "levels.summary.*.thirtyDayAvgMinutes"},
		{"isMainSleep", "sleep.metadata.mainSleep", Approximate, 0, "the day's longest when Google marks none", "isMainSleep"},
		{"logType, type", "dataSource.recordingMethod, sleep.type", Approximate, 0, "MANUAL is manual, else auto_detected", "{logType,type}"},
		{"logId", "data point name", Approximate, 0, "53 bits of the name's FNV-1a hash: stable, not Fitbit's", "logId"},
		{"efficiency", "minutesAsleep * 100 / timeInBed", Approximate, 5, "Google has no efficiency", "efficiency"},
		{"infoCode", "", Lost, 0, "absent", "infoCode"},
	}, prefix)
}

// nightlyFields are a nightly summary's date and fields; prefix is where
// its entries are ("" for SpO2, whose answer by date is the entry and by
// range a list of them).
func nightlyFields(prefix string, fields ...Field) []Field {
	fields = append([]Field{{"dateTime", "the measurement's civil date", Exact, 0, "nights without a measurement have no entry, as Fitbit", "dateTime"}}, fields...)
	if prefix == "" {
		return under(fields, "", "[]")
	}
	return under(fields, prefix+"[]")
}

// under returns the fields with each of their Paths put below each prefix
// ("" is the answer's root).
func under(fields []Field, prefixes ...string) []Field {
	out := make([]Field, len(fields))
	for i, f := range fields {
		var ps []string
		for _, prefix := range prefixes {
			for _, p := range strings.Fields(f.Paths) {
				if prefix != "" {
					p = prefix + "." + p
				}
				ps = append(ps, p)
			}
		}
		f.Paths = strings.Join(ps, " ")
		out[i] = f
	}
	return out
}

// Table is the one mapping from Fitbit v1 to the Google Health API v4; the
// README's translation table is rendered from it (Markdown).
var Table = []Mapping{
	{Profile, "/1/user/-/profile.json", "3",
		[]Call{{"", MethodGetIdentity}, {"", MethodGetProfile}, {"", MethodGetSettings}},
		[]Field{
			{"encodedId", "identity.legacyUserId", Exact, 0, "", "user.encodedId"},
			{"age", "profile.age", Exact, 0, "", "user.age"},
			{"memberSince", "profile.membershipStartDate", Exact, 0, "as yyyy-MM-dd", "user.memberSince"},
			{"timezone", "settings.timeZone", Exact, 0, "IANA name", "user.timezone"},
			{"offsetFromUTCMillis", "settings.utcOffset", Exact, 0, "seconds to milliseconds", "user.offsetFromUTCMillis"},
			{"strideLengthWalking, strideLengthRunning", "profile.*StrideLengthMm", Exact, 0, "the configured or automatic one, by settings; mm to cm or in", "user.{strideLengthWalking,strideLengthRunning}"},
			{"autoStrideEnabled", "settings.autoStrideEnabled", Exact, 0, "", "user.autoStrideEnabled"},
			{"distanceUnit, weightUnit, heightUnit, waterUnit, glucoseUnit", "settings.*Unit", Approximate, 0, "Google's unit enums mapped to Fitbit's unit-system names", "user.{distanceUnit,weightUnit,heightUnit,waterUnit,glucoseUnit}"},
			{"locale, languageLocale", "settings.languageLocale", Approximate, 0, "en-US becomes en_US", "user.{locale,languageLocale}"},
			{"fullName, displayName, firstName, lastName, avatar*, gender, dateOfBirth, height, weight, stride length types, aboutMe, city, country, clockTimeDisplayFormat, startDayOfWeek, topBadges, features", "", Lost, 0, "no v4 field; dateOfBirth is reduced to age",
				"user.{fullName,displayName,firstName,lastName,avatar*,gender,dateOfBirth,height,weight,strideLengthWalkingType,strideLengthRunningType,aboutMe,city,country,clockTimeDisplayFormat,startDayOfWeek,topBadges,features}"},
		}},
	{DailySummary, "/1/user/-/activities/date/{date}.json", "12",
		[]Call{{"", MethodGetSettings}, {"steps", MethodDailyRollUp}, {"distance", MethodDailyRollUp}, {"floors", MethodDailyRollUp},
			{"altitude", MethodDailyRollUp}, {"total-calories", MethodDailyRollUp}, {"active-energy-burned", MethodDailyRollUp},
			{"activity-level", MethodDailyRollUp}, {"daily-resting-heart-rate", MethodList}, {"daily-heart-rate-zones", MethodList},
			{"time-in-heart-rate-zone", MethodDailyRollUp}, {"calories-in-heart-rate-zone", MethodDailyRollUp}},
		[]Field{
			{"summary.steps", "steps.countSum", Exact, 0, "", "summary.steps"},
			{"summary.distances[total], [tracker]", "distance.millimetersSum", Exact, 0, "km or mi; tracker is the same total", "summary.distances[activity={total,tracker}]"},
			{"summary.distances[veryActive, moderatelyActive, lightlyActive, sedentaryActive, loggedActivities]", "", Lost, 0, "absent: no distance per intensity",
				"summary.distances[activity={veryActive,moderatelyActive,lightlyActive,sedentaryActive,loggedActivities}]"},
			{"summary.floors", "floors.countSum", Exact, 0, "", "summary.floors"},
			{"summary.elevation", "altitude.gainMillimetersSum", Exact, 0, "m or ft; 0 when Google answers 400 for the roll-up, as for activityCalories, the minutes and the zones", "summary.elevation"},
			{"summary.caloriesOut", "total-calories.kcalSum", Exact, 0, "rounded to whole kcal", "summary.caloriesOut"},
			{"summary.activityCalories", "active-energy-burned.kcalSum", Approximate, 50, "Google's active energy is defined differently", "summary.activityCalories"},
			{"summary.caloriesBMR", "total-calories minus active-energy-burned", Approximate, 50, "basal energy has no daily roll-up", "summary.caloriesBMR"},
			{"summary.sedentaryMinutes, lightlyActiveMinutes, fairlyActiveMinutes, veryActiveMinutes", "activity-level SEDENTARY, LIGHTLY_ACTIVE, MODERATELY_ACTIVE, VERY_ACTIVE totalDuration", Approximate, 5, "one roll-up for all four; whole minutes; third parties report no daily roll-up of activity-level, so they are 0 then",
				"summary.{sedentaryMinutes,lightlyActiveMinutes,fairlyActiveMinutes,veryActiveMinutes}"},
			{"summary.restingHeartRate", "daily-resting-heart-rate.beatsPerMinute", Exact, 0, "absent on days without one", "summary.restingHeartRate"},
			{"summary.heartRateZones", "as the heart rate time series", Approximate, 2, "", "summary.heartRateZones"},
			{"summary.marginalCalories, activeScore, customHeartRateZones", "", Lost, 0, "absent", "summary.{marginalCalories,activeScore,customHeartRateZones}"},
			{"goals, activities", "", Lost, 0, "v4 has no goals; logged activities are []", "goals activities=[]"},
		}},
	{ActivityTimeSeries, "/1/user/-/activities/[tracker/]{resource}/date/{date}/{period|end}.json", "1 + ⌈days / cap⌉ (cap 90; 14 for calories); caloriesBMR 1 + ⌈days / 14⌉ + ⌈days / 90⌉",
		[]Call{{"", MethodGetSettings}, {"{resource}", MethodDailyRollUp}, {"active-energy-burned", MethodDailyRollUp}},
		[]Field{
			{"activities-{resource}[].dateTime", "dailyRollUp of the resource's data type, per civil day", Exact, 0, "every day of the range, oldest first", "activities-*[].dateTime"},
			{"activities-{resource}[].value: steps, distance, floors, elevation, calories", "steps, distance, floors, altitude, total-calories", Exact, 0, "as a string; km to the millimetre or miles to 5 decimals, m or ft to 2; days Google omits (off wrist) are 0, as Fitbit gave",
				"activities-{steps,distance,floors,elevation,calories}[].value"},
			{"activityCalories", "active-energy-burned.kcalSum", Approximate, 50, "", "activities-activityCalories[].value"},
			{"minutesSedentary, minutesLightlyActive, minutesFairlyActive, minutesVeryActive", "activity-level per level", Approximate, 5, "", "activities-minutes*[].value"},
			{"caloriesBMR", "total-calories.kcalSum minus active-energy-burned.kcalSum, per day", Approximate, 50, "basal-energy-burned has no daily roll-up; each rounded to whole kcal first, never below 0, as summary.caloriesBMR; Google's active energy is defined differently", "activities-caloriesBMR[].value"},
			{"tracker/ variants", "the same roll-up", Approximate, 0, "Google does not tell tracker from logged values apart; tracker/caloriesBMR, which Fitbit did not document, is caloriesBMR", "activities-tracker-*[].value"},
		}},
	{ActivityIntraday, "/1/user/-/activities/{resource}/date/{date}/1d/{detail}[/time/HH:mm/HH:mm].json", "2",
		[]Call{{"", MethodGetSettings}, {"{resource}", MethodRollUp}},
		[]Field{
			{"activities-{resource}-intraday.dataset[].time, value", "rollUp windows of 60s, 300s or 900s", Exact, 0, "steps, distance, floors, elevation, calories (to 4 decimals of a kcal, as Fitbit gave them); windows Google omits are 0; today's stop at the window under way", "activities-*-intraday.dataset[].{time,value}"},
			{"activities-calories-intraday.dataset[].level, mets", "", Lost, 0, "absent: no intensity or METs per window", "activities-*-intraday.dataset[].{level,mets}"},
			{"datasetInterval, datasetType", "", Exact, 0, "from the detail level", "activities-*-intraday.{datasetInterval,datasetType}"},
			{"activities-{resource}[0].value", "the sum of the windows", Exact, 0, "rounded once, after summing", "activities-*[]"},
		}},
	{HeartTimeSeries, "/1/user/-/activities/heart/date/{date}/{period|end}.json", "3 + ⌈days / 90⌉ + ⌈days / 14⌉",
		[]Call{{"", MethodGetSettings}, {"daily-resting-heart-rate", MethodList}, {"daily-heart-rate-zones", MethodList},
			{"time-in-heart-rate-zone", MethodDailyRollUp}, {"calories-in-heart-rate-zone", MethodDailyRollUp}},
		heartDayFields("activities-heart[]")},
	{HeartIntraday, "/1/user/-/activities/heart/date/{date}/1d/{detail}[/time/HH:mm/HH:mm].json", "5 + ⌈samples / 10000⌉",
		[]Call{{"", MethodGetSettings}, {"daily-resting-heart-rate", MethodList}, {"daily-heart-rate-zones", MethodList},
			{"time-in-heart-rate-zone", MethodDailyRollUp}, {"calories-in-heart-rate-zone", MethodDailyRollUp}, {"heart-rate", MethodList}},
		append(heartDayFields("activities-heart[]"), []Field{
			{"activities-heart-intraday.dataset[].time", "heart-rate.sampleTime at its utcOffset", Exact, 0, "local HH:mm:ss; the window's start for 1min, 5min, 15min", "activities-heart-intraday.dataset[].time"},
			{"activities-heart-intraday.dataset[].value", "mean of the window's heart-rate samples; the sample for 1sec", Approximate, 1, "rounded to whole bpm; windows without samples (off wrist) are absent", "activities-heart-intraday.dataset[].value"},
			{"datasetInterval, datasetType", "", Exact, 0, "from the detail level: 1 second, or 1, 5 or 15 minutes", "activities-heart-intraday.{datasetInterval,datasetType}"},
		}...)},
	{SleepByDate, "/1.2/user/-/sleep/date/{date}.json", "1 + ⌈31 / 25⌉ = 3",
		[]Call{{"", MethodGetSettings}, {"sleep", MethodList}},
		append(sleepLogFields("sleep[]"),
			Field{"summary.totalMinutesAsleep, totalTimeInBed, totalSleepRecords, stages", "sums over the day's sessions", Exact, 0, "", "summary"})},
	{SleepRange, "/1.2/user/-/sleep/date/{start}/{end}.json", "1 + ⌈(days + 30) / 25⌉", []Call{{"", MethodGetSettings}, {"sleep", MethodList}},
		append([]Field{{"sleep[]", "as sleep by date", Exact, 0, "re-sorted oldest first (Google lists newest first); no summary, as Fitbit", ""}}, sleepLogFields("sleep[]")...)},
	{SleepList, "/1.2/user/-/sleep/list.json", "⌈(limit + 1) / 25⌉; 1–2 with afterDate", []Call{{"sleep", MethodList}},
		append([]Field{
			{"sleep[]", "as sleep by date", Exact, 0, "newest first with beforeDate, oldest first with afterDate", ""},
			{"sleep[].levels.summary.*.thirtyDayAvgMinutes", "the listed logs", Approximate, 0, "averaged over the logs in the answer, not thirty days", "sleep[].levels.summary.*.thirtyDayAvgMinutes"},
			{"pagination", "—", Approximate, 0, "offset 0 only; next pages by date (beforeDate/afterDate of the last log), previous is empty", "pagination"},
		}, slices.DeleteFunc(sleepLogFields("sleep[]"), func(f Field) bool { return strings.HasSuffix(f.Paths, "thirtyDayAvgMinutes") })...)},
	{SleepV1ByDate, "/1/user/-/sleep/date/{date}.json", "2", []Call{{"", MethodGetSettings}, {"sleep", MethodList}},
		[]Field{
			{"sleep[].minuteData", "sleep.stages, a value a minute", Approximate, 0, "stages sleep: light, deep, REM asleep (1), wake awake (3), never restless (2); classic one to one", "sleep[].minuteData"},
			{"sleep[].awakeCount, awakeDuration, restlessCount, restlessDuration, awakeningsCount", "counted from minuteData", Approximate, 0, "Fitbit's classic algorithm scored restlessness from motion, which Google does not keep",
				"sleep[].{awakeCount,awakeDuration,restlessCount,restlessDuration,awakeningsCount}"},
			{"sleep[].minutesAsleep, minutesAwake, timeInBed, efficiency", "counted from minuteData", Approximate, 2, "minutes; efficiency is asleep ÷ in bed", "sleep[].{minutesAsleep,minutesAwake,timeInBed,efficiency}"},
			{"sleep[].dateOfSleep, startTime, duration, isMainSleep, minutesToFallAsleep, minutesAfterWakeup", "as sleep v1.2", Exact, 0, "—",
				"sleep[].{dateOfSleep,startTime,duration,isMainSleep,minutesToFallAsleep,minutesAfterWakeup}"},
			{"sleep[].logId", "data point name", Approximate, 0, "as sleep v1.2: stable, not Fitbit's", "sleep[].logId"},
			{"summary", "sums of the day's logs", Exact, 0, "no stages in v1", "summary"},
		}},
	{WeightLog, "/1/user/-/body/log/weight/date/{date}[/{period|end}].json", "4",
		[]Call{{"", MethodGetSettings}, {"weight", MethodList}, {"body-fat", MethodList}, {"height", MethodList}},
		[]Field{
			{"weight", "weight.weightGrams", Exact, 0, "kg, lb or stone", "weight[].weight"},
			{"date, time", "weight.sampleTime", Exact, 0, "civilTime, else physicalTime at utcOffset", "weight[].{date,time}"},
			{"fat", "body-fat.percentage at the same time", Approximate, 0, "absent without a body-fat sample at the weigh-in's time", "weight[].fat"},
			{"bmi", "weight / height², the newest height up to the range's end", Approximate, 0.1, "Google has no BMI; 0 without a height", "weight[].bmi"},
			{"logId", "data point name", Approximate, 0, "53 bits of the name's FNV-1a hash: stable, not Fitbit's", "weight[].logId"},
			{"source", "weight.dataSource", Approximate, 0, "Aria for a SCALE, API for the web APIs' platforms, else Web", "weight[].source"},
		}},
	{FatLog, "/1/user/-/body/log/fat/date/{date}[/{period|end}].json", "2", []Call{{"", MethodGetSettings}, {"body-fat", MethodList}},
		[]Field{
			{"fat, date, time", "body-fat.percentage, sampleTime", Exact, 0, "", "fat[].{fat,date,time}"},
			{"logId, source", "data point name, dataSource", Approximate, 0, "as the weight log", "fat[].{logId,source}"},
		}},
	{BodyTimeSeries, "/1/user/-/body/{weight|fat|bmi}/date/{date}/{period|end}.json", "3; 4 for bmi",
		[]Call{{"", MethodGetSettings}, {"weight", MethodList}, {"body-fat", MethodList}, {"height", MethodList}},
		[]Field{
			{"body-weight[].dateTime, body-fat[].dateTime, body-bmi[].dateTime", "the user's civil days", Exact, 0, "every day of the range, oldest first", "body-*[].dateTime"},
			{"body-weight[].value, body-fat[].value", "the day's last weight or body-fat sample", Exact, 0, "one list of the range (and one sample before it), not dailyRollUp: fewer calls than roll-ups chunked at 90 days", "body-{weight,fat}[].value"},
			{"days without a sample", "the last sample before the day", Approximate, 0, "carried forward, as Fitbit did; 0 before any", ""},
			{"body-bmi[].value", "weight / height²", Approximate, 0.1, "the newest height up to the range's end", "body-bmi[].value"},
		}},
	{SpO2, "/1/user/-/spo2/date/{date}[/{end}].json", "2", []Call{{"", MethodGetSettings}, {"daily-oxygen-saturation", MethodList}},
		nightlyFields("", Field{"value.avg", "averagePercentage", Exact, 0, "", "value.avg"},
			Field{"value.min, value.max", "lowerBoundPercentage, upperBoundPercentage", Approximate, 1, "Google's are bounds, not the night's extremes", "value.min value.max"})},
	{HRV, "/1/user/-/hrv/date/{date}[/{end}].json", "2", []Call{{"", MethodGetSettings}, {"daily-heart-rate-variability", MethodList}},
		nightlyFields("hrv", Field{"value.dailyRmssd", "averageHeartRateVariabilityMilliseconds", Exact, 0, "", "value.dailyRmssd"},
			Field{"value.deepRmssd", "deepSleepRootMeanSquareOfSuccessiveDifferencesMilliseconds", Exact, 0, "", "value.deepRmssd"})},
	{BreathingRate, "/1/user/-/br/date/{date}[/{end}].json", "2", []Call{{"", MethodGetSettings}, {"daily-respiratory-rate", MethodList}},
		nightlyFields("br", Field{"value.breathingRate", "breathsPerMinute", Exact, 0, "", "value.breathingRate"})},
	{SkinTemperature, "/1/user/-/temp/skin/date/{date}[/{end}].json", "2", []Call{{"", MethodGetSettings}, {"daily-sleep-temperature-derivations", MethodList}},
		nightlyFields("tempSkin", Field{"value.nightlyRelative", "the night's deviation from the baseline", Exact, 0, "", "value.nightlyRelative"},
			Field{"logType", "", Lost, 0, "always dedicated_temp_sensor", `logType="dedicated_temp_sensor"`})},
	{CardioFitness, "/1/user/-/cardioscore/date/{date}[/{end}].json", "2", []Call{{"", MethodGetSettings}, {"daily-vo2-max", MethodList}},
		nightlyFields("cardioScore", Field{"value.vo2Max", "the day's VO2 max", Approximate, 1, "to one decimal; Fitbit gave a range such as 44-48 on days without a GPS run, which the value falls in", "value.vo2Max"})},
	{Devices, "/1/user/-/devices.json", "2", []Call{{"", MethodGetSettings}, {"", MethodPairedDevices}},
		[]Field{
			{"id, battery, batteryLevel, deviceVersion, type", "pairedDevices", Exact, 0, "id is the last segment of the name", "[].{id,battery,batteryLevel,deviceVersion,type}"},
			{"lastSyncTime", "lastSyncTime", Exact, 0, "local time of the user's zone", "[].lastSyncTime"},
			{"mac", "macAddress", Exact, 0, "colons dropped, upper case", "[].mac"},
			{"features", "features", Approximate, 0, "Google's feature names (STEPS, HEART_RATE, SPO2, …), not Fitbit's", "[].features"},
		}},
	{ExerciseList, "/1/user/-/activities/list.json", "⌈(offset + limit + 1) / 25⌉ with beforeDate; with afterDate all pages of windows of days after it, from ⌈(offset + limit + 1) / 2⌉ days, doubling until they hold enough",
		[]Call{{"exercise", MethodList}},
		[]Field{
			{"activities[]", "exercise sessions by interval.civil_start_time", Exact, 0, "newest first before beforeDate, oldest first from afterDate (re-sorted); a date-time compares at its time", ""},
			{"activityName, activityTypeId", "exercise.exerciseType", Exact, 0, "WALKING and other walks Walk 90013, RUNNING and other runs Run 90009; the common types as Bike, Swim, Hike, Treadmill, Spinning, Elliptical, Yoga, Weights, Circuit Training, Aerobic Workout, Sport", "activities[].{activityName,activityTypeId}"},
			{"activityName, activityTypeId of other exercise types", "exercise.displayName", Approximate, 0, "Google's name (the user's own for OTHER), activityTypeId 0", ""},
			{"startTime, originalStartTime", "exercise.interval.startTime at startUtcOffset", Exact, 0, "local, yyyy-MM-ddTHH:mm:ss.000±hh:mm", "activities[].{startTime,originalStartTime}"},
			{"duration, originalDuration", "exercise.interval end minus start", Exact, 0, "ms", "activities[].{duration,originalDuration}"},
			{"activeDuration", "exercise.activeDuration", Exact, 0, "ms; the whole interval without it", "activities[].activeDuration"},
			{"steps", "metricsSummary.steps", Exact, 0, "", "activities[].steps"},
			{"distance, distanceUnit", "metricsSummary.distanceMillimeters", Exact, 0, "km (metric, en_GB) or miles to 5 decimals (en_US); Kilometer or Mile", "activities[].{distance,distanceUnit}"},
			{"calories", "metricsSummary.caloriesKcal", Exact, 0, "rounded to whole kcal", "activities[].calories"},
			{"averageHeartRate", "metricsSummary.averageHeartRateBeatsPerMinute", Exact, 0, "absent without one", "activities[].averageHeartRate"},
			{"heartRateZones[].name, minutes", "metricsSummary.heartRateZoneDurations", Approximate, 1, "LIGHT, MODERATE, VIGOROUS, PEAK as Out of Range, Fat Burn, Cardio, Peak, whole minutes; absent without durations", "activities[].heartRateZones[].{name,minutes}"},
			{"heartRateZones[].min, max", "", Lost, 0, "absent: Google has no zone bounds per session", "activities[].heartRateZones[].{min,max}"},
			{"logType", "dataSource.recordingMethod", Approximate, 0, "MANUAL is manual, ACTIVELY_MEASURED tracker, else auto_detected", "activities[].logType"},
			{"source.type, name", "dataSource.device.displayName", Approximate, 0, "tracker and the device's name; absent for manual sessions", "activities[].source.{type,name}"},
			{"source.id, url, trackerFeatures", "", Lost, 0, "absent: the data source names no device id or features", "activities[].source.{id,url,trackerFeatures}"},
			{"logId", "exercise.interval.startTime", Approximate, 0, "milliseconds since the epoch: stable and unique per user, not Fitbit's", "activities[].logId"},
			{"pagination.beforeDate, afterDate, limit, offset, sort", "the query", Exact, 0, "", "pagination.{beforeDate,afterDate,limit,offset,sort}"},
			{"pagination.next, previous", "the query at the next or previous offset", Approximate, 0, "paths on the gateway, where Fitbit's were https://api.fitbit.com URLs; offset + limit up to about 975 (the bound on Google calls)", "pagination.{next,previous}"},
			{"elevationGain, pace, speed, activeZoneMinutes, hasActiveZoneMinutes, lastModified", "", Lost, 0, "absent: not translated, though Google's session has elevation gain, pace, speed, active zone minutes and updateTime", "activities[].{elevationGain,pace,speed,activeZoneMinutes,hasActiveZoneMinutes,lastModified}"},
			{"activityLevel, caloriesLink, heartRateLink, tcxLink, manualValuesSpecified, customHeartRateZones", "", Lost, 0, "absent: no per-session levels; the links' endpoints are not translated (TCX needs exportExerciseTcx and a location scope)", "activities[].{activityLevel,caloriesLink,heartRateLink,tcxLink,manualValuesSpecified,customHeartRateZones}"},
		}},
	{WeightCreate, "POST /1/user/-/body/log/weight.json", "3", []Call{{"", MethodGetSettings}, {"weight", MethodCreate}, {"height", MethodList}}, []Field{{"weight, date, time", "weight.weightGrams, sampleTime", Exact, 0, "", ""}}},
	{WeightDelete, "DELETE /1/user/-/body/log/weight/{logId}.json", "2; up to 5 past the newest 10,000 logs", []Call{{"weight", MethodList}, {"weight", MethodBatchDelete}}, []Field{{"logId", "data point name", Exact, 0, "found among the logs", ""}}},
	{FatCreate, "POST /1/user/-/body/log/fat.json", "2", []Call{{"", MethodGetSettings}, {"body-fat", MethodCreate}}, []Field{{"fat, date, time", "body-fat.percentage, sampleTime", Exact, 0, "", ""}}},
	{FatDelete, "DELETE /1/user/-/body/log/fat/{logId}.json", "2; up to 5 past the newest 10,000 logs", []Call{{"body-fat", MethodList}, {"body-fat", MethodBatchDelete}}, []Field{{"logId", "data point name", Exact, 0, "found among the logs", ""}}},
}

// Lookup returns the endpoint's mapping, or nil.
func Lookup(e Endpoint) *Mapping {
	for i := range Table {
		if Table[i].Endpoint == e {
			return &Table[i]
		}
	}
	return nil
}

// Markdown renders Table as a Markdown table, one row per field, in the
// table's order, so the rendering is stable and diffs read as mapping changes.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| Fitbit endpoint | Google calls per Fitbit call | Google calls | Fitbit field | Google source | fidelity | note |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, m := range Table {
		calls := make([]string, len(m.Calls))
		for i, c := range m.Calls {
			calls[i] = "`" + c.String() + "`"
		}
		for i, f := range m.Fields {
			path, cost, cs := "", "", ""
			if i == 0 {
				path, cost, cs = "`"+m.Path+"`", m.Cost, strings.Join(calls, ", ")
			}
			fid := f.Fidelity.String()
			if f.Fidelity == Approximate && f.Tolerance > 0 {
				fid += fmt.Sprintf(" (±%g)", f.Tolerance)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", path, cost, cs, cell(f.Fitbit), cell(f.Google), fid, cell(f.Note))
		}
	}
	return b.String()
}

func cell(s string) string {
	if s == "" {
		return "—"
	}
	return strings.ReplaceAll(s, "|", `\|`)
}
