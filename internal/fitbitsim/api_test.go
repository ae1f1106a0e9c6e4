package fitbitsim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAccessTokenExpiry(t *testing.T) {
	s, clk := start(t, Config{})
	tr := login(t, s, "profile")
	s.ExpireAccessTokens("22B7NF")
	it := wantError(t, api(t, s, "GET", "/1/user/-/profile.json", tr.AccessToken, nil), 401, "expired_token")
	if it.Message != "Access token expired: "+tr.AccessToken+". "+visit {
		t.Fatalf("message = %q", it.Message)
	}
	// The refresh token still works and the new access token is good.
	next := tokens(t, refresh(t, s, tr.RefreshToken))
	if r := api(t, s, "GET", "/1/user/-/profile.json", next.AccessToken, nil); r.Status != 200 {
		t.Fatalf("after refresh: %d %s", r.Status, r.Body)
	}
	// Expiry by the clock.
	clk.Advance(8*time.Hour - time.Second)
	if r := api(t, s, "GET", "/1/user/-/profile.json", next.AccessToken, nil); r.Status != 200 {
		t.Fatalf("before exp: %d %s", r.Status, r.Body)
	}
	clk.Advance(time.Second)
	wantError(t, api(t, s, "GET", "/1/user/-/profile.json", next.AccessToken, nil), 401, "expired_token")
	// Missing and garbage tokens.
	wantError(t, api(t, s, "GET", "/1/user/-/profile.json", "", nil), 401, "invalid_token")
	wantError(t, api(t, s, "GET", "/1/user/-/profile.json", "garbage", nil), 401, "invalid_token")
	if st := s.Stats(); st.API401 != 4 || st.APIRequests != 6 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestScopesAndPermissions(t *testing.T) {
	s, _ := start(t, Config{})
	s.SetConsent(func(*http.Request, []string) Consent { return Consent{Granted: []string{"profile"}} })
	tr := login(t, s, "activity heartrate profile sleep")
	if tr.Scope != "profile" {
		t.Fatalf("scope = %q", tr.Scope)
	}
	for path, coll := range map[string]string{
		"/1/user/-/activities/date/today.json":          "activity",
		"/1/user/-/activities/heart/date/today/1d.json": "heart rate",
		"/1.2/user/-/sleep/date/2026-11-20.json":        "sleep",
	} {
		it := wantError(t, api(t, s, "GET", path, tr.AccessToken, nil), 403, "insufficient_scope")
		if it.Message != "This application does not have permission to access "+coll+" data. "+visit {
			t.Fatalf("message = %q", it.Message)
		}
	}
	if r := api(t, s, "GET", "/1/user/22B7NF/profile.json", tr.AccessToken, nil); r.Status != 200 {
		t.Fatalf("own id: %d", r.Status)
	}
	wantError(t, api(t, s, "GET", "/1/user/ABC123/profile.json", tr.AccessToken, nil), 403, "insufficient_permissions")
	wantError(t, api(t, s, "GET", "/1/user/-/nothing.json", tr.AccessToken, nil), 404, "not_found")
	wantError(t, api(t, s, "DELETE", "/1/user/-/profile.json", tr.AccessToken, nil), 405, "method_not_allowed")
	wantError(t, api(t, s, "GET", "/", tr.AccessToken, nil), 404, "not_found")
}

func TestIntraday(t *testing.T) {
	s, clk := start(t, Config{})
	tr := login(t, s, "heartrate")
	r := api(t, s, "GET", "/1/user/-/activities/heart/date/today/1d.json", tr.AccessToken, nil)
	if m := r.JSON(t); r.Status != 200 || m["activities-heart"] == nil || m["activities-heart-intraday"] != nil {
		t.Fatalf("1d: %d %s", r.Status, r.Body)
	}
	wantError(t, api(t, s, "GET", "/1/user/-/activities/heart/date/today/1d/1min.json", tr.AccessToken, nil), 403, "insufficient_permissions")

	ok, _ := start(t, Config{IntradayApproved: true, Now: clk.Now})
	tr = login(t, ok, "heartrate")
	r = api(t, ok, "GET", "/1/user/-/activities/heart/date/2026-11-19/1d/1min.json", tr.AccessToken, nil)
	intra, _ := r.JSON(t)["activities-heart-intraday"].(map[string]any)
	if r.Status != 200 || intra["datasetType"] != "minute" || intra["datasetInterval"] != float64(1) || len(intra["dataset"].([]any)) != 1440 {
		t.Fatalf("1min: %d %.300s", r.Status, r.Body)
	}
	// Today, the user's local day, stops at the simulator's clock (10:15:30
	// UTC is 05:15:30 in 22B7NF's New York -> 22 quarter hours).
	r = api(t, ok, "GET", "/1/user/-/activities/heart/date/today/1d/15min.json", tr.AccessToken, nil)
	intra, _ = r.JSON(t)["activities-heart-intraday"].(map[string]any)
	if n := len(intra["dataset"].([]any)); n != 22 || intra["datasetInterval"] != float64(15) {
		t.Fatalf("15min today: %d points, %v", n, intra["datasetInterval"])
	}
	wantError(t, api(t, ok, "GET", "/1/user/-/activities/heart/date/today/1d/2min.json", tr.AccessToken, nil), 400, "validation")
	wantError(t, api(t, ok, "GET", "/1/user/-/activities/heart/date/2026-13-01/1d.json", tr.AccessToken, nil), 400, "validation")

	personal, _ := start(t, Config{AppType: PersonalApp})
	tr = login(t, personal, "heartrate")
	if r := api(t, personal, "GET", "/1/user/-/activities/heart/date/today/1d/1sec.json", tr.AccessToken, nil); r.Status != 200 {
		t.Fatalf("personal intraday: %d %s", r.Status, r.Body)
	}
}

func TestDataShapesPerUser(t *testing.T) {
	s, _ := start(t, Config{})
	a := s.MintTokens("22B7NF")
	b := s.MintTokens("ABC123")
	get := func(tok, path string, hdr ...string) map[string]any {
		r := api(t, s, "GET", path, tok, nil, hdr...)
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", path, r.Status, r.Body)
		}
		return r.JSON(t)
	}
	pa := get(a.AccessToken, "/1/user/-/profile.json")["user"].(map[string]any)
	pb := get(b.AccessToken, "/1/user/-/profile.json")["user"].(map[string]any)
	if pa["encodedId"] != "22B7NF" || pb["encodedId"] != "ABC123" || pb["displayName"] != "Sim user ABC123" {
		t.Fatalf("profiles: %v / %v", pa, pb)
	}
	for _, k := range []string{"gender", "timezone", "offsetFromUTCMillis", "memberSince", "dateOfBirth", "height", "weight", "locale", "fullName"} {
		if _, ok := pa[k]; !ok {
			t.Errorf("profile lacks %s", k)
		}
	}
	us := get(a.AccessToken, "/1/user/-/profile.json", "Accept-Language", "en_US")["user"].(map[string]any)
	if us["height"].(float64) >= pa["height"].(float64) {
		t.Errorf("en_US height %v not in inches (metric %v)", us["height"], pa["height"])
	}

	act := get(a.AccessToken, "/1/user/-/activities/date/2026-11-20.json")
	sum := act["summary"].(map[string]any)
	for _, k := range []string{"activityCalories", "caloriesBMR", "caloriesOut", "distances", "steps", "restingHeartRate", "sedentaryMinutes"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("activity summary lacks %s", k)
		}
	}
	if _, ok := act["goals"].(map[string]any)["steps"]; !ok || act["activities"] == nil {
		t.Errorf("activities = %v", act)
	}
	again := get(a.AccessToken, "/1/user/-/activities/date/2026-11-20.json")
	if fmt.Sprint(again) != fmt.Sprint(act) {
		t.Error("activity data is not deterministic")
	}

	// Yesterday's: at 05:15 this morning's sleep is still under way.
	sl := get(a.AccessToken, "/1.2/user/-/sleep/date/2026-11-19.json")
	rec := sl["sleep"].([]any)[0].(map[string]any)
	if rec["dateOfSleep"] != "2026-11-19" || rec["type"] != "stages" || rec["isMainSleep"] != true ||
		sl["summary"].(map[string]any)["totalSleepRecords"] != float64(1) {
		t.Errorf("sleep = %v", sl)
	}
	for _, k := range []string{"duration", "efficiency", "logId", "minutesAsleep", "minutesAwake", "startTime", "endTime", "timeInBed", "levels"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("sleep lacks %s", k)
		}
	}
}

