package module

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-fitbit/caddy-fitbit/internal/admintest"
	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// googleAdmin runs real Caddy with a fitbit app whose only registration is
// Google Health, at the simulated Google, and returns the admin endpoint.
func googleAdmin(t *testing.T) (string, *googlesim.Server) {
	t.Helper()
	sim, err := googlesim.Start(googlesim.Config{RateLimitPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	base := adminCaddy(t, map[string]any{"fitbit": admintest.GoogleHealthApp(sim)})
	return base, sim
}

// importLines posts an import and returns its result lines and summary.
func importLines(t *testing.T, url, body string) ([]ImportResult, ImportSummary, string) {
	t.Helper()
	resp, err := http.Post(url, "application/x-ndjson", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("import: %d %s", resp.StatusCode, raw)
	}
	var results []ImportResult
	var sum ImportSummary
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"summary":true`) {
			if err := json.Unmarshal(sc.Bytes(), &sum); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var r ImportResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("result line %q: %v", sc.Text(), err)
		}
		results = append(results, r)
	}
	return results, sum, string(raw)
}

func TestAdminImportAndConnections(t *testing.T) {
	base, sim := googleAdmin(t)
	tr := sim.MintTokens(googlesim.DefaultUserID)
	good := `{"identity":"alice","provider":"google_health","refresh_token":"` + tr.RefreshToken + `","user_id":"` + googlesim.DefaultUserID + `"}`
	body := good + "\n" +
		"\n" + // blank lines are skipped
		`{"identity":"bob","refresh_token":"not-a-token-at-all"}` + "\n" +
		`{"identity":"carol","refresh_token":"` + strings.Repeat("x", MaxImportLine) + `"}` + "\n" +
		`{"identity":"dave","refresh_token":"r","secret":"s3cr3t"}` + "\n" +
		`{"identity":"erin","refresh_token":"` + tr.RefreshToken + `",` + "\n"
	hash := tokenstore.IdentityHash("alice")

	// A dry run checks the good token and stores nothing.
	res, sum, raw := importLines(t, base+"/fitbit/import?dry_run=true", body)
	if len(res) != 5 || sum.Lines != 5 || sum.OK != 1 || sum.Failed != 4 || !sum.DryRun {
		t.Fatalf("dry run: %s", raw)
	}
	if res[0].Status != "ok" || res[0].IdentityHash != hash || res[0].Provider != "google_health" || res[0].Line != 1 {
		t.Errorf("dry run, good line: %+v", res[0])
	}
	for i, want := range []string{"invalid_grant", "longer than", "unknown field", "complete JSON"} {
		if r := res[i+1]; r.Status != "failed" || !strings.Contains(r.Reason, want) {
			t.Errorf("dry run, line %d: %+v, want a reason with %q", r.Line, r, want)
		}
	}
	if res[1].Line != 3 {
		t.Errorf("line numbers count blank lines: %+v", res[1])
	}
	for _, secret := range []string{tr.RefreshToken, "not-a-token-at-all", "s3cr3t", "alice"} {
		if strings.Contains(raw, secret) {
			t.Errorf("the answer shows %q: %s", secret, raw)
		}
	}
	var apiErr struct{ Error string }
	if code := adminCall(t, "GET", base+"/fitbit/connections/google_health/"+hash, "", &apiErr); code != http.StatusNotFound {
		t.Fatalf("a dry run stored: %d %q", code, apiErr.Error)
	}

	refreshes := sim.Stats().Refreshes
	res, sum, raw = importLines(t, base+"/fitbit/import", good+"\n")
	if sum.OK != 1 || res[0].UserID != googlesim.DefaultUserID || sim.Stats().Refreshes != refreshes+1 {
		t.Fatalf("import: %s", raw)
	}
	res, _, _ = importLines(t, base+"/fitbit/import", good+"\n")
	if res[0].Status != "failed" || !strings.Contains(res[0].Reason, "already") {
		t.Fatalf("import over a connection: %+v", res[0])
	}
	if res, _, _ = importLines(t, base+"/fitbit/import?replace=true", good+"\n"); res[0].Status != "ok" {
		t.Fatalf("import with replace: %+v", res[0])
	}

	// The connection, by hash and by identity; never a token.
	var view connectionView
	code, rawView := adminRaw(t, "GET", base+"/fitbit/connections/google_health/"+hash, "", &view)
	if code != http.StatusOK || view.IdentityHash != hash || view.UserID != googlesim.DefaultUserID || view.Health != "ok" ||
		view.ConnectedAt.IsZero() || view.RefreshedAt.IsZero() || len(view.Scopes) == 0 {
		t.Fatalf("connection: %d %s", code, rawView)
	}
	if strings.Contains(rawView, "token\"") || strings.Contains(rawView, tr.RefreshToken) {
		t.Errorf("the connection shows a token: %s", rawView)
	}
	var found lookupView
	if code := adminCall(t, "POST", base+"/fitbit/connections/lookup", `{"identity":"alice"}`, &found); code != http.StatusOK ||
		found.IdentityHash != hash || len(found.Connections) != 1 || found.Connections[0].Provider != "google_health" {
		t.Fatalf("lookup: %d %+v", code, found)
	}
	if code := adminCall(t, "GET", base+"/fitbit/connections/google_health/alice", "", &apiErr); code != http.StatusBadRequest {
		t.Errorf("an identity in the path: %d %q", code, apiErr.Error)
	}
	if code := adminCall(t, "GET", base+"/fitbit/connections/nope/"+hash, "", &apiErr); code != http.StatusNotFound {
		t.Errorf("an unknown provider: %d %q", code, apiErr.Error)
	}

	// A forced refresh goes to the provider once, and is stored.
	refreshes = sim.Stats().Refreshes
	var after connectionView
	if code := adminCall(t, "POST", base+"/fitbit/connections/google_health/"+hash+"/refresh", "", &after); code != http.StatusOK ||
		!after.RefreshedAt.After(view.RefreshedAt) && !after.AccessTokenExpiry.After(view.AccessTokenExpiry) || sim.Stats().Refreshes != refreshes+1 {
		t.Fatalf("refresh: %d %+v (before %+v)", code, after, view)
	}

	// Listing, a page at a time; those needing re-authorization.
	other := sim.MintTokens("other-user")
	if res, _, raw := importLines(t, base+"/fitbit/import", `{"identity":"bob","refresh_token":"`+other.RefreshToken+`","user_id":"other-user"}`+"\n"); res[0].Status != "ok" {
		t.Fatalf("import bob: %s", raw)
	}
	var page connectionPage
	if code := adminCall(t, "GET", base+"/fitbit/connections?limit=1", "", &page); code != http.StatusOK || len(page.Connections) != 1 || page.Next == "" || page.Connections[0].KeyID == "" {
		t.Fatalf("first page: %d %+v", code, page)
	}
	first := page.Connections[0].IdentityHash
	if code := adminCall(t, "GET", base+"/fitbit/connections?limit=1&after="+page.Next, "", &page); code != http.StatusOK || len(page.Connections) != 1 || page.Connections[0].IdentityHash == first {
		t.Fatalf("second page: %d %+v", code, page)
	}
	if code := adminCall(t, "GET", base+"/fitbit/connections?health=needs_reauth", "", &page); code != http.StatusOK || len(page.Connections) != 0 {
		t.Fatalf("needs_reauth before: %d %+v", code, page)
	}
	sim.RevokeUser("other-user")
	bob := tokenstore.IdentityHash("bob")
	if code := adminCall(t, "POST", base+"/fitbit/connections/google_health/"+bob+"/refresh", "", &apiErr); code != http.StatusConflict {
		t.Fatalf("refresh of a revoked grant: %d %q", code, apiErr.Error)
	}
	if code := adminCall(t, "GET", base+"/fitbit/connections?health=needs_reauth&provider=google_health", "", &page); code != http.StatusOK ||
		len(page.Connections) != 1 || page.Connections[0].IdentityHash != bob || page.Connections[0].Health != "needs_reauth" {
		t.Fatalf("needs_reauth after: %d %+v", code, page)
	}
	if code := adminCall(t, "GET", base+"/fitbit/connections?limit=-1", "", &apiErr); code != http.StatusBadRequest {
		t.Errorf("a bad limit: %d %q", code, apiErr.Error)
	}

	var tokensOf identityTokensView
	if code := adminCall(t, "GET", base+"/fitbit/identities/"+hash+"/tokens", "", &tokensOf); code != http.StatusOK ||
		tokensOf.OAuth1 == nil || tokensOf.OAuth2 == nil || len(tokensOf.OAuth1)+len(tokensOf.OAuth2) != 0 {
		t.Fatalf("identity tokens: %d %+v", code, tokensOf)
	}
	if code := adminCall(t, "DELETE", base+"/fitbit/identities/"+hash+"/tokens/oauth2/abc", "", &apiErr); code != http.StatusNotFound {
		t.Errorf("revoking no grant: %d %q", code, apiErr.Error)
	}

	// Disconnect revokes at the provider and says so.
	var d disconnectView
	if code := adminCall(t, "DELETE", base+"/fitbit/connections/google_health/"+hash, "", &d); code != http.StatusOK || !d.Existed || !d.Revoked {
		t.Fatalf("disconnect: %d %+v", code, d)
	}
	if sim.LiveRefreshTokens(googlesim.DefaultUserID) != 0 {
		t.Errorf("the provider still has live refresh tokens")
	}
	if code := adminCall(t, "GET", base+"/fitbit/connections/google_health/"+hash, "", &apiErr); code != http.StatusNotFound {
		t.Errorf("after disconnect: %d %q", code, apiErr.Error)
	}
	if code := adminCall(t, "POST", base+"/fitbit/connections/google_health/"+hash+"/refresh", "", &apiErr); code != http.StatusNotFound {
		t.Errorf("refresh after disconnect: %d %q", code, apiErr.Error)
	}
}

// adminRaw is adminCall that also returns the raw answer.
func adminRaw(t *testing.T, method, url, body string, out any) (int, string) {
	t.Helper()
	var raw json.RawMessage
	code := adminCall(t, method, url, body, &raw)
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatal(err)
	}
	return code, string(raw)
}
