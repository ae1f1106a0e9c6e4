package googlesim

// The simulator against Google's own description of the API: the discovery
// document health/v4/health-api.json and the client generated from it,
// google.golang.org/api/health/v4 (the module version is go.mod's). Each
// served method is called with the generated client, each answer decoded
// strictly into the generated type (an unknown field fails), and every
// value of a field the document gives an enum for is checked against it.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/googleapi"
	health "google.golang.org/api/health/v4"
	"google.golang.org/api/option"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// capture keeps the last answer's body, so the test can decode it again
// strictly: the generated client's own decoding ignores unknown fields.
type capture struct {
	base  http.RoundTripper
	token string
	mu    sync.Mutex
	body  []byte
}

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.body = b
	c.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

func (c *capture) last() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.body
}

// healthClient is the generated client talking to s with tok, and the
// capture of its answers.
func healthClient(t *testing.T, s *Server, tok string) (*health.Service, *capture) {
	t.Helper()
	c := &capture{base: http.DefaultTransport, token: tok}
	svc, err := health.NewService(context.Background(), option.WithHTTPClient(&http.Client{Transport: c}), option.WithEndpoint(s.APIBase()+"/"))
	if err != nil {
		t.Fatal(err)
	}
	return svc, c
}

// startWithClient starts a simulator and returns it with the discovery
// document and the generated client, for u1 with the given scopes (short
// forms such as "sleep.readonly").
func startWithClient(t *testing.T, scopes ...string) (*discovery, *Server, *health.Service, *capture) {
	t.Helper()
	s, _ := start(t, Config{})
	svc, c := healthClient(t, s, s.MintTokens("u1", scopes...).AccessToken)
	return loadDiscovery(t), s, svc, c
}

// wantGoogleError checks that err is Google's error with code and status,
// as googleapi.CheckResponse reads it, and returns its ErrorInfo details.
func wantGoogleError(t *testing.T, err error, c *capture, code int, status string) []ErrorInfo {
	t.Helper()
	var ge *googleapi.Error
	var body ErrorBody
	if !errors.As(err, &ge) || ge.Code != code || json.Unmarshal(c.last(), &body) != nil || body.Error.Status != status {
		t.Fatalf("got %v (%s), want %d %s", err, c.last(), code, status)
	}
	return body.Error.Details
}

// discovery is what the test reads of health-api.json.
type discovery struct {
	Revision string                     `json:"revision"`
	Schemas  map[string]discoverySchema `json:"schemas"`
}

type discoverySchema struct {
	Type                 string                     `json:"type"`
	Ref                  string                     `json:"$ref"`
	Enum                 []string                   `json:"enum"`
	Properties           map[string]discoverySchema `json:"properties"`
	Items                *discoverySchema           `json:"items"`
	AdditionalProperties *discoverySchema           `json:"additionalProperties"`
}