func TestLogActivityAndEcho(t *testing.T) {
	s, _ := start(t, Config{})
	tr := s.MintTokens("", "activity")
	form := url.Values{"activityName": {"Rowing"}, "manualCalories": {"300"}, "startTime": {"07:30"},
		"durationMillis": {"1800000"}, "date": {"2026-11-20"}}
	r := api(t, s, "POST", "/1/user/-/activities.json", tr.AccessToken, strings.NewReader(form.Encode()),
		"Content-Type", "application/x-www-form-urlencoded")
	if r.Status != 201 {
		t.Fatalf("log: %d %s", r.Status, r.Body)
	}
	log := r.JSON(t)["activityLog"].(map[string]any)
	if log["activityName"] != "Rowing" || log["durationMillis"] != "1800000" || log["logId"] == nil {
		t.Fatalf("activityLog = %v", log)
	}
	act := api(t, s, "GET", "/1/user/-/activities/date/2026-11-20.json", tr.AccessToken, nil).JSON(t)
	if len(act["activities"].([]any)) != 1 {
		t.Fatalf("logged activity not listed: %v", act["activities"])
	}
	form.Del("startTime")
	wantError(t, api(t, s, "POST", "/1/user/-/activities.json", tr.AccessToken, strings.NewReader(form.Encode()),
		"Content-Type", "application/x-www-form-urlencoded"), 400, "validation")

	s.ResetRequests()
	body := []byte("{\"a\":1,\"bin\":\"\x01\"}")
	r = api(t, s, "POST", "/1/user/-/echo?x=1", tr.AccessToken, strings.NewReader(string(body)),
		"Content-Type", "application/json", "X-Trace", "t1")
	if r.Status != 200 {
		t.Fatalf("echo: %d %s", r.Status, r.Body)
	}
	sum := sha256.Sum256(body)
	m := r.JSON(t)
	if m["method"] != "POST" || m["contentType"] != "application/json" || m["bodyLength"] != float64(len(body)) ||
		m["bodySHA256"] != hex.EncodeToString(sum[:]) || m["body"] != string(body) {
		t.Fatalf("echo = %s", r.Body)
	}
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d recorded requests", len(reqs))
	}
	rr := reqs[0]
	if rr.Method != "POST" || rr.Path != "/1/user/-/echo" || rr.RawQuery != "x=1" || string(rr.Body) != string(body) ||
		rr.Header.Get("X-Trace") != "t1" || rr.UserID != "22B7NF" || rr.Status != 200 {
		t.Fatalf("recorded = %+v", rr)
	}
	wantError(t, api(t, s, "POST", "/1/user/-/echo", "bad", nil), 401, "invalid_token")
	if reqs := s.Requests(); len(reqs) != 2 || reqs[1].Status != 401 || reqs[1].UserID != "" {
		t.Fatalf("recorded = %+v", reqs)
	}
}

