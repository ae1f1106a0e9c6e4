package googlesim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/simtest"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAPIAuthErrors(t *testing.T) {
	s, clk := start(t, Config{})
	tr := login(t, s, scopeActivity)

	// Missing credentials.
	r := api(t, s, "GET", "/v4/users/me/identity", "", nil)
	e := wantStatus(t, r, 401, "UNAUTHENTICATED")
	if e.Message != MsgMissingCreds || r.Header.Get("WWW-Authenticate") != `Bearer realm="https://accounts.google.com/"` ||
		len(e.Details) != 1 || e.Details[0].Reason != "CREDENTIALS_MISSING" {
		t.Fatalf("missing: %s %v", r.Body, r.Header)
	}
	// Garbage token.
	r = api(t, s, "GET", "/v4/users/me/identity", "ya29.garbage", nil)
	e = wantStatus(t, r, 401, "UNAUTHENTICATED")
	if e.Message != MsgUnauthenticated || r.Header.Get("WWW-Authenticate") != `Bearer realm="https://accounts.google.com/", error="invalid_token"` {
		t.Fatalf("garbage: %s %v", r.Body, r.Header)
	}
	if strings.Contains(string(r.Body), "ya29.garbage") {
		t.Fatal("error echoes the token")
	}
	// Expired by the clock (1h) and by ExpireAccessTokens.
	clk.Advance(time.Hour - time.Second)
	if r := api(t, s, "GET", "/v4/users/me/identity", tr.AccessToken, nil); r.Status != 200 {
		t.Fatalf("before expiry: %d", r.Status)
	}
	clk.Advance(time.Second)
	e = wantStatus(t, api(t, s, "GET", "/v4/users/me/identity", tr.AccessToken, nil), 401, "UNAUTHENTICATED")
	if e.Details[0].Reason != "ACCESS_TOKEN_EXPIRED" || e.Details[0].Metadata["service"] != "health.googleapis.com" {
		t.Fatalf("expired: %+v", e)
	}
	next := tokens(t, refresh(t, s, tr.RefreshToken))
	if r := api(t, s, "GET", "/v4/users/me/identity", next.AccessToken, nil); r.Status != 200 {
		t.Fatalf("after refresh: %d", r.Status)
	}
	s.ExpireAccessTokens(DefaultUserID)
	wantStatus(t, api(t, s, "GET", "/v4/users/me/identity", next.AccessToken, nil), 401, "UNAUTHENTICATED")
	later := tokens(t, refresh(t, s, tr.RefreshToken))
	if r := api(t, s, "GET", "/v4/users/me/identity", later.AccessToken, nil); r.Status != 200 {
		t.Fatalf("token after ExpireAccessTokens: %d", r.Status)
	}
	st := s.Stats()
	if st.API401 != 4 || st.APIRequests != 7 {
		t.Fatalf("stats = %+v", st)
	}
	if us := s.UserStats(DefaultUserID); us.API401 != 2 || us.APIRequests != 5 {
		t.Fatalf("user stats = %+v", us)
	}
}

