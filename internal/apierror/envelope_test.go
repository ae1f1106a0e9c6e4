package apierror

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-fitbit/caddy-fitbit/internal/redact"
)

const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiIyM1hYWFgiLCJzdWIiOiIyMkI3TkYiLCJpc3MiOiJGaXRiaXQifQ.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"

func TestParseFitbitEnvelope(t *testing.T) {
	body := `{"errors":[{"errorType":"expired_token","message":"Access token expired: ` + jwt + `. Visit https://dev.fitbit.com/docs/oauth2 for more information on the Fitbit Web API authorization process."}],"success":false}`
	it, ok := Parse([]byte(body))
	if !ok || it.ErrorType != ExpiredToken {
		t.Fatalf("Parse = %+v, %v", it, ok)
	}
	s := redact.Scrub(it.Message)
	if strings.Contains(s, "eyJ") || strings.Contains(s, "c2ln") {
		t.Fatalf("token left in %q", s)
	}
	if !strings.Contains(s, "https://dev.fitbit.com/docs/oauth2") {
		t.Fatalf("documentation link lost: %q", s)
	}
}

func TestParseGoogleEnvelope(t *testing.T) {
	it, ok := Parse([]byte(`{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}`))
	if !ok || it.ErrorType != "RESOURCE_EXHAUSTED" {
		t.Fatalf("Parse = %+v, %v", it, ok)
	}
}

func TestParseRejectsOtherBodies(t *testing.T) {
	for _, b := range []string{"", "null", "{}", `{"errors":[]}`, `{"errors":[{"message":"x"}]}`, "<html>", `{"error":"invalid_grant"}`} {
		if it, ok := Parse([]byte(b)); ok {
			t.Errorf("Parse(%q) = %+v, want not ok", b, it)
		}
	}
}

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	Write(rec, 401, Item{ErrorType: NotConnected, Message: "connect at /fitbit/authorize"})
	if rec.Code != 401 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("status %d, type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	want := `{"errors":[{"errorType":"not_connected","message":"connect at /fitbit/authorize"}],"success":false}`
	if rec.Body.String() != want {
		t.Fatalf("body %s", rec.Body)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"errors":[{"errorType":"expired_token","message":"Access token expired: abc"}],"success":false}`))
	f.Add([]byte(`{"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED"}}`))
	f.Add([]byte(`{"errors":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		it, ok := Parse(b)
		if ok && it.ErrorType == "" {
			t.Fatal("ok with empty errorType")
		}
		_ = redact.Scrub(it.Message)
	})
}