func TestRateLimit(t *testing.T) {
	s, clk := start(t, Config{RateLimitPerHour: 3})
	tr := s.MintTokens("", "profile")
	other := s.MintTokens("ABC123", "profile")
	// 10:15:30 -> 44:30 to the top of the hour.
	const reset = "2670"
	for i := 1; i <= 3; i++ {
		r := api(t, s, "GET", "/1/user/-/profile.json", tr.AccessToken, nil)
		if r.Status != 200 || r.Header.Get("Fitbit-Rate-Limit-Limit") != "3" ||
			r.Header.Get("Fitbit-Rate-Limit-Remaining") != strconv.Itoa(3-i) || r.Header.Get("Fitbit-Rate-Limit-Reset") != reset {
			t.Fatalf("request %d: %d %v", i, r.Status, r.Header)
		}
	}
	r := api(t, s, "GET", "/1/user/-/profile.json", tr.AccessToken, nil)
	it := wantError(t, r, 429, "system")
	if it.FieldName != "n/a" || it.Message != "Too Many Requests" || r.Header.Get("Retry-After") != reset ||
		r.Header.Get("Fitbit-Rate-Limit-Remaining") != "0" {
		t.Fatalf("429: %v %s", r.Header, r.Body)
	}
	// Errors carry the headers too; other users have their own counter.
	r = api(t, s, "GET", "/1/user/-/nothing.json", other.AccessToken, nil)
	if r.Status != 404 || r.Header.Get("Fitbit-Rate-Limit-Remaining") != "2" {
		t.Fatalf("other user: %d %v", r.Status, r.Header)
	}
	r = api(t, s, "GET", "/1/user/-/profile.json", "bad", nil)
	if r.Status != 401 || r.Header.Get("Fitbit-Rate-Limit-Limit") != "3" {
		t.Fatalf("401 headers: %v", r.Header)
	}
	// The next clock hour resets the counter.
	clk.Advance(44*time.Minute + 30*time.Second)
	r = api(t, s, "GET", "/1/user/-/profile.json", tr.AccessToken, nil)
	if r.Status != 200 || r.Header.Get("Fitbit-Rate-Limit-Remaining") != "2" || r.Header.Get("Fitbit-Rate-Limit-Reset") != "3600" {
		t.Fatalf("after reset: %d %v", r.Status, r.Header)
	}
	if st := s.Stats(); st.API429 != 1 {
		t.Fatalf("stats = %+v", st)
	}
	if u := s.UserStats("22B7NF"); u.APIRequests != 5 {
		t.Fatalf("user stats = %+v", u)
	}

	unl, _ := start(t, Config{RateLimitPerHour: -1})
	tr = unl.MintTokens("", "profile")
	for range 200 {
		if r := api(t, unl, "GET", "/1/user/-/profile.json", tr.AccessToken, nil); r.Status != 200 {
			t.Fatalf("unlimited: %d", r.Status)
		}
	}
}
