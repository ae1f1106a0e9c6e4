package googlesim

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

func TestPairedDevices(t *testing.T) {
	s, clk := start(t, Config{})
	svc, c := healthClient(t, s, s.MintTokens("u1", AreaSettings+".readonly").AccessToken)

	resp, err := svc.Users.PairedDevices.List("users/me").Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.PairedDevices) != 1 || resp.NextPageToken != "" {
		t.Fatalf("devices %+v", resp)
	}
	d := resp.PairedDevices[0]
	synced, err := time.Parse(time.RFC3339, d.LastSyncTime)
	if d.DeviceType != "TRACKER" || d.BatteryLevel < 5 || d.BatteryLevel > 100 || d.BatteryStatus != person.BatteryStatus(int(d.BatteryLevel)) ||
		err != nil || synced.After(clk.Now()) || !synced.Equal(person.New("u1").LastSync(clk.Now())) || d.DeviceVersion == "" ||
		len(d.Name) < len("users/me/pairedDevices/1") || d.Name[:len("users/me/pairedDevices/")] != "users/me/pairedDevices/" {
		t.Fatalf("device %+v", d)
	}
	// The synthetic person's tracker.
	if dev := person.New("u1").Device(); d.Name != "users/me/pairedDevices/"+dev.ID || d.DeviceVersion != dev.Version ||
		strings.ReplaceAll(d.MacAddress, ":", "") != dev.MAC || int(d.BatteryLevel) != person.New("u1").Battery(clk.Now()) {
		t.Fatalf("device %+v, person's %+v", d, dev)
	}
	// Deterministic per user; the user's own id names it under that id.
	again, err := svc.Users.PairedDevices.List("users/u1").PageSize(1).Do()
	if err != nil || len(again.PairedDevices) != 1 || again.PairedDevices[0].BatteryLevel != d.BatteryLevel ||
		again.PairedDevices[0].Name != "users/u1"+d.Name[len("users/me"):] {
		t.Fatalf("again %+v %v", again, err)
	}
	other, _ := healthClient(t, s, s.MintTokens("u2", AreaSettings+".readonly").AccessToken)
	if o, err := other.Users.PairedDevices.List("users/me").Do(); err != nil || o.PairedDevices[0].Name == d.Name {
		t.Fatalf("another user's device %+v %v", o, err)
	}

	// Google's errors for bad input, a foreign page token and a missing
	// settings scope.
	_, err = svc.Users.PairedDevices.List("users/me").PageSize(-1).Do()
	wantGoogleError(t, err, c, http.StatusBadRequest, "INVALID_ARGUMENT")
	_, err = svc.Users.PairedDevices.List("users/me").PageToken(encodePageToken(pageToken{Offset: 1, Query: queryHash("steps", "")})).Do()
	wantGoogleError(t, err, c, http.StatusBadRequest, "INVALID_ARGUMENT")
	_, err = svc.Users.PairedDevices.List("users/someone-else").Do()
	wantGoogleError(t, err, c, http.StatusForbidden, "PERMISSION_DENIED")
	noScope, c2 := healthClient(t, s, s.MintTokens("u1", AreaActivity+".readonly").AccessToken)
	_, err = noScope.Users.PairedDevices.List("users/me").Do()
	if det := wantGoogleError(t, err, c2, http.StatusForbidden, "PERMISSION_DENIED"); len(det) != 1 ||
		det[0].Reason != "ACCESS_TOKEN_SCOPE_INSUFFICIENT" || det[0].Metadata["method"] != rpcPrefix+"PairedDevicesService.ListPairedDevices" {
		t.Fatalf("details %+v", det)
	}
}

func TestPagingHelpers(t *testing.T) {
	items := []int{1, 2, 3, 4, 5}
	got, next := page(items, 0, 2, "x", "f")
	if len(got) != 2 || next == "" {
		t.Fatalf("%v %q", got, next)
	}
	tok, ok := decodePageToken(next)
	if !ok || tok.Offset != 2 || tok.Query != queryHash("x", "f") {
		t.Fatalf("token %+v", tok)
	}
	if got, next = page(items, 4, 2, "x", "f"); len(got) != 1 || next != "" {
		t.Fatalf("last %v %q", got, next)
	}
	if got, next = page(items, 9, 2, "x", "f"); got != nil || next != "" {
		t.Fatalf("past the end %v %q", got, next)
	}
}
