package module

import (
	"encoding/json"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// The top-level registration is an embedded ProviderConfig, yet apps.fitbit
// stays flat: client_id and endpoints beside encryption_keys, as before the
// embedding, and a providers entry carries its preset beside its own fields.
func TestAppJSONRoundTripsFlat(t *testing.T) {
	const in = `{"client_id":"{env.FITBIT_CLIENT_ID}","client_secret":"{env.FITBIT_CLIENT_SECRET}","app_type":"server",` +
		`"scopes":["profile","sleep"],"redirect_uri":"https://gw.example/fitbit/callback",` +
		`"endpoints":{"api_base":"https://api.fitbit.example"},"encryption_keys":["{env.FITBIT_ENCRYPTION_KEY}"],` +
		`"connect_url":"/fitbit/authorize","providers":{"google_health":{"preset":"google_health",` +
		`"client_id":"g-id","redirect_uri":"https://gw.example/fitbit/callback"}}}`
	var a App
	if err := caddy.StrictUnmarshalJSON([]byte(in), &a); err != nil {
		t.Fatal(err)
	}
	if a.ClientID != "{env.FITBIT_CLIENT_ID}" || a.Endpoints.APIBase != "https://api.fitbit.example" ||
		a.Providers["google_health"].Preset != "google_health" || a.Providers["google_health"].ClientID != "g-id" {
		t.Fatalf("decoded %+v", a)
	}
	out, err := json.Marshal(&a)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Fatalf("round trip:\n got %s\nwant %s", out, in)
	}
	// No "preset" at the top level: that registration is always Fitbit's.
	if err := caddy.StrictUnmarshalJSON([]byte(`{"preset":"google_health"}`), new(App)); err == nil {
		t.Fatal("a top-level preset was accepted")
	}
}
