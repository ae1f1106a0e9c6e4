package googlesim

import (
	"encoding/json"
	"math"
	"net/http"
	"time"
)

// Page sizes of rollUp, per health-api.json's RollUpDataPointsRequest: "If
// unspecified, at most 1440 data points will be returned. The maximum page
// size is 10000; values above that will be truncated accordingly."
const (
	defaultRollUpPageSize = 1440
	maxRollUpPageSize     = 10000
)

// RollUpRequest is the body of dataPoints:rollUp: physical (UTC) times,
// closed-open.
type RollUpRequest struct {
	Range struct {
		StartTime string `json:"startTime"`
		EndTime   string `json:"endTime"`
	} `json:"range"`
	WindowSize string      `json:"windowSize"`
	PageSize   json.Number `json:"pageSize,omitempty"`
	PageToken  string      `json:"pageToken,omitempty"`
	// Accepted and, as the simulator has one data source, not acted on.
	DataSourceFamily string `json:"dataSourceFamily,omitempty"`
}

// rollUp is POST /v4/users/me/dataTypes/{type}/dataPoints:rollUp: the
// windows of windowSize from range.startTime, the last one cut at
// range.endTime, oldest first (ASSUMED, as dailyRollUp answers), each with
// the same values dailyRollUp computes for it. Windows that start after
// the clock are not answered: there is no data for them yet; one that
// starts at the clock is, as its first minute has begun (the lists and
// dailyRollUp count it, as the simulated Fitbit does).
func (s *Server) rollUp(w http.ResponseWriter, r *apiRequest, m []string) {
	var req RollUpRequest
	typ, roll, ok := rollUpBody(w, r, m, &req)
	if !ok {
		return
	}
	start, errStart := time.Parse(time.RFC3339Nano, req.Range.StartTime)
	end, errEnd := time.Parse(time.RFC3339Nano, req.Range.EndTime)
	window, okWindow := parseDuration(req.WindowSize)
	switch {
	case req.Range.StartTime == "" || req.Range.EndTime == "":
		invalidArgument(w, "range.start_time and range.end_time are required.")
		return
	case errStart != nil || errEnd != nil:
		invalidArgument(w, "range.start_time and range.end_time must be RFC 3339 timestamps.")
		return
	case !validRange(w, typ, start, end):
		return
	case !okWindow || window < time.Second:
		invalidArgument(w, "window_size is required and must be at least 1s.")
		return
	}
	size, ok := intField(req.PageSize, defaultRollUpPageSize, math.MaxInt32)
	if !ok {
		invalidArgument(w, "Invalid page_size.")
		return
	}
	size = min(size, maxRollUpPageSize)
	// The token is bound to every other field, which must not change
	// between pages.
	query := req.Range.StartTime + "|" + req.Range.EndTime + "|" + req.WindowSize + "|" + req.DataSourceFamily
	offset := 0
	if req.PageToken != "" {
		t, ok := decodePageToken(req.PageToken)
		if !ok || t.Query != queryHash(typ, query) {
			invalidArgument(w, "Invalid page token.")
			return
		}
		offset = t.Offset
	}
	start, end = start.UTC(), end.UTC()
	now := s.now().UTC()
	last := minTime(end, now.Add(time.Nanosecond)) // the window starting at now has begun
	count := 0
	if last.After(start) {
		count = int((last.Sub(start) + window - 1) / window)
	}
	var resp struct {
		RollupDataPoints []map[string]any `json:"rollupDataPoints,omitempty"`
		NextPageToken    string           `json:"nextPageToken,omitempty"`
	}
	var windows []time.Time
	for i := offset; i <= count && i <= offset+size; i++ {
		windows = append(windows, minTime(start.Add(time.Duration(i)*window), end))
	}
	if len(windows) > 1 {
		p := s.person(r.user)
		values := rollWindows(s.minutesIn(p, windows[0], windows[len(windows)-1], now), windows, roll, now)
		for i, v := range values {
			dp := map[string]any{"startTime": timestamp(windows[i]), "endTime": timestamp(windows[i+1])}
			if v != nil {
				dp[dataTypes[typ].field] = v
			}
			resp.RollupDataPoints = append(resp.RollupDataPoints, dp)
		}
	}
	if offset+size < count {
		resp.NextPageToken = encodePageToken(pageToken{Offset: offset + size, Query: queryHash(typ, query)})
	}
	writeJSON(w, http.StatusOK, resp)
}