func TestAPIPermissionAndNotFound(t *testing.T) {
	s, _ := start(t, Config{})
	tr := login(t, s, scopeActivity)
	// Missing scope.
	for _, p := range []string{"/v4/users/me/profile", "/v4/users/me/settings", "/v4/users/me/dataTypes/sleep/dataPoints",
		"/v4/users/me/dataTypes/heart-rate/dataPoints", "/v4/users/me/dataTypes/weight/dataPoints"} {
		r := api(t, s, "GET", p, tr.AccessToken, nil)
		e := wantStatus(t, r, 403, "PERMISSION_DENIED")
		if e.Message != MsgScopes || len(e.Details) != 1 || e.Details[0].Reason != "ACCESS_TOKEN_SCOPE_INSUFFICIENT" ||
			e.Details[0].Type != "type.googleapis.com/google.rpc.ErrorInfo" || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
			t.Fatalf("%s: %s %v", p, r.Body, r.Header)
		}
	}
	// A write-only scope does not allow reading.
	w := s.MintTokens(DefaultUserID, ScopeURL(AreaSleep, true))
	wantStatus(t, api(t, s, "GET", "/v4/users/me/dataTypes/sleep/dataPoints", w.AccessToken, nil), 403, "PERMISSION_DENIED")
	if r := api(t, s, "GET", "/v4/users/me/identity", w.AccessToken, nil); r.Status != 200 {
		t.Fatalf("identity with a write scope: %d", r.Status)
	}
	// Sign-in scopes alone do not open the identity endpoint.
	oid := login(t, s, "openid email")
	if oid.Scope != "email openid" {
		t.Fatalf("sign-in scopes = %q", oid.Scope)
	}
	wantStatus(t, api(t, s, "GET", "/v4/users/me/identity", oid.AccessToken, nil), 403, "PERMISSION_DENIED")
	// Another user's data.
	wantStatus(t, api(t, s, "GET", "/v4/users/999/identity", tr.AccessToken, nil), 403, "PERMISSION_DENIED")
	if r := api(t, s, "GET", "/v4/users/"+DefaultUserID+"/identity", tr.AccessToken, nil); r.Status != 200 {
		t.Fatalf("own id: %d", r.Status)
	}
	// Unknown paths and methods: 404 before authentication.
	for _, c := range [][2]string{{"GET", "/v4/users/me/nothing"}, {"GET", "/"}, {"DELETE", "/v4/users/me/identity"},
		{"GET", "/v4/users/me/dataTypes/steps/dataPoints:dailyRollUp"}, {"GET", "/1/user/-/profile.json"}} {
		e := wantStatus(t, api(t, s, c[0], c[1], "", nil), 404, "NOT_FOUND")
		if e.Message != MsgNotFound {
			t.Fatalf("%v: %+v", c, e)
		}
	}
	wantStatus(t, api(t, s, "GET", "/v4/users/me/dataTypes/teleportation/dataPoints", tr.AccessToken, nil), 400, "INVALID_ARGUMENT")
	if st := s.Stats(); st.API403 != 8 || st.API404 != 5 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestRateLimit(t *testing.T) {
	s, clk := start(t, Config{RateLimitPerMinute: 3})
	a := s.MintTokens("a")
	b := s.MintTokens("b")
	for i := range 3 {
		if r := api(t, s, "GET", "/v4/users/me/identity", a.AccessToken, nil); r.Status != 200 {
			t.Fatalf("request %d: %d", i, r.Status)
		}
	}
	r := api(t, s, "GET", "/v4/users/me/identity", a.AccessToken, nil)
	e := wantStatus(t, r, 429, "RESOURCE_EXHAUSTED")
	if e.Details[0].Reason != "RATE_LIMIT_EXCEEDED" || r.Header.Get("Retry-After") != "30" { // clock at :30
		t.Fatalf("429: %s Retry-After=%q", r.Body, r.Header.Get("Retry-After"))
	}
	// Per user.
	if r := api(t, s, "GET", "/v4/users/me/identity", b.AccessToken, nil); r.Status != 200 {
		t.Fatalf("other user: %d", r.Status)
	}
	// Unauthenticated requests do not consume the budget; a new minute resets it.
	clk.Advance(30 * time.Second)
	if r := api(t, s, "GET", "/v4/users/me/identity", a.AccessToken, nil); r.Status != 200 {
		t.Fatalf("next minute: %d", r.Status)
	}
	if st := s.Stats(); st.API429 != 1 || s.UserStats("a").API429 != 1 {
		t.Fatalf("stats = %+v", st)
	}
	// Unlimited.
	u, _ := start(t, Config{RateLimitPerMinute: -1})
	tok := u.MintTokens("a").AccessToken
	for range 400 {
		if r := api(t, u, "GET", "/v4/users/me/identity", tok, nil); r.Status != 200 {
			t.Fatalf("unlimited: %d", r.Status)
		}
	}
}

