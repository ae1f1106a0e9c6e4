package translate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/googleapi"
	health "google.golang.org/api/health/v4"
)

// Backoff for Google's 429, 503 and 504: a few retries, each counted
// against MaxGoogleCalls, waiting Retry-After when Google gives one (up to
// maxBackoff: a longer one is answered at once, with Google's Retry-After,
// so a Fitbit call never hangs for minutes) and otherwise doubling from
// firstBackoff. The wait is Engine.wait, so tests replace it.
const (
	maxRetries   = 2
	firstBackoff = 500 * time.Millisecond
	maxBackoff   = 5 * time.Second
)

// sleepCtx waits d or until ctx is done, then returns ctx's error.
func sleepCtx(ctx context.Context, d time.Duration) error {
	waited, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	<-waited.Done()
	return ctx.Err()
}

// do makes one Google call through f, counted by c, with bounded backoff.
// dataType names what is read, so a missing scope names the Fitbit scope.
func (e *Engine) do(ctx context.Context, c *calls, dataType string, f func() error) error {
	backoff := firstBackoff
	for attempt := 0; ; attempt++ {
		if err := c.take(); err != nil {
			return err
		}
		err := f()
		var ge *googleapi.Error
		if !errors.As(err, &ge) {
			return err
		}
		switch ge.Code {
		case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			wait, said := backoff, time.Duration(0)
			if s, err := strconv.Atoi(ge.Header.Get("Retry-After")); err == nil && s >= 0 {
				wait = time.Duration(s) * time.Second
				said = wait
			}
			// A retry before Google's Retry-After would only be refused
			// (and, past the identity's budget, the gateway refuses it):
			// beyond maxBackoff the app is told to wait instead.
			if attempt == maxRetries || wait > maxBackoff {
				return unavailable(ge.Code, said)
			}
			if err := e.wait(ctx, wait); err != nil {
				return err
			}
			backoff *= 2
			continue
		case http.StatusForbidden:
			if scopeMissing(ge) {
				return insufficientScope(dataType)
			}
			return forbidden()
		}
		return err
	}
}

// scopeMissing tells Google's 403 for a token without the scope
// (ErrorInfo reason ACCESS_TOKEN_SCOPE_INSUFFICIENT, or RFC 6750's
// insufficient_scope in WWW-Authenticate) from other refusals.
func scopeMissing(ge *googleapi.Error) bool {
	if strings.Contains(ge.Header.Get("WWW-Authenticate"), "insufficient_scope") {
		return true
	}
	for _, d := range ge.Details {
		if m, ok := d.(map[string]any); ok && m["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT" {
			return true
		}
	}
	return false
}

// notRolledUp reports Google's 400 for a roll-up: the type is not rolled up
// (third parties found activity-level without a daily roll-up, and Google
// may offer a type to some users only). Where a roll-up feeds optional
// fields of a larger answer, those fields are 0, as for a day without data,
// rather than failing the whole Fitbit call.
func notRolledUp(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusBadRequest
}

// listAll lists a data type's points matching filter, following pages.
func (e *Engine) listAll(ctx context.Context, c *calls, dataType, filter string, pageSize int64) ([]*health.DataPoint, error) {
	return e.list(ctx, c, dataType, filter, pageSize, -1)
}

// list lists up to pages pages (all when negative) of a data type's points
// matching filter.
func (e *Engine) list(ctx context.Context, c *calls, dataType, filter string, pageSize int64, pages int) ([]*health.DataPoint, error) {
	var out []*health.DataPoint
	token := ""
	for ; pages != 0; pages-- {
		call := e.svc.Users.DataTypes.DataPoints.List("users/me/dataTypes/" + dataType).Filter(filter).Context(ctx)
		if pageSize > 0 {
			call = call.PageSize(pageSize)
		}
		if token != "" {
			call = call.PageToken(token)
		}
		var resp *health.ListDataPointsResponse
		err := e.do(ctx, c, dataType, func() (err error) { resp, err = call.Do(); return err })
		if err != nil {
			return nil, err
		}
		out = append(out, resp.DataPoints...)
		if token = resp.NextPageToken; token == "" {
			break
		}
	}
	return out, nil
}

// rollUpDays calls dailyRollUp over [start, end] in chunks of capDays,
// following pages, and returns the points by civil day (yyyy-MM-dd). Days
// Google omits (the device was off the wrist) stay absent.
func (e *Engine) rollUpDays(ctx context.Context, c *calls, dataType string, capDays int, start, end time.Time) (map[string]*health.DailyRollupDataPoint, error) {
	out := make(map[string]*health.DailyRollupDataPoint)
	parent := "users/me/dataTypes/" + dataType
	for from := start; !from.After(end); from = from.AddDate(0, 0, capDays) {
		to := from.AddDate(0, 0, capDays) // exclusive
		if last := end.AddDate(0, 0, 1); to.After(last) {
			to = last
		}
		req := &health.DailyRollUpDataPointsRequest{
			Range:          &health.CivilTimeInterval{Start: civil(from), End: civil(to)},
			WindowSizeDays: 1,
			// No pageSize: pages are followed until nextPageToken is
			// empty, whatever page size Google picks.
		}
		for {
			var resp *health.DailyRollUpDataPointsResponse
			err := e.do(ctx, c, dataType, func() (err error) {
				resp, err = e.svc.Users.DataTypes.DataPoints.DailyRollUp(parent, req).Context(ctx).Do()
				return err
			})
			if err != nil {
				return nil, err
			}
			for _, p := range resp.RollupDataPoints {
				if p.CivilStartTime == nil || p.CivilStartTime.Date == nil {
					continue
				}
				out[dateString(p.CivilStartTime.Date)] = p
			}
			if resp.NextPageToken == "" {
				break
			}
			req.PageToken = resp.NextPageToken
		}
	}
	return out, nil
}

// chunks is the number of roll-up calls [start, end] takes at capDays.
func chunks(start, end time.Time, capDays int) int {
	return (int(end.Sub(start).Hours()/24) + capDays) / capDays
}

func dateString(d *health.Date) string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// dayFilter is an AIP-160 filter on a civil field over the days [start,
// end]; Google's filters name the type in snake_case.
func dayFilter(field string, start, end time.Time) string {
	return fmt.Sprintf(`%s >= %q AND %s < %q`, field, start.Format(dayLayout), field, end.AddDate(0, 0, 1).Format(dayLayout))
}

// snake turns a kebab-case data type into the filter's snake_case prefix.
func snake(dataType string) string { return strings.ReplaceAll(dataType, "-", "_") }

// localTime is a Google physical time at its own UTC offset, as a civil time
// (in a UTC time.Time), which is how Fitbit showed times: the user's local
// clock when the sample was taken.
func localTime(physical, utcOffset string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, physical)
	if err != nil {
		return time.Time{}, false
	}
	if d, err := time.ParseDuration(utcOffset); err == nil {
		t = t.Add(d)
	}
	return t.UTC(), true
}
