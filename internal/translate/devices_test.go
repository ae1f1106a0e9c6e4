package translate

import (
	"regexp"
	"testing"
)

// TestDevicesFromSimulatedGoogle: devices.json from pairedDevices, in
// Fitbit's shape, with the last sync in the user's local time.
func TestDevicesFromSimulatedGoogle(t *testing.T) {
	e, _ := startEngine(t)
	a := serve(t, e, "/1/user/-/devices.json", Metric)
	list, ok := a.Body.([]map[string]any)
	if !ok || len(list) != 1 {
		t.Fatalf("devices: %#v", a.Body)
	}
	d := list[0]
	if d["type"] != "TRACKER" || d["deviceVersion"] == "" || d["battery"] == "" {
		t.Errorf("device: %v", d)
	}
	if lvl, ok := d["batteryLevel"].(int64); !ok || lvl < 0 || lvl > 100 {
		t.Errorf("batteryLevel %v", d["batteryLevel"])
	}
	if !regexp.MustCompile(`^[0-9A-F]{12}$`).MatchString(d["mac"].(string)) {
		t.Errorf("mac %q", d["mac"])
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000$`).MatchString(d["lastSyncTime"].(string)) {
		t.Errorf("lastSyncTime %q", d["lastSyncTime"])
	}
	if id, _ := d["id"].(string); id == "" || regexp.MustCompile(`/`).MatchString(id) {
		t.Errorf("id %q", id)
	}
	if a.GoogleCalls != 2 {
		t.Errorf("%d Google calls, want 2 (settings, pairedDevices)", a.GoogleCalls)
	}
}