func TestIdentityProfileSettings(t *testing.T) {
	s, _ := start(t, Config{LegacyUserIDs: map[string]string{"111": "ABC123"}})
	a := s.MintTokens("111")
	b := s.MintTokens("222")
	r := api(t, s, "GET", "/v4/users/me/identity", a.AccessToken, nil)
	if r.Status != 200 || string(r.Body) != `{"name":"users/me/identity","healthUserId":"111","legacyUserId":"ABC123"}` {
		t.Fatalf("identity: %d %s", r.Status, r.Body)
	}
	r = api(t, s, "GET", "/v4/users/me/identity", b.AccessToken, nil)
	if string(r.Body) != `{"name":"users/me/identity","healthUserId":"222"}` {
		t.Fatalf("identity without legacy id: %s", r.Body)
	}
	// The default legacy mapping.
	d, _ := start(t, Config{})
	r = api(t, d, "GET", "/v4/users/me/identity", d.MintTokens("").AccessToken, nil)
	if m := r.JSON(t); m["healthUserId"] != DefaultUserID || m["legacyUserId"] != DefaultLegacyUserID {
		t.Fatalf("default identity: %s", r.Body)
	}

	pa := api(t, s, "GET", "/v4/users/me/profile", a.AccessToken, nil).JSON(t)
	pb := api(t, s, "GET", "/v4/users/me/profile", b.AccessToken, nil).JSON(t)
	if pa["name"] != "users/me/profile" || fmt.Sprint(pa) == fmt.Sprint(pb) {
		t.Fatalf("profiles: %v / %v", pa, pb)
	}
	// The discovery document types the profile's lengths int32: JSON numbers.
	if _, ok := pa["userConfiguredWalkingStrideLengthMm"].(float64); !ok {
		t.Fatalf("int32 not a number: %v", pa)
	}
	if msd, ok := pa["membershipStartDate"].(map[string]any); !ok || msd["year"] == nil {
		t.Fatalf("date not an object: %v", pa)
	}
	sa := api(t, s, "GET", "/v4/users/me/settings", a.AccessToken, nil).JSON(t)
	if sa["name"] != "users/me/settings" || sa["timeZone"] == nil {
		t.Fatalf("settings: %v", sa)
	}
	if st := api(t, s, "GET", "/v4/users/111/settings", a.AccessToken, nil).JSON(t); st["name"] != "users/111/settings" {
		t.Fatalf("settings by id: %v", st)
	}
}

type listResp struct {
	DataPoints    []map[string]json.RawMessage `json:"dataPoints"`
	NextPageToken string                       `json:"nextPageToken"`
}

func list(t *testing.T, s *Server, tok, typ string, q url.Values) listResp {
	t.Helper()
	r := api(t, s, "GET", "/v4/users/me/dataTypes/"+typ+"/dataPoints?"+q.Encode(), tok, nil)
	if r.Status != 200 {
		t.Fatalf("list %s: %d %s", typ, r.Status, r.Body)
	}
	var lr listResp
	if err := json.Unmarshal(r.Body, &lr); err != nil {
		t.Fatal(err)
	}
	return lr
}

type stepsValue struct {
	Interval struct{ StartTime, EndTime time.Time }
	Count    string
}

