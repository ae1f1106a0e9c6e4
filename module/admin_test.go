package module

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-fitbit/caddy-fitbit/internal/admintest"
)

// adminCaddy runs real Caddy with the given apps and returns its admin
// endpoint's base URL.
func adminCaddy(t *testing.T, apps map[string]any) string {
	return "http://" + admintest.Start(t, apps)
}

// adminCall makes one admin request and decodes its JSON answer into out
// (when not nil); it returns the status.
func adminCall(t *testing.T, method, url, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/x-ndjson") {
		t.Errorf("%s %s: Content-Type %q, body %q", method, url, ct, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %q: %v", method, url, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

func TestAdminRegistry(t *testing.T) {
	saved := adminRoutes
	t.Cleanup(func() { adminRoutes = saved })
	adminRoutes = append(adminRoutes[:len(adminRoutes):len(adminRoutes)], adminRoute{
		Method: "GET", Pattern: "/fitbit/test/{name}",
		Handle: func(app *App, w http.ResponseWriter, r *http.Request) error {
			if r.PathValue("name") == "fail" {
				return caddy.APIError{HTTPStatus: http.StatusConflict, Message: "it failed"}
			}
			return writeAdminJSON(w, http.StatusOK, map[string]string{"name": r.PathValue("name"), "default": app.state.defaultName})
		},
	})

	// No fitbit app: every route answers 503, in JSON.
	base := adminCaddy(t, map[string]any{})
	var apiErr struct{ Error string }
	if code := adminCall(t, "GET", base+"/fitbit/test/x", "", &apiErr); code != http.StatusServiceUnavailable || !strings.Contains(apiErr.Error, "no fitbit app is running") {
		t.Fatalf("without an app: %d %q", code, apiErr.Error)
	}

	base = adminCaddy(t, map[string]any{"fitbit": map[string]any{
		"client_id": "23ABCD", "client_secret": "secret", "redirect_uri": "https://gw.example/fitbit/callback",
		"encryption_keys": []string{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
	}})
	var got map[string]string
	if code := adminCall(t, "GET", base+"/fitbit/test/x", "", &got); code != http.StatusOK || got["name"] != "x" || got["default"] != "fitbit" {
		t.Fatalf("route: %d %v", code, got)
	}
	if code := adminCall(t, "GET", base+"/fitbit/test/fail", "", &apiErr); code != http.StatusConflict || apiErr.Error != "it failed" {
		t.Errorf("route error: %d %q", code, apiErr.Error)
	}
	if code := adminCall(t, "POST", base+"/fitbit/test/x", "", &apiErr); code != http.StatusMethodNotAllowed || !strings.Contains(apiErr.Error, "GET") {
		t.Errorf("wrong method: %d %q", code, apiErr.Error)
	}
	if code := adminCall(t, "GET", base+"/fitbit/nothing", "", &apiErr); code != http.StatusNotFound {
		t.Errorf("unknown path: %d %q", code, apiErr.Error)
	}

	// Caddy's admin security applies: a browser page of another origin is
	// refused before any route runs.
	req, _ := http.NewRequest("GET", base+"/fitbit/test/x", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a foreign Origin: %d", resp.StatusCode)
	}

	// After the config stops, the app is gone from the admin API.
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	if running.Load() != nil {
		t.Error("a stopped app is still served")
	}
}
