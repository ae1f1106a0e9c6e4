package googlesim

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"time"
)

// Paging of users.pairedDevices.list, per health-api.json: "If
// unspecified, at most 5 devices will be returned. The maximum value is
// 100. values above 100 will be coerced to 100."
const (
	defaultDevicePageSize = 5
	maxDevicePageSize     = 100
)

// devicesFor returns the user's paired devices: one tracker, the watch the
// data points' dataSource names, deterministic per user except for its
// last sync, which follows the clock (a worn watch syncs every few
// minutes).
func devicesFor(user, pathUser string, now time.Time) []map[string]any {
	r := rng(user, "device")
	h := fnv.New32a()
	fmt.Fprint(h, user, "tracker")
	level := between(r, 3, 100)
	synced := now.UTC().Truncate(time.Second).Add(-time.Duration(between(r, 2, 90)) * time.Minute)
	return []map[string]any{{
		"name":          fmt.Sprintf("users/%s/pairedDevices/%d", pathUser, h.Sum32()),
		"deviceType":    "TRACKER",
		"deviceVersion": "Pixel Watch 3",
		"batteryLevel":  level,
		"batteryStatus": batteryStatus(level),
		"lastSyncTime":  timestamp(synced),
		"macAddress":    fmt.Sprintf("F4:%02X:%02X:%02X:%02X:%02X", r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256)),
		"features":      []string{"STEPS", "DISTANCE", "ELEVATION", "CALORIES", "HEART_RATE", "SLEEP", "SMART_SLEEP", "SPO2", "ACTIVE_ZONE_MINUTES"},
	}}
}

// batteryStatus is the level's bucket. health-api.json gives batteryStatus
// as a free string ("Supported: High | Medium | Low | Empty") without the
// thresholds; these are ASSUMED.
func batteryStatus(level int) string {
	switch {
	case level >= 60:
		return "High"
	case level >= 25:
		return "Medium"
	case level >= 5:
		return "Low"
	}
	return "Empty"
}

// listPairedDevices is GET /v4/users/me/pairedDevices.
func (s *Server) listPairedDevices(w http.ResponseWriter, r *apiRequest, _ []string) {
	size, ok := pageSize(w, r.Request, defaultDevicePageSize, maxDevicePageSize)
	if !ok {
		return
	}
	devices := devicesFor(r.user, r.pathUser, s.now())
	offset, ok := pageOffset(r.Request, "pairedDevices", "")
	if !ok {
		invalidArgument(w, "Invalid page token.")
		return
	}
	var resp struct {
		PairedDevices []map[string]any `json:"pairedDevices,omitempty"`
		NextPageToken string           `json:"nextPageToken,omitempty"`
	}
	resp.PairedDevices, resp.NextPageToken = page(devices, offset, size, "pairedDevices", "")
	writeJSON(w, http.StatusOK, resp)
}