func TestDataPointsPaging(t *testing.T) {
	s, _ := start(t, Config{})
	tok := s.MintTokens("u1").AccessToken
	filter := `steps.interval.start_time >= "2026-11-19T00:00:00Z" AND steps.interval.start_time < "2026-11-20T00:00:00Z"`
	var all []stepsValue
	pageToken := ""
	pages := 0
	for {
		q := url.Values{"filter": {filter}, "pageSize": {"50"}}
		if pageToken != "" {
			q.Set("pageToken", pageToken)
		}
		lr := list(t, s, tok, "steps", q)
		pages++
		if len(lr.DataPoints) > 50 {
			t.Fatalf("page of %d", len(lr.DataPoints))
		}
		for _, dp := range lr.DataPoints {
			var v stepsValue
			if err := json.Unmarshal(dp["steps"], &v); err != nil {
				t.Fatalf("steps value %s: %v", dp["steps"], err)
			}
			if _, err := strconv.Atoi(v.Count); err != nil {
				t.Fatalf("count not an int64 string: %s", dp["steps"])
			}
			var name string
			_ = json.Unmarshal(dp["name"], &name)
			if !regexp.MustCompile(`^users/u1/dataTypes/steps/dataPoints/[0-9a-f]{16}$`).MatchString(name) || dp["dataSource"] == nil {
				t.Fatalf("data point %v", dp)
			}
			all = append(all, v)
		}
		if pageToken = lr.NextPageToken; pageToken == "" {
			break
		}
	}
	// A point per minute with steps.
	if len(all) < 100 || len(all) > 1440 || pages != (len(all)+49)/50 {
		t.Fatalf("%d points in %d pages", len(all), pages)
	}
	sum := 0
	for i, v := range all {
		n, _ := strconv.Atoi(v.Count)
		sum += n
		if v.Interval.StartTime.Day() != 19 || v.Interval.EndTime.Sub(v.Interval.StartTime) != time.Minute || n <= 0 {
			t.Fatalf("point outside the filter: %+v", v)
		}
		if i > 0 && !v.Interval.StartTime.Before(all[i-1].Interval.StartTime) {
			t.Fatal("not newest first")
		}
	}
	// The same window rolled up.
	rr := rollUpSteps(t, s, tok, "2026-11-19T00:00:00Z", "2026-11-20T00:00:00Z", "86400s")
	if rr != strconv.Itoa(sum) {
		t.Fatalf("roll-up %s, list %d", rr, sum)
	}
	// Deterministic.
	again := list(t, s, tok, "steps", url.Values{"filter": {filter}, "pageSize": {"10000"}})
	if len(again.DataPoints) != len(all) || again.NextPageToken != "" {
		t.Fatalf("second read differs: %d vs %d", len(again.DataPoints), len(all))
	}
	// Without a filter: the newest points, begun by the clock (10:15).
	lr := list(t, s, tok, "steps", url.Values{"page_size": {"1"}})
	var v stepsValue
	_ = json.Unmarshal(lr.DataPoints[0]["steps"], &v)
	if v.Interval.StartTime.After(simtest.NewClock().Now()) || lr.NextPageToken == "" {
		t.Fatalf("newest %+v", v)
	}

	// Bad page token, token of another filter, bad filter, bad size.
	bad := func(q url.Values) {
		t.Helper()
		wantStatus(t, api(t, s, "GET", "/v4/users/me/dataTypes/steps/dataPoints?"+q.Encode(), tok, nil), 400, "INVALID_ARGUMENT")
	}
	bad(url.Values{"pageToken": {"nonsense"}})
	bad(url.Values{"pageToken": {lr.NextPageToken}, "filter": {filter}})
	bad(url.Values{"filter": {"steps.count > 5 OR"}})
	bad(url.Values{"filter": {`steps.interval.start_time >= "yesterday"`}})
	bad(url.Values{"pageSize": {"-1"}})
	wantStatus(t, api(t, s, "GET", "/v4/users/me/dataTypes/total-calories/dataPoints", tok, nil), 400, "INVALID_ARGUMENT")
}

