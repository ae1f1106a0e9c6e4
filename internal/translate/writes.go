package translate

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	health "google.golang.org/api/health/v4"
)

// The writes Google supports: creating and deleting weight and body-fat
// logs (https://dev.fitbit.com/build/reference/web-api/body/create-weight-log/
// and …/delete-weight-log/), as Google's dataPoints.create and
// dataPoints.batchDelete.

// maxDeletePages bounds the search for a log to delete: Fitbit's log ids
// carry no date, so the id is looked for among the newest logs, a page of
// bodyPageSize (10,000) at a time. A log older than that is not found.
const maxDeletePages = 4

// createLog answers POST /1/user/-/body/log/{weight|fat}.json: 201 with the
// new log in Fitbit's shape. The time is the user's local time on the day
// asked for, in the zone of Google's settings.
func (e *Engine) createLog(ctx context.Context, c *calls, r *Request, units UnitSystem) (*Answer, error) {
	_, loc, err := e.settings(ctx, c)
	if err != nil {
		return nil, err
	}
	day := r.Start.Resolve(e.now(), loc)
	local := time.Date(day.Year(), day.Month(), day.Day(), r.Time.Hour, r.Time.Minute, 0, 0, loc)
	_, offset := local.Zone()
	// civilTime is output only (health-api.json): Google derives it from
	// the physical time and the offset.
	at := &health.ObservationSampleTime{PhysicalTime: local.UTC().Format(time.RFC3339), UtcOffset: fmt.Sprintf("%ds", offset)}
	dataType, point := "weight", &health.DataPoint{}
	if r.Endpoint == FatCreate {
		dataType = "body-fat"
		point.BodyFat = &health.BodyFat{Percentage: r.Value, SampleTime: at}
	} else {
		point.Weight = &health.Weight{WeightGrams: units.Grams(r.Value), SampleTime: at}
	}
	var op *health.Operation
	if err := e.do(ctx, c, dataType, func() (err error) {
		op, err = e.svc.Users.DataTypes.DataPoints.Create("users/me/dataTypes/"+dataType, point).Context(ctx).Do()
		return err
	}); err != nil {
		return nil, err
	}
	if op.Error != nil {
		return nil, &Error{Status: http.StatusBadRequest, Type: Validation, FieldName: r.Resource,
			Message: "the Google Health API refused the log"}
	}
	// The created point, with its name, is the operation's response when it
	// is done; a pending operation still names no point, so the log id is
	// then derived from the operation's name, which is as stable.
	name := op.Name
	var created health.DataPoint
	if op.Done && len(op.Response) > 0 && json.Unmarshal(op.Response, &created) == nil && created.Name != "" {
		name = created.Name
	}
	entry := map[string]any{
		"logId":  logID(name),
		"date":   local.Format(dayLayout),
		"time":   local.Format("15:04:05"),
		"source": "API",
	}
	key := "fatLog"
	if r.Endpoint == WeightCreate {
		key = "weightLog"
		entry["weight"] = r.Value
		height, err := e.latest(ctx, c, "height", day.AddDate(0, 0, 1))
		if err != nil {
			return nil, err
		}
		entry["bmi"] = bmi(units.Grams(r.Value), height)
	} else {
		entry["fat"] = r.Value
	}
	return &Answer{Status: http.StatusCreated, Body: map[string]any{key: entry}}, nil
}

// deleteLog answers DELETE /1/user/-/body/log/{weight|fat}/{logId}.json:
// 204 once Google deleted the point whose name hashes to the log id.
func (e *Engine) deleteLog(ctx context.Context, c *calls, r *Request) (*Answer, error) {
	dataType := "weight"
	if r.Endpoint == FatDelete {
		dataType = "body-fat"
	}
	pts, err := e.list(ctx, c, dataType, "", bodyPageSize, maxDeletePages)
	if err != nil {
		return nil, err
	}
	for _, p := range pts {
		if logID(p.Name) != r.LogID {
			continue
		}
		req := &health.BatchDeleteDataPointsRequest{Names: []string{p.Name}}
		if err := e.do(ctx, c, dataType, func() error {
			_, err := e.svc.Users.DataTypes.DataPoints.BatchDelete("users/me/dataTypes/"+dataType, req).Context(ctx).Do()
			return err
		}); err != nil {
			return nil, err
		}
		return &Answer{Status: http.StatusNoContent}, nil
	}
	return nil, &Error{Status: http.StatusNotFound, Type: "not_found", FieldName: "log-id",
		Message: "no " + r.Resource + " log with this id among the newest logs"}
}
