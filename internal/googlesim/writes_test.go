package googlesim

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/api/googleapi"
	health "google.golang.org/api/health/v4"
)

func weightPoint(at string, grams float64) *health.DataPoint {
	return &health.DataPoint{Weight: &health.Weight{
		SampleTime:  &health.ObservationSampleTime{PhysicalTime: at, UtcOffset: "3600s"},
		WeightGrams: grams,
	}}
}

// listAt lists typ's points sampled in [from, to) and checks the answer
// against the discovery document.
func listAt(t *testing.T, d *discovery, svc *health.Service, c *capture, typ, field, from, to string) []*health.DataPoint {
	t.Helper()
	filter := field + `.sample_time.physical_time >= "` + from + `" AND ` + field + `.sample_time.physical_time < "` + to + `"`
	resp, err := svc.Users.DataTypes.DataPoints.List("users/me/dataTypes/" + typ).Filter(filter).Do()
	if err != nil {
		t.Fatalf("list %s: %v", typ, err)
	}
	strict(t, d, "list "+typ, c.last(), &health.ListDataPointsResponse{})
	return resp.DataPoints
}

func TestCreateAndBatchDelete(t *testing.T) {
	d := loadDiscovery(t)
	s, _ := start(t, Config{}) // the clock is 2026-11-20 10:15 UTC
	svc, c := healthClient(t, s, s.MintTokens("u1", AreaMetrics+".readonly", AreaMetrics+".writeonly").AccessToken)
	dps := svc.Users.DataTypes.DataPoints

	// Create a weight: a done Operation whose response is the DataPoint.
	op, err := dps.Create("users/me/dataTypes/weight", weightPoint("2026-11-20T06:30:00Z", 71234.5)).Do()
	if err != nil {
		t.Fatal(err)
	}
	strict(t, d, "create weight", c.last(), &health.Operation{})
	var created struct {
		Type       string `json:"@type"`
		Name       string
		DataSource health.DataSource
		Weight     health.Weight
	}
	if err := json.Unmarshal(op.Response, &created); err != nil || !op.Done || !strings.HasPrefix(op.Name, "operations/") ||
		created.Type != "type.googleapis.com/google.devicesandservices.health.v4.DataPoint" ||
		!strings.HasPrefix(created.Name, "users/u1/dataTypes/weight/dataPoints/") || created.Weight.WeightGrams != 71234.5 ||
		created.DataSource.RecordingMethod != "MANUAL" || created.DataSource.Platform != "GOOGLE_WEB_API" {
		t.Fatalf("operation %+v %s %v", op, op.Response, err)
	}
	var anyDP map[string]json.RawMessage
	_ = json.Unmarshal(op.Response, &anyDP)
	delete(anyDP, "@type")
	b, _ := json.Marshal(anyDP)
	strict(t, d, "created DataPoint", b, &health.DataPoint{})
	// A client-provided id, and a body fat.
	named := weightPoint("2026-11-19T21:00:00Z", 70100)
	named.Name = "users/me/dataTypes/weight/dataPoints/evening-log"
	if _, err := dps.Create("users/me/dataTypes/weight", named).Do(); err != nil {
		t.Fatal(err)
	}
	fat := &health.DataPoint{BodyFat: &health.BodyFat{
		SampleTime: &health.ObservationSampleTime{PhysicalTime: "2026-11-20T06:31:00Z", UtcOffset: "0s"}, Percentage: 21.4}}
	if _, err := dps.Create("users/me/dataTypes/body-fat", fat).Do(); err != nil {
		t.Fatal(err)
	}

	// Later lists carry them, newest first among the generated points.
	weights := listAt(t, d, svc, c, "weight", "weight", "2026-11-13T00:00:00Z", "2026-11-21T00:00:00Z")
	var names []string
	for i, p := range weights {
		names = append(names, p.Name)
		if i > 0 && p.Weight.SampleTime.PhysicalTime > weights[i-1].Weight.SampleTime.PhysicalTime {
			t.Fatalf("not newest first: %v", names)
		}
	}
	if !containsName(weights, created.Name) || !containsName(weights, "users/u1/dataTypes/weight/dataPoints/evening-log") {
		t.Fatalf("created weights missing: %v", names)
	}
	fats := listAt(t, d, svc, c, "body-fat", "body_fat", "2026-11-20T06:31:00Z", "2026-11-20T06:32:00Z")
	if len(fats) != 1 || fats[0].BodyFat.Percentage != 21.4 {
		t.Fatalf("body fat %+v", fats)
	}
	// Another user does not see them.
	other, oc := healthClient(t, s, s.MintTokens("u2", AreaMetrics+".readonly").AccessToken)
	if w := listAt(t, d, other, oc, "weight", "weight", "2026-11-20T06:30:00Z", "2026-11-20T06:31:00Z"); len(w) != 0 {
		t.Fatalf("u2 sees %+v", w)
	}

	// batchDelete removes created and generated points alike.
	var generated string
	for _, p := range weights {
		if !strings.HasPrefix(p.DataSource.Platform, "GOOGLE_WEB_API") {
			generated = p.Name
		}
	}
	if generated == "" {
		t.Fatal("no generated weight in the two days")
	}
	del := &health.BatchDeleteDataPointsRequest{Names: []string{created.Name, generated}}
	if op, err := dps.BatchDelete("users/me/dataTypes/weight", del).Do(); err != nil || !op.Done {
		t.Fatalf("batchDelete %+v %v", op, err)
	}
	strict(t, d, "batchDelete", c.last(), &health.Operation{})
	after := listAt(t, d, svc, c, "weight", "weight", "2026-11-13T00:00:00Z", "2026-11-21T00:00:00Z")
	if len(after) != len(weights)-2 || containsName(after, created.Name) || containsName(after, generated) {
		t.Fatalf("after delete %d of %d", len(after), len(weights))
	}
	// Atomic: a gone name fails the batch with 404 and deletes nothing;
	// the parent "-" takes names of any writable type.
	_, err = dps.BatchDelete("users/me/dataTypes/-", &health.BatchDeleteDataPointsRequest{
		Names: []string{"users/me/dataTypes/body-fat/dataPoints/" + strings.TrimPrefix(fats[0].Name, "users/u1/dataTypes/body-fat/dataPoints/"), created.Name}}).Do()
	wantGoogleError(t, err, c, http.StatusNotFound, "NOT_FOUND")
	if f := listAt(t, d, svc, c, "body-fat", "body_fat", "2026-11-20T06:31:00Z", "2026-11-20T06:32:00Z"); len(f) != 1 {
		t.Fatal("a failed batch deleted a point")
	}
	if _, err := dps.BatchDelete("users/me/dataTypes/-", &health.BatchDeleteDataPointsRequest{Names: []string{fats[0].Name}}).Do(); err != nil {
		t.Fatal(err)
	}

	// Google's errors for bad input.
	bad := func(what string, typ string, p *health.DataPoint, code int, status string) {
		t.Helper()
		_, err := dps.Create("users/me/dataTypes/"+typ, p).Do()
		if err == nil {
			t.Fatalf("%s: accepted", what)
		}
		wantGoogleError(t, err, c, code, status)
	}
	bad("negative weight", "weight", weightPoint("2026-11-20T06:00:00Z", -1), 400, "INVALID_ARGUMENT")
	bad("future", "weight", weightPoint("2026-11-21T06:00:00Z", 70000), 400, "INVALID_ARGUMENT")
	bad("bad time", "weight", weightPoint("yesterday", 70000), 400, "INVALID_ARGUMENT")
	bad("no offset", "weight", &health.DataPoint{Weight: &health.Weight{
		SampleTime: &health.ObservationSampleTime{PhysicalTime: "2026-11-20T06:00:00Z"}, WeightGrams: 1}}, 400, "INVALID_ARGUMENT")
	bad("body fat under weight", "weight", fat, 400, "INVALID_ARGUMENT")
	bad("steps", "steps", weightPoint("2026-11-20T06:00:00Z", 70000), 403, "PERMISSION_DENIED") // no activity scope
	bad("duplicate id", "weight", named, 409, "ALREADY_EXISTS")
	bad("bad id", "weight", &health.DataPoint{Name: "users/me/dataTypes/weight/dataPoints/NO", Weight: named.Weight}, 400, "INVALID_ARGUMENT")
	bad("foreign user", "weight", &health.DataPoint{Name: "users/u2/dataTypes/weight/dataPoints/evening-log", Weight: named.Weight}, 400, "INVALID_ARGUMENT")
	for _, names := range [][]string{nil, {"users/me/dataTypes/body-fat/dataPoints/x"}, {"nonsense"}} {
		_, err := dps.BatchDelete("users/me/dataTypes/weight", &health.BatchDeleteDataPointsRequest{Names: names}).Do()
		wantGoogleError(t, err, c, 400, "INVALID_ARGUMENT")
	}

	// Without the write scope: 403 naming the .writeonly scope.
	ro, rc := healthClient(t, s, s.MintTokens("u1", AreaMetrics+".readonly").AccessToken)
	_, err = ro.Users.DataTypes.DataPoints.Create("users/me/dataTypes/weight", weightPoint("2026-11-20T06:00:00Z", 70000)).Do()
	det := wantGoogleError(t, err, rc, http.StatusForbidden, "PERMISSION_DENIED")
	var ge *googleapi.Error
	if len(det) != 1 || det[0].Reason != "ACCESS_TOKEN_SCOPE_INSUFFICIENT" || det[0].Metadata["method"] != rpcPrefix+"DataPointsService.CreateDataPoint" ||
		!errors.As(err, &ge) || !strings.Contains(ge.Header.Get("WWW-Authenticate"), `scope="`+ScopeURL(AreaMetrics, true)+`"`) {
		t.Fatalf("no write scope: %+v %v", det, err)
	}
	_, err = ro.Users.DataTypes.DataPoints.BatchDelete("users/me/dataTypes/weight", &health.BatchDeleteDataPointsRequest{Names: []string{named.Name}}).Do()
	wantGoogleError(t, err, rc, http.StatusForbidden, "PERMISSION_DENIED")
}

func containsName(pts []*health.DataPoint, name string) bool {
	for _, p := range pts {
		if p.Name == name {
			return true
		}
	}
	return false
}