func TestDataPointShapes(t *testing.T) {
	s, _ := start(t, Config{})
	tok := s.MintTokens("u1").AccessToken
	// Sleep: sessions, at most 25 a page.
	lr := list(t, s, tok, "sleep", url.Values{"pageSize": {"1000"}})
	if len(lr.DataPoints) != 25 || lr.NextPageToken == "" {
		t.Fatalf("sleep page: %d", len(lr.DataPoints))
	}
	var sl struct {
		Interval struct{ StartTime, EndTime time.Time }
		Type     string
		Stages   []struct{ Type string }
		Summary  struct{ MinutesAsleep string }
	}
	if err := json.Unmarshal(lr.DataPoints[0]["sleep"], &sl); err != nil || sl.Type != "STAGES" || len(sl.Stages) == 0 ||
		sl.Summary.MinutesAsleep == "" || !sl.Interval.EndTime.After(sl.Interval.StartTime) {
		t.Fatalf("sleep %s %v", lr.DataPoints[0]["sleep"], err)
	}
	// Sleep filtered by end time: the night ending on Nov 19 (u1's clock,
	// Los Angeles, shows 02:15 on Nov 20: that night has not ended).
	lr = list(t, s, tok, "sleep", url.Values{"filter": {`sleep.interval.civil_end_time >= "2026-11-19" AND sleep.interval.civil_end_time < "2026-11-20"`}})
	if len(lr.DataPoints) != 1 {
		t.Fatalf("one night: %d", len(lr.DataPoints))
	}
	// Weight per the reference.
	lr = list(t, s, tok, "weight", url.Values{})
	var wv struct {
		WeightGrams *float64 `json:"weightGrams"`
		SampleTime  struct{ PhysicalTime time.Time }
	}
	if len(lr.DataPoints) == 0 || json.Unmarshal(lr.DataPoints[0]["weight"], &wv) != nil || wv.WeightGrams == nil || wv.SampleTime.PhysicalTime.IsZero() {
		t.Fatalf("weight %s", lr.DataPoints)
	}
	// Resting heart rate per the reference.
	lr = list(t, s, tok, "daily-resting-heart-rate", url.Values{"filter": {`dailyRestingHeartRate.date = "2026-11-19"`}})
	if len(lr.DataPoints) != 1 || !regexp.MustCompile(`^\{"beatsPerMinute":"\d+","date":\{"day":19,"month":11,"year":2026\}\}$`).Match(lr.DataPoints[0]["dailyRestingHeartRate"]) {
		t.Fatalf("resting hr %s", lr.DataPoints)
	}
	// Heart rate samples.
	lr = list(t, s, tok, "heart-rate", url.Values{"pageSize": {"2"}})
	if len(lr.DataPoints) != 2 || !regexp.MustCompile(`"beatsPerMinute":"\d+"`).Match(lr.DataPoints[0]["heartRate"]) {
		t.Fatalf("heart rate %s", lr.DataPoints)
	}
	// No data answers {} (proto3 JSON).
	r := api(t, s, "GET", "/v4/users/me/dataTypes/oxygen-saturation/dataPoints?"+url.Values{"filter": {`oxygen_saturation.sample_time.physical_time >= "2026-11-20T09:00:00Z"`}}.Encode(), tok, nil)
	if r.Status != 200 || string(r.Body) != "{}" {
		t.Fatalf("empty: %d %s", r.Status, r.Body)
	}
}

func rollUp(t *testing.T, s *Server, tok, typ, body string) response {
	t.Helper()
	return api(t, s, "POST", "/v4/users/me/dataTypes/"+typ+"/dataPoints:dailyRollUp", tok, strings.NewReader(body), "Content-Type", "application/json")
}

const threeDays = `{"range":{"start":{"date":{"year":2026,"month":11,"day":18}},"end":{"date":{"year":2026,"month":11,"day":21}}},"windowSizeDays":1}`

