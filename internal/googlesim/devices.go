package googlesim

import (
	"net/http"
	"strings"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// Paging of users.pairedDevices.list, per health-api.json: "If
// unspecified, at most 5 devices will be returned. The maximum value is
// 100. values above 100 will be coerced to 100."
const (
	defaultDevicePageSize = 5
	maxDevicePageSize     = 100
)

// devicesFor returns the user's paired devices: the synthetic person's one
// tracker (package person: id, model, MAC address, a battery that drains
// through the day and the last sync), which the simulated Fitbit lists
// too.
func devicesFor(p *person.Person, pathUser string, now time.Time) []map[string]any {
	dev := p.Device()
	level := p.Battery(now)
	synced := p.LastSync(now)
	mac := make([]string, 0, 6)
	for i := 0; i+2 <= len(dev.MAC); i += 2 {
		mac = append(mac, dev.MAC[i:i+2])
	}
	return []map[string]any{{
		"name":          "users/" + pathUser + "/pairedDevices/" + dev.ID,
		"deviceType":    dev.Type,
		"deviceVersion": dev.Version,
		"batteryLevel":  level,
		"batteryStatus": person.BatteryStatus(level),
		"lastSyncTime":  timestamp(synced),
		"macAddress":    strings.Join(mac, ":"),
		"features":      []string{"STEPS", "DISTANCE", "ELEVATION", "CALORIES", "HEART_RATE", "SLEEP", "SMART_SLEEP", "SPO2", "ACTIVE_ZONE_MINUTES"},
	}}
}

// listPairedDevices is GET /v4/users/me/pairedDevices.
func (s *Server) listPairedDevices(w http.ResponseWriter, r *apiRequest, _ []string) {
	size, ok := pageSize(w, r.Request, defaultDevicePageSize, maxDevicePageSize)
	if !ok {
		return
	}
	devices := devicesFor(s.person(r.user), r.pathUser, s.now())
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
