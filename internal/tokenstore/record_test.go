package tokenstore

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	secretAccess  = "ACCESS-eyJhbGciOiJIUzI1NiJ9.secret-access-token-value"
	secretRefresh = "REFRESH-4f1a9c0e7d2b3a5968e1f0c2d4b6a8e9-secret-refresh"
)

func sampleRecord(identity string) *Record {
	t0 := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	return &Record{
		Provider:     "fitbit",
		IdentityHash: IdentityHash(identity),
		UserID:       "ABC123",
		Scopes:       []string{"activity", "heartrate", "profile"},
		AccessToken:  secretAccess,
		RefreshToken: secretRefresh,
		TokenType:    "Bearer",
		Expiry:       t0.Add(8 * time.Hour),
		Status:       StatusOK,
		ConnectedAt:  t0,
		RefreshedAt:  t0.Add(time.Hour),
		Extra:        map[string]string{"healthUserId": "hu-1"},
	}
}

func TestRecordJSONRoundTrip(t *testing.T) {
	rec := sampleRecord("alice")
	rec.Version = 7
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var got Record
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, rec) {
		t.Fatalf("round trip mismatch:\n got %s\nwant %s", b, mustJSON(rec))
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestRecordClone(t *testing.T) {
	rec := sampleRecord("alice")
	c := rec.Clone()
	c.Scopes[0] = "changed"
	c.Extra["healthUserId"] = "changed"
	if rec.Scopes[0] != "activity" || rec.Extra["healthUserId"] != "hu-1" {
		t.Fatal("Clone shares slices or maps")
	}
	if (*Record)(nil).Clone() != nil {
		t.Fatal("nil Clone")
	}
}

func TestFormattingNeverPrintsSecrets(t *testing.T) {
	rec := sampleRecord("alice@example.com")
	p := &Pending{State: "state-0123456789abcdef-secret", Provider: "fitbit", Identity: "alice@example.com",
		Verifier: "verifier-secret-0123456789abcdefghijklmnopqrstuvwxyz", BrowserHash: "browserhash-secret",
		RedirectURI: "https://gw.example/fitbit/callback", Expires: time.Now().Add(time.Minute)}
	type wrapper struct {
		R Record
		P *Pending
	}
	values := []any{rec, *rec, []*Record{rec}, []Record{*rec}, map[string]*Record{"a": rec}, wrapper{*rec, p}, p, *p}
	secrets := []string{secretAccess, secretRefresh, p.State, p.Verifier, p.Identity, p.BrowserHash}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			out := fmt.Sprintf(verb, v)
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("fmt %s of %T printed a secret: %s", verb, v, out)
				}
			}
		}
	}
	if out := fmt.Sprint(rec); !strings.Contains(out, "ABC123") || !strings.Contains(out, "[REDACTED]") {
		t.Errorf("summary lacks useful fields: %s", out)
	}
	red := rec.Redacted()
	if out := fmt.Sprintf("%#v", red); strings.Contains(out, secretAccess) || strings.Contains(out, secretRefresh) || strings.Contains(out, "hu-1") {
		t.Errorf("Redacted leaks: %s", out)
	}
	if red["has_refresh_token"] != true || red["version"] != uint64(0) {
		t.Errorf("Redacted: %v", red)
	}
	if (*Record)(nil).Redacted() != nil {
		t.Error("nil Redacted")
	}
	var nilRec *Record
	if out := fmt.Sprintf("%v", nilRec); out != "<nil>" {
		t.Errorf("nil record prints %q", out)
	}
}

func TestValidateProvider(t *testing.T) {
	for _, ok := range []string{"fitbit", "google_health", "a", "x-1", strings.Repeat("a", 32)} {
		if err := ValidateProvider(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Fitbit", "../x", "a/b", "a.b", "fit bit", strings.Repeat("a", 33), "fitbit\x00"} {
		if err := ValidateProvider(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestIdentityHash(t *testing.T) {
	h := IdentityHash("alice")
	if !IsIdentityHash(h) || h == IdentityHash("alice ") || h != IdentityHash("alice") {
		t.Fatalf("IdentityHash: %s", h)
	}
	if strings.Contains(h, "alice") {
		t.Fatal("hash contains identity")
	}
}