func TestDailyRollUp(t *testing.T) {
	s, _ := start(t, Config{})
	tok := s.MintTokens("u1").AccessToken
	r := rollUp(t, s, tok, "steps", threeDays)
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	re := regexp.MustCompile(`^\{"rollupDataPoints":\[` +
		`\{"civilEndTime":\{"date":\{"day":19,"month":11,"year":2026\}\},"civilStartTime":\{"date":\{"day":18,"month":11,"year":2026\}\},"steps":\{"countSum":"(\d+)"\}\},` +
		`\{"civilEndTime":\{"date":\{"day":20,"month":11,"year":2026\}\},"civilStartTime":\{"date":\{"day":19,"month":11,"year":2026\}\},"steps":\{"countSum":"(\d+)"\}\},` +
		`\{"civilEndTime":\{"date":\{"day":21,"month":11,"year":2026\}\},"civilStartTime":\{"date":\{"day":20,"month":11,"year":2026\}\},"steps":\{"countSum":"(\d+)"\}\}\]\}$`)
	m := re.FindStringSubmatch(string(r.Body))
	if m == nil {
		t.Fatalf("roll-up body %s", r.Body)
	}
	// Consistent with the list of Nov 19 on u1's clock.
	lr := list(t, s, tok, "steps", url.Values{"pageSize": {"10000"},
		"filter": {`steps.interval.civil_start_time >= "2026-11-19" AND steps.interval.civil_start_time < "2026-11-20"`}})
	sum := 0
	for _, dp := range lr.DataPoints {
		var v stepsValue
		_ = json.Unmarshal(dp["steps"], &v)
		n, _ := strconv.Atoi(v.Count)
		sum += n
	}
	if strconv.Itoa(sum) != m[2] || m[2] == "0" {
		t.Fatalf("roll-up %s vs list sum %d", m[2], sum)
	}
	// Today (until 10:15) has fewer steps than a whole day, typically; at least it is not more than the sum of completed hours.
	if m[3] == "" {
		t.Fatal("no value for today")
	}
	// Other users differ.
	other := rollUp(t, s, s.MintTokens("u2").AccessToken, "steps", threeDays)
	if other.Status != 200 || string(other.Body) == string(r.Body) {
		t.Fatalf("u2 roll-up equal to u1: %s", other.Body)
	}
	// Windows of two days, and other types.
	r = rollUp(t, s, tok, "distance", strings.Replace(threeDays, `"windowSizeDays":1`, `"windowSizeDays":2`, 1))
	var rr struct {
		RollupDataPoints []map[string]json.RawMessage
	}
	if json.Unmarshal(r.Body, &rr) != nil || len(rr.RollupDataPoints) != 2 || !strings.Contains(string(rr.RollupDataPoints[0]["distance"]), `"millimetersSum":"`) {
		t.Fatalf("distance: %s", r.Body)
	}
	for _, typ := range []string{"floors", "total-calories", "heart-rate"} {
		if r := rollUp(t, s, tok, typ, threeDays); r.Status != 200 {
			t.Fatalf("%s: %d %s", typ, r.Status, r.Body)
		}
	}
	// Errors.
	for _, body := range []string{
		``, `{`, `{"range":{}}`,
		`{"range":{"start":{"year":2026,"month":11,"day":18},"end":{"year":2026,"month":11,"day":21}}}`, // dates must be wrapped
		`{"range":{"start":{"date":{"year":2026,"month":11,"day":21}},"end":{"date":{"year":2026,"month":11,"day":21}}}}`,
		`{"range":{"start":{"date":{"year":2026,"month":2,"day":30}},"end":{"date":{"year":2026,"month":3,"day":2}}}}`,
		`{"range":{"start":{"date":{"year":2025,"month":1,"day":1}},"end":{"date":{"year":2026,"month":1,"day":1}}}}`,
		strings.Replace(threeDays, `"windowSizeDays":1`, `"windowSizeDays":-1`, 1),
	} {
		wantStatus(t, rollUp(t, s, tok, "steps", body), 400, "INVALID_ARGUMENT")
	}
	wantStatus(t, rollUp(t, s, tok, "sleep", threeDays), 400, "INVALID_ARGUMENT")
	// Scope is checked.
	sleepOnly := s.MintTokens("u1", scopeSleep).AccessToken
	wantStatus(t, rollUp(t, s, sleepOnly, "steps", threeDays), 403, "PERMISSION_DENIED")
}

