package translate

import (
	"context"
	"strconv"
	"time"

	health "google.golang.org/api/health/v4"
)

// rollUpPageSize is rollUp's largest page (health-api.json: "The maximum
// page size is 10000"); a day of minutes is 1440 windows.
const rollUpPageSize = 10000

// activityIntraday answers /1/user/-/activities/{resource}/date/{date}/1d/
// {1min|5min|15min}[/time/HH:mm/HH:mm].json
// (https://dev.fitbit.com/build/reference/web-api/intraday/get-activity-intraday-by-date/)
// from one rollUp of the resource's Google type in windows of the detail
// level, over the user's local day (or the /time window) up to the clock.
// Every window is in the dataset, 0 when Google has no data for it, as
// Fitbit gave zeros; the summary entry is the sum of the windows.
func (e *Engine) activityIntraday(ctx context.Context, c *calls, r *Request, units UnitSystem) (any, error) {
	st, ok := seriesTypes[r.Resource]
	step, okStep := intradaySteps[r.Detail]
	if !ok || !okStep || step < time.Minute {
		return nil, notAvailable("this intraday resource or detail level is not translated", "")
	}
	_, loc, err := e.settings(ctx, c)
	if err != nil {
		return nil, err
	}
	day := r.Start.Resolve(e.now(), loc)
	from, to := day, day.Add(24*time.Hour) // civil, [from, to)
	if r.HasWindow {
		from = day.Add(time.Duration(r.From.minutes()) * time.Minute)
		to = day.Add(time.Duration(r.To.minutes()+1) * time.Minute)
	}
	// Today's dataset stops at the clock, as Fitbit's did: the windows up
	// to the one the current minute is in; a future day has none.
	n := e.now().In(loc)
	if begun := time.Date(n.Year(), n.Month(), n.Day(), n.Hour(), n.Minute()+1, 0, 0, time.UTC); begun.Before(to) {
		to = begun
	}
	if to.Before(from) {
		to = from
	}
	physical := func(civil time.Time) time.Time {
		return time.Date(civil.Year(), civil.Month(), civil.Day(), civil.Hour(), civil.Minute(), 0, 0, loc)
	}
	req := &health.RollUpDataPointsRequest{
		Range:      &health.Interval{StartTime: physical(from).UTC().Format(time.RFC3339), EndTime: physical(to).UTC().Format(time.RFC3339)},
		WindowSize: formatSeconds(step),
		PageSize:   rollUpPageSize,
	}
	values := map[time.Time]float64{}
	for from.Before(to) { // a future day asks Google nothing
		var resp *health.RollUpDataPointsResponse
		if err := e.do(ctx, c, st.dataType, func() (err error) {
			resp, err = e.svc.Users.DataTypes.DataPoints.RollUp("users/me/dataTypes/"+st.dataType, req).Context(ctx).Do()
			return err
		}); err != nil {
			return nil, err
		}
		for _, p := range resp.RollupDataPoints {
			t, err := time.Parse(time.RFC3339Nano, p.StartTime)
			if err != nil {
				continue
			}
			local := t.In(loc)
			k := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), 0, 0, time.UTC)
			values[k] += st.value(dailyOf(p), units)
		}
		if req.PageToken = resp.NextPageToken; req.PageToken == "" {
			break
		}
	}
	dataset := make([]map[string]any, 0, int(to.Sub(from)/step))
	var total float64
	for t := from; t.Before(to); t = t.Add(step) {
		v := round(values[t], st.places(units, true))
		total += values[t] // rounded once, as Fitbit rounded the day's sum
		dataset = append(dataset, map[string]any{"time": t.Format("15:04:05"), "value": v})
	}
	key := "activities-" + r.Resource
	return map[string]any{
		key:               []map[string]any{{"dateTime": day.Format(dayLayout), "value": formatValue(total, st.places(units, false))}},
		key + "-intraday": map[string]any{"dataset": dataset, "datasetInterval": int(step / time.Minute), "datasetType": "minute"},
	}, nil
}

// dailyOf carries a windowed roll-up's values into the daily roll-up type,
// whose value fields are the same types, so one extractor (seriesTypes)
// serves both.
func dailyOf(p *health.RollupDataPoint) *health.DailyRollupDataPoint {
	return &health.DailyRollupDataPoint{Steps: p.Steps, Distance: p.Distance, Floors: p.Floors, Altitude: p.Altitude,
		TotalCalories: p.TotalCalories, ActiveEnergyBurned: p.ActiveEnergyBurned}
}

// formatSeconds is a google-duration: "60s".
func formatSeconds(d time.Duration) string { return strconv.Itoa(int(d/time.Second)) + "s" }
