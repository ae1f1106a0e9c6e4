package translate

import (
	"context"
	"path"
	"strings"
	"time"

	health "google.golang.org/api/health/v4"
)

// devicePageSize is users.pairedDevices.list's largest page
// (health-api.json: "The maximum value is 100").
const devicePageSize = 100

// maxDevicePages bounds the paging of a list that is a handful of devices
// long for a real user; a Google that keeps sending page tokens is cut off
// here rather than spending the call budget.
const maxDevicePages = 3

// devices answers /1/user/-/devices.json from users.pairedDevices.list, in
// Fitbit's shape (https://dev.fitbit.com/build/reference/web-api/devices/get-devices/):
// the id is the last segment of the device's resource name, lastSyncTime
// is the user's local time without a zone, as Fitbit wrote it, and the MAC
// address is Fitbit's twelve upper-case hex digits.
func (e *Engine) devices(ctx context.Context, c *calls) (any, error) {
	_, loc, err := e.settings(ctx, c)
	if err != nil {
		return nil, err
	}
	var all []*health.PairedDevice
	token := ""
	for range maxDevicePages {
		var resp *health.ListPairedDevicesResponse
		if err := e.do(ctx, c, "", func() (err error) {
			call := e.svc.Users.PairedDevices.List("users/me").PageSize(devicePageSize).Context(ctx)
			if token != "" {
				call = call.PageToken(token)
			}
			resp, err = call.Do()
			return err
		}); err != nil {
			return nil, err
		}
		all = append(all, resp.PairedDevices...)
		if token = resp.NextPageToken; token == "" {
			break
		}
	}
	out := []map[string]any{}
	for _, d := range all {
		if d == nil {
			continue
		}
		features := d.Features
		if features == nil {
			features = []string{}
		}
		out = append(out, map[string]any{
			"battery":       d.BatteryStatus,
			"batteryLevel":  d.BatteryLevel,
			"deviceVersion": d.DeviceVersion,
			"features":      features,
			"id":            path.Base(d.Name),
			"lastSyncTime":  fitbitLocalTime(d.LastSyncTime, loc),
			"mac":           strings.ToUpper(strings.NewReplacer(":", "", "-", "").Replace(d.MacAddress)),
			"type":          d.DeviceType,
		})
	}
	return out, nil
}

// fitbitLocalTime renders an RFC 3339 time as Fitbit's local date-time with
// milliseconds ("2026-11-20T14:55:11.000"); "" when Google sent none or
// garbage.
func fitbitLocalTime(ts string, loc *time.Location) string {
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return ""
	}
	return t.In(loc).Format("2006-01-02T15:04:05.000")
}