func loadDiscovery(t *testing.T) *discovery {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "google.golang.org/api").Output()
	if err != nil {
		t.Fatalf("locating google.golang.org/api: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "health", "v4", "health-api.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d discovery
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

// checkEnums walks v (decoded JSON) along the schema named ref and reports
// every enum value the document does not list, and every field it does not
// define.
func (d *discovery) checkEnums(t *testing.T, where string, ref string, v any) {
	t.Helper()
	d.walk(t, where, d.Schemas[ref], v)
}

func (d *discovery) walk(t *testing.T, where string, s discoverySchema, v any) {
	t.Helper()
	if s.Ref != "" {
		s = d.Schemas[s.Ref]
	}
	if s.Type == "any" { // a google.protobuf.Any's fields: checked by the caller
		return
	}
	switch v := v.(type) {
	case map[string]any:
		for k, fv := range v {
			ps, ok := s.Properties[k]
			if !ok {
				if s.AdditionalProperties != nil {
					d.walk(t, where+"."+k, *s.AdditionalProperties, fv)
					continue
				}
				t.Errorf("%s: field %q is not in the discovery document", where, k)
				continue
			}
			d.walk(t, where+"."+k, ps, fv)
		}
	case []any:
		if s.Items != nil {
			for _, e := range v {
				d.walk(t, where+"[]", *s.Items, e)
			}
		}
	case string:
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, v) {
			t.Errorf("%s: %q is not one of the document's enum values %v", where, v, s.Enum)
		}
	}
}

// strict decodes b into a new value of out's type, rejecting unknown
// fields, and checks its enums against the schema of the same name.
func strict(t *testing.T, d *discovery, what string, b []byte, out any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		t.Errorf("%s: %v in %s", what, err, truncate(string(b), 300))
		return
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	d.checkEnums(t, what, reflect.TypeOf(out).Elem().Name(), generic)
}

func TestConformsToDiscovery(t *testing.T) {
	d := loadDiscovery(t)
	if d.Revision != "20261111" {
		t.Logf("discovery revision %s (the simulator was checked against 20261111)", d.Revision)
	}
	s, _ := start(t, Config{})
	var all []string
	for _, a := range Areas {
		all = append(all, a+".readonly")
	}
	svc, c := healthClient(t, s, s.MintTokens("", all...).AccessToken)

	if _, err := svc.Users.GetIdentity("users/me/identity").Do(); err != nil {
		t.Fatalf("identity: %v", err)
	}
	strict(t, d, "identity", c.last(), &health.Identity{})
	if _, err := svc.Users.GetProfile("users/me/profile").Do(); err != nil {
		t.Fatalf("profile: %v", err)
	}
	strict(t, d, "profile", c.last(), &health.Profile{})
	if _, err := svc.Users.GetSettings("users/me/settings").Do(); err != nil {
		t.Fatalf("settings: %v", err)
	}
	strict(t, d, "settings", c.last(), &health.Settings{})

	for _, typ := range []string{"steps", "distance", "floors", "altitude", "active-energy-burned", "active-minutes",
		"active-zone-minutes", "activity-level", "time-in-heart-rate-zone", "heart-rate", "daily-resting-heart-rate",
		"daily-heart-rate-zones", "heart-rate-variability", "oxygen-saturation", "weight", "body-fat", "height", "sleep",
		"daily-oxygen-saturation", "daily-heart-rate-variability", "daily-respiratory-rate",
		"daily-sleep-temperature-derivations", "daily-vo2-max", "exercise"} {
		call := svc.Users.DataTypes.DataPoints.List("users/me/dataTypes/" + typ).PageSize(5)
		if resp, err := call.Do(); err != nil || len(resp.DataPoints) == 0 {
			t.Errorf("list %s: %v, %d points", typ, err, len(resp.DataPoints))
			continue
		}
		strict(t, d, "list "+typ, c.last(), &health.ListDataPointsResponse{})
		if _, err := svc.Users.DataTypes.DataPoints.Reconcile("users/me/dataTypes/" + typ).PageSize(5).Do(); err != nil {
			t.Errorf("reconcile %s: %v", typ, err)
			continue
		}
		strict(t, d, "reconcile "+typ, c.last(), &health.ReconcileDataPointsResponse{})
	}

	for _, typ := range []string{"steps", "distance", "floors", "heart-rate", "total-calories", "altitude",
		"active-energy-burned", "active-minutes", "active-zone-minutes", "activity-level", "time-in-heart-rate-zone",
		"calories-in-heart-rate-zone"} {
		req := &health.DailyRollUpDataPointsRequest{
			Range: &health.CivilTimeInterval{
				Start: &health.CivilDateTime{Date: &health.Date{Year: 2026, Month: 11, Day: 17}},
				End:   &health.CivilDateTime{Date: &health.Date{Year: 2026, Month: 11, Day: 20}},
			},
			WindowSizeDays: 1,
		}
		if _, err := svc.Users.DataTypes.DataPoints.DailyRollUp("users/me/dataTypes/"+typ, req).Do(); err != nil {
			t.Errorf("dailyRollUp %s: %v", typ, err)
			continue
		}
		strict(t, d, "dailyRollUp "+typ, c.last(), &health.DailyRollUpDataPointsResponse{})
	}

	for _, typ := range []string{"steps", "distance", "floors", "total-calories", "heart-rate", "altitude",
		"active-energy-burned", "active-minutes", "active-zone-minutes", "activity-level", "time-in-heart-rate-zone",
		"calories-in-heart-rate-zone"} {
		req := &health.RollUpDataPointsRequest{
			Range:      &health.Interval{StartTime: "2026-11-19T00:00:00Z", EndTime: "2026-11-20T00:00:00Z"},
			WindowSize: "21600s",
		}
		if _, err := svc.Users.DataTypes.DataPoints.RollUp("users/me/dataTypes/"+typ, req).Do(); err != nil {
			t.Errorf("rollUp %s: %v", typ, err)
			continue
		}
		strict(t, d, "rollUp "+typ, c.last(), &health.RollUpDataPointsResponse{})
	}

	if _, err := svc.Users.PairedDevices.List("users/me").Do(); err != nil {
		t.Errorf("pairedDevices: %v", err)
	}
	strict(t, d, "pairedDevices", c.last(), &health.ListPairedDevicesResponse{})

	// Errors are google.rpc.Status, which googleapi.CheckResponse reads.
	_, err := svc.Users.DataTypes.DataPoints.List("users/me/dataTypes/no-such-type").Do()
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != http.StatusBadRequest || !strings.Contains(string(c.last()), `"status":"INVALID_ARGUMENT"`) {
		t.Errorf("unknown data type: %v", err)
	}
	c.token = "ya29.unknown"
	_, err = svc.Users.GetIdentity("users/me/identity").Do()
	if !errors.As(err, &ge) || ge.Code != http.StatusUnauthorized || len(ge.Details) == 0 {
		t.Errorf("bad token: %v", err)
	}
}

// TestExerciseConforms: the exercise list with Google's civil-time filter
// answers the person's walks and runs of the local day, newest first,
// strictly in the generated types, with the interval at the person's
// offset and the metrics of the bouts.
func TestExerciseConforms(t *testing.T) {
	d, s, svc, c := startWithClient(t, AreaActivity+".readonly")
	p := person.New(s.personKey("u1")) // startWithClient's user
	day := p.DayOf(s.now()).AddDate(0, 0, -3)
	want := p.Activity(day).Exercises
	filter := fmt.Sprintf(`exercise.interval.civil_start_time >= %q AND exercise.interval.civil_start_time < %q`,
		day.Format(time.DateOnly), day.AddDate(0, 0, 1).Format(time.DateOnly))
	resp, err := svc.Users.DataTypes.DataPoints.List("users/me/dataTypes/exercise").Filter(filter).Do()
	if err != nil {
		t.Fatal(err)
	}
	strict(t, d, "list exercise", c.last(), &health.ListDataPointsResponse{})
	if len(resp.DataPoints) != len(want) {
		t.Fatalf("%d sessions on %s, want %d: %s", len(resp.DataPoints), day.Format(time.DateOnly), len(want), c.last())
	}
	for i, dp := range resp.DataPoints {
		e, x := want[len(want)-1-i], dp.Exercise // newest first
		if x == nil || x.Interval == nil || x.MetricsSummary == nil {
			t.Fatalf("session %d: %+v", i, dp)
		}
		_, off := e.Start.In(p.Location()).Zone()
		start, _ := time.Parse(time.RFC3339, x.Interval.StartTime)
		cs := x.Interval.CivilStartTime
		if !start.Equal(e.Start) || x.Interval.StartUtcOffset != fmt.Sprintf("%ds", off) || cs == nil || cs.Date.Day != int64(day.Day()) {
			t.Errorf("session %d: interval %+v, want start %v at offset %ds", i, x.Interval, e.Start, off)
		}
		kind := map[string]string{"Walk": "WALKING", "Run": "RUNNING"}[e.Name]
		m := x.MetricsSummary
		if x.ExerciseType != kind || x.ActiveDuration != fmt.Sprintf("%ds", e.Minutes*60) || m.Steps != int64(e.Steps) ||
			m.DistanceMillimeters != float64(e.DistanceMM) || m.CaloriesKcal != float64(e.MilliCal)/1000 || m.AverageHeartRateBeatsPerMinute == 0 {
			t.Errorf("session %d: %s %s %+v, want %+v", i, x.ExerciseType, x.ActiveDuration, m, e)
		}
	}
}
