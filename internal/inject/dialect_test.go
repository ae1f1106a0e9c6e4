package inject

import (
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/certmagic"
	"google.golang.org/api/googleapi"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// googleTransport is a transport for a Google Health registration whose
// identities have no connection: every request is answered by the gateway.
func googleTransport(t *testing.T) *Transport {
	t.Helper()
	kr, err := tokenstore.NewKeyring([][]byte{make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	reg := provider.Registration{ClientID: "id", ClientSecret: "s", RedirectURL: "https://gw.example/fitbit/callback"}.
		WithDefaults(provider.GoogleHealth)
	mgr := tokens.New(tokens.Config{Provider: provider.NewClient(reg, nil),
		Store: storagestore.New(&certmagic.FileStorage{Path: t.TempDir()}, kr, "")})
	return &Transport{
		Base:       http.DefaultTransport,
		Tokens:     mgr,
		Provider:   mgr.Provider(),
		Identity:   func(*http.Request) string { return "alice" },
		ConnectURL: "https://gw.example/fitbit/authorize?provider=google_health",
	}
}

// A caller of the Google Health API's paths is answered in google.rpc.Status,
// which Google's own client library parses: its generated clients call
// googleapi.CheckResponse on every answer.
func TestGatewayErrorsOnV4PathsAreGoogleRPCStatus(t *testing.T) {
	tr := googleTransport(t)
	req, _ := http.NewRequest("GET", "https://health.googleapis.com/v4/users/me/profile", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	gerr, ok := googleapi.CheckResponse(resp).(*googleapi.Error)
	if !ok {
		t.Fatalf("the Google client did not read an error: %v", gerr)
	}
	if gerr.Code != http.StatusUnauthorized || strings.Contains(gerr.Message, "Fitbit") {
		t.Fatalf("code %d, message %q", gerr.Code, gerr.Message)
	}
	if !strings.Contains(string(gerr.Body), `"status":"UNAUTHENTICATED"`) {
		t.Fatalf("no UNAUTHENTICATED status: %s", gerr.Body)
	}
	var found bool
	for _, d := range gerr.Details {
		m, _ := d.(map[string]any)
		if m["@type"] != "type.googleapis.com/google.rpc.ErrorInfo" {
			continue
		}
		md, _ := m["metadata"].(map[string]any)
		found = m["reason"] == "NOT_CONNECTED" && m["domain"] == apierror.Domain && md["connect_url"] == tr.ConnectURL
	}
	if !found {
		t.Fatalf("no ErrorInfo with reason NOT_CONNECTED and the connect URL: %#v", gerr.Details)
	}
	if resp.Header.Get("WWW-Authenticate") == "" || resp.Header.Get("Link") == "" {
		t.Fatalf("the 401 lost its challenge or link: %v", resp.Header)
	}
}

// The path decides the dialect, not the registration: a Fitbit path gets
// Fitbit's envelope whichever provider answers it.
func TestGatewayErrorsOnFitbitPathsAreFitbitsEnvelope(t *testing.T) {
	tr := googleTransport(t)
	req, _ := http.NewRequest("GET", "https://health.googleapis.com/1/user/-/profile.json", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := readError(resp)
	it, ok := apierror.Parse(b)
	if !ok || it.ErrorType != apierror.NotConnected || !strings.Contains(string(b), `"success":false`) {
		t.Fatalf("not Fitbit's envelope: %s", b)
	}
}

func TestDialectCodeNames(t *testing.T) {
	for status, want := range map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
		408: "DEADLINE_EXCEEDED", 410: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE",
		504: "DEADLINE_EXCEEDED", 500: "INTERNAL"} {
		if got := apierror.CodeName(status); got != want {
			t.Errorf("CodeName(%d) = %s, want %s", status, got, want)
		}
	}
}
