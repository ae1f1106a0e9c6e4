package apierror

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

func TestWriteStatus(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteStatus(rec, Status{Code: 401, CodeName: "UNAUTHENTICATED", Message: "connect at /fitbit/authorize",
		Reason: "NOT_CONNECTED", Metadata: map[string]string{"connect_url": "/fitbit/authorize"}})
	if rec.Code != 401 || rec.Header().Get("Content-Type") != "application/json; charset=UTF-8" {
		t.Fatalf("status %d, type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	want := `{"error":{"code":401,"message":"connect at /fitbit/authorize","status":"UNAUTHENTICATED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"NOT_CONNECTED","domain":"caddy-fitbit.gateway","metadata":{"connect_url":"/fitbit/authorize"}}]}}`
	if rec.Body.String() != want {
		t.Fatalf("body %s", rec.Body)
	}
	// What the gateway writes, its own parser reads back.
	if it, ok := Parse(rec.Body.Bytes()); !ok || it.ErrorType != "UNAUTHENTICATED" {
		t.Fatalf("Parse = %+v, %v", it, ok)
	}
}

func TestMarshalStatusWithoutReason(t *testing.T) {
	var got map[string]map[string]any
	if err := json.Unmarshal(MarshalStatus(Status{Code: 503, CodeName: "UNAVAILABLE", Message: "m"}), &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["error"]["details"]; ok {
		t.Fatalf("details without a reason: %v", got)
	}
}
