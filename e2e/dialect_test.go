package e2e

import (
	"errors"
	"io"
	"strings"
	"testing"

	"google.golang.org/api/googleapi"
)

// Through real Caddy, a caller of the Google Health API's paths that the
// gateway must refuse gets google.rpc.Status, read by Google's own client
// library (the generated clients call googleapi.CheckResponse), while a
// caller of Fitbit's paths gets Fitbit's envelope.
func TestGatewayErrorsSpeakTheCallersAPI(t *testing.T) {
	b := newBridge(t)
	resp, body := b.do(b.app("alice"), "GET", "/v4/users/me/profile", nil, nil)
	resp.Body = io.NopCloser(strings.NewReader(body))
	var gerr *googleapi.Error
	if !errors.As(googleapi.CheckResponse(resp), &gerr) {
		t.Fatalf("/v4/ not-connected answer is not a Google API error: %d %s", resp.StatusCode, body)
	}
	if gerr.Code != 401 || strings.Contains(gerr.Message, "Fitbit") || !strings.Contains(body, `"status":"UNAUTHENTICATED"`) {
		t.Fatalf("google error: code %d, message %q, body %s", gerr.Code, gerr.Message, body)
	}
	var reason, connectURL any
	for _, d := range gerr.Details {
		if m, ok := d.(map[string]any); ok && m["@type"] == "type.googleapis.com/google.rpc.ErrorInfo" {
			md, _ := m["metadata"].(map[string]any)
			reason, connectURL = m["reason"], md["connect_url"]
		}
	}
	if reason != "NOT_CONNECTED" || !strings.Contains(connectURL.(string), "/fitbit/authorize?provider=google_health") {
		t.Fatalf("ErrorInfo: reason %v, connect_url %v (%s)", reason, connectURL, body)
	}

	code, m := b.get("alice", "/1/user/-/profile.json")
	if code != 401 || errorType(m) != "not_connected" || m["success"] != false {
		t.Fatalf("/1/ not-connected answer is not Fitbit's envelope: %d %v", code, m)
	}
}