func TestEchoAndRecording(t *testing.T) {
	s, _ := start(t, Config{})
	tok := s.MintTokens("u1", scopeSleep).AccessToken
	body := `{"hello":"world"}`
	r := api(t, s, "POST", "/v4/users/me/echo?x=1", tok, strings.NewReader(body), "Content-Type", "application/json", "X-Test", "yes")
	if r.Status != 200 {
		t.Fatalf("echo: %d %s", r.Status, r.Body)
	}
	var e EchoResponse
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	if e.Method != "POST" || e.ContentType != "application/json" || e.BodyLength != len(body) || e.Body != body ||
		e.BodySHA256 != hex.EncodeToString(sum[:]) || e.Query != "x=1" || e.UserID != "u1" || e.Path != "/v4/users/me/echo" {
		t.Fatalf("echo = %+v", e)
	}
	// The request is recorded by the time the answer was read.
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("recorded %d", len(reqs))
	}
	rr := reqs[0]
	if rr.Method != "POST" || rr.Path != "/v4/users/me/echo" || rr.RawQuery != "x=1" || string(rr.Body) != body ||
		rr.UserID != "u1" || rr.Status != 200 || rr.Header.Get("Authorization") != "Bearer "+tok || rr.Header.Get("X-Test") != "yes" {
		t.Fatalf("recorded %+v", rr)
	}
	api(t, s, "GET", "/v4/users/me/profile", "bad", nil)
	api(t, s, "GET", "/nowhere", "", nil)
	reqs = s.Requests()
	if len(reqs) != 3 || reqs[1].Status != 401 || reqs[1].UserID != "" || reqs[2].Status != 404 {
		t.Fatalf("recorded %+v", reqs)
	}
	s.ResetRequests()
	if len(s.Requests()) != 0 {
		t.Fatal("ResetRequests")
	}
	// Oversized bodies.
	big := strings.Repeat("x", MaxAPIBody+1)
	wantStatus(t, api(t, s, "POST", "/v4/users/me/echo", tok, strings.NewReader(big)), 400, "INVALID_ARGUMENT")
	if got := len(s.Requests()[0].Body); got != MaxAPIBody {
		t.Fatalf("recorded body %d", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	s, _ := start(t, Config{RateLimitPerMinute: -1})
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			tr := s.MintTokens(fmt.Sprint("user", i))
			for range 10 {
				for _, req := range []*http.Request{
					mustRequest("GET", s.APIBase()+"/v4/users/me/identity", "", "Bearer "+tr.AccessToken),
					mustRequest("POST", s.TokenURL(), withClient(s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}).Encode(), ""),
				} {
					resp, err := http.DefaultClient.Do(req)
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							err = fmt.Errorf("%s %s: %d", req.Method, req.URL.Path, resp.StatusCode)
						}
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Refreshes != 80 || st.APIRequests != 80 {
		t.Fatalf("stats = %+v", st)
	}
}

func mustRequest(method, u, form, auth string) *http.Request {
	req, err := http.NewRequest(method, u, strings.NewReader(form))
	if err != nil {
		panic(err)
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return req
}

// rollUpSteps is the steps countSum of one rollUp window.
func rollUpSteps(t *testing.T, s *Server, tok, start, end, window string) string {
	t.Helper()
	body := `{"range":{"startTime":"` + start + `","endTime":"` + end + `"},"windowSize":"` + window + `"}`
	r := api(t, s, "POST", "/v4/users/me/dataTypes/steps/dataPoints:rollUp", tok, strings.NewReader(body), "Content-Type", "application/json")
	var rr struct {
		RollupDataPoints []struct{ Steps struct{ CountSum string } }
	}
	if r.Status != 200 || json.Unmarshal(r.Body, &rr) != nil || len(rr.RollupDataPoints) != 1 {
		t.Fatalf("rollUp: %d %s", r.Status, r.Body)
	}
	return rr.RollupDataPoints[0].Steps.CountSum
}
