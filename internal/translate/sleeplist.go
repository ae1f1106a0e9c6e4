package translate

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"time"
)

// listLayout is the date-time form of the list endpoints' beforeDate and
// afterDate, and of Google's civil-time filters.
const listLayout = "2006-01-02T15:04:05"

// sleepList answers /1.2/user/-/sleep/list.json
// (https://dev.fitbit.com/build/reference/web-api/sleep/get-sleep-log-list/):
// up to limit logs ending before beforeDate, newest first, or after
// afterDate, oldest first, with Fitbit's pagination object. Fitbit paged
// with offset; the gateway answers offset 0 only, and its next link pages
// by date instead, which is the same walk through the logs.
func (e *Engine) sleepList(ctx context.Context, c *calls, r *Request) (any, error) {
	q := r.List
	field := "sleep.interval.civil_end_time"
	var filter string
	if q.Before {
		filter = fmt.Sprintf(`%s < %q`, field, q.At.Format(listLayout))
	} else {
		// Google lists newest first: bound the window after afterDate to
		// the nights the limit can hold (a day more for naps), so the
		// listing holds the oldest ones.
		filter = fmt.Sprintf(`%s > %q AND %s < %q`, field, q.At.Format(listLayout), field, q.At.AddDate(0, 0, q.Limit+1).Format(listLayout))
	}
	pages := (q.Limit + sleepPageSize) / sleepPageSize // limit+1 logs tell whether there are more
	if !q.Before {
		pages = -1 // the window is bounded
	}
	if c.n+max(pages, 1) > MaxGoogleCalls {
		return nil, ErrTooManyCalls
	}
	pts, err := e.list(ctx, c, "sleep", filter, sleepPageSize, pages)
	if err != nil {
		return nil, err
	}
	ss := sessionsOf(pts)
	sort.SliceStable(ss, func(i, j int) bool { return ss[i].at.Before(ss[j].at) })
	if q.Before {
		for i, j := 0, len(ss)-1; i < j; i, j = i+1, j-1 {
			ss[i], ss[j] = ss[j], ss[i]
		}
	}
	more := len(ss) > q.Limit
	if more {
		ss = ss[:q.Limit]
	}
	main := mainSleeps(ss)
	logs := make([]map[string]any, 0, len(ss))
	for _, s := range ss {
		logs = append(logs, sleepLog(s, main[s.name], ss))
	}
	pagination := map[string]any{"limit": q.Limit, "offset": 0, "sort": q.Sort, "next": "", "previous": ""}
	dateKey := "afterDate"
	if q.Before {
		dateKey = "beforeDate"
	}
	pagination[dateKey] = q.At.Format(listLayout)
	if more && len(ss) > 0 {
		last := ss[len(ss)-1].end
		if q.Before {
			last = ss[len(ss)-1].end.Add(-time.Second)
		}
		v := url.Values{dateKey: {last.Format(listLayout)}, "sort": {q.Sort}, "limit": {strconv.Itoa(q.Limit)}, "offset": {"0"}}
		pagination["next"] = "/1.2/user/-/sleep/list.json?" + v.Encode()
	}
	return map[string]any{"sleep": logs, "pagination": pagination}, nil
}
