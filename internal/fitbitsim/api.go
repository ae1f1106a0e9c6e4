package fitbitsim

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// MaxAPIBody is the largest data-API request body the simulator accepts.
const MaxAPIBody = 4 << 20

// apiRequest is an authenticated data-API request being served.
type apiRequest struct {
	*http.Request
	user  string
	token *accessToken
	body  []byte
}

// serveAPI authenticates, rate-limits, records and routes a data request.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	s.stats.apiRequests.Add(1)
	// Recorded, with its status, before the response leaves, so a test that
	// has read the response always finds the request in Requests().
	rc := simkit.Record(w, r, MaxAPIBody, &s.RequestLog)
	defer rc.Finish() // a handler that wrote nothing answered 200
	rec := rc.W

	tok, _ := simkit.BearerToken(r)
	at, st := s.checkAccess(tok, true)
	if st != accessOK {
		s.stats.api401.Add(1)
		user := ""
		if at != nil {
			user = at.userID
		}
		s.takeRate(user, false).setHeaders(rec.Header())
		writeAccessError(rec, tok, st)
		return
	}
	rc.Req.UserID = at.userID
	s.mu.Lock()
	s.userLocked(at.userID).stats.APIRequests++
	s.mu.Unlock()

	rs := s.takeRate(at.userID, true)
	rs.setHeaders(rec.Header())
	if rs.exceeded {
		s.stats.api429.Add(1)
		rec.Header().Set("Retry-After", strconv.Itoa(rs.reset))
		apierror.Write(rec, http.StatusTooManyRequests, apierror.Item{
			ErrorType: apierror.System, FieldName: "n/a", Message: "Too Many Requests"})
		return
	}
	if rc.ReadErr != nil {
		apierror.Write(rec, http.StatusBadRequest, apierror.Item{
			ErrorType: "request", Message: "The request body could not be read."})
		return
	}
	if rc.TooLarge {
		apierror.Write(rec, http.StatusRequestEntityTooLarge, apierror.Item{
			ErrorType: "request", Message: "The request body is too large."})
		return
	}
	s.route(rec, &apiRequest{Request: r, user: at.userID, token: at, body: rc.Body})
}

// route is one data endpoint.
type route struct {
	pattern *regexp.Regexp // on the path, with the user id as group 1
	methods []string       // nil: any method
	scope   string         // "" for none
	handle  func(s *Server, w http.ResponseWriter, r *apiRequest, m []string)
}

var routes = []route{
	{regexp.MustCompile(`^/1/user/([^/]+)/profile\.json$`), []string{"GET"}, "profile", (*Server).getProfile},
	{regexp.MustCompile(`^/1/user/([^/]+)/activities/date/([^/]+)\.json$`), []string{"GET"}, "activity", (*Server).getActivities},
	{regexp.MustCompile(`^/1/user/([^/]+)/activities/heart/date/([^/]+)/1d(?:/([^/]+))?\.json$`), []string{"GET"}, "heartrate", (*Server).getHeart},
	{regexp.MustCompile(`^/1\.2/user/([^/]+)/sleep/date/([^/]+)\.json$`), []string{"GET"}, "sleep", (*Server).getSleep},
	{regexp.MustCompile(`^/1/user/([^/]+)/activities\.json$`), []string{"POST"}, "activity", (*Server).logActivity},
	{regexp.MustCompile(`^/1/user/([^/]+)/echo(?:\.json)?$`), nil, "", (*Server).echo},
}

// collectionNames are the words Fitbit uses in insufficient_scope messages.
var collectionNames = map[string]string{
	"profile": "profile", "activity": "activity", "heartrate": "heart rate", "sleep": "sleep",
}

func (s *Server) route(w http.ResponseWriter, r *apiRequest) {
	for _, rt := range routes {
		m := rt.pattern.FindStringSubmatch(r.URL.Path)
		if m == nil {
			continue
		}
		if rt.methods != nil && !slices.Contains(rt.methods, r.Method) {
			methodNotAllowed(w, r.Request, strings.Join(rt.methods, ", "))
			return
		}
		if m[1] != "-" && m[1] != r.user {
			apierror.Write(w, http.StatusForbidden, apierror.Item{
				ErrorType: apierror.InsufficientPermissions,
				Message:   "Only the owner of this resource can access it. The token belongs to a different user. " + visit,
			})
			return
		}
		if rt.scope != "" && !slices.Contains(r.token.scopes, rt.scope) {
			apierror.Write(w, http.StatusForbidden, apierror.Item{
				ErrorType: apierror.InsufficientScope,
				Message:   "This application does not have permission to access " + collectionNames[rt.scope] + " data. " + visit,
			})
			return
		}
		rt.handle(s, w, r, m)
		return
	}
	apierror.Write(w, http.StatusNotFound, apierror.Item{
		ErrorType: "not_found", FieldName: "n/a", Message: "The API you are requesting could not be found."})
}

// resolveDate accepts yyyy-MM-dd or "today" (by the simulator's clock, UTC).
func (s *Server) resolveDate(w http.ResponseWriter, d string) (time.Time, bool) {
	if d == "today" {
		return s.now().UTC().Truncate(24 * time.Hour), true
	}
	t, err := time.Parse(time.DateOnly, d)
	if err != nil {
		apierror.Write(w, http.StatusBadRequest, apierror.Item{
			ErrorType: "validation", FieldName: "date", Message: "Invalid date:" + d})
		return time.Time{}, false
	}
	return t, true
}

func (s *Server) getProfile(w http.ResponseWriter, r *apiRequest, _ []string) {
	writeJSON(w, http.StatusOK, map[string]any{"user": profileFor(r.user, unitsFor(r.Request))})
}

func (s *Server) getActivities(w http.ResponseWriter, r *apiRequest, m []string) {
	day, ok := s.resolveDate(w, m[2])
	if !ok {
		return
	}
	s.mu.Lock()
	logs := append([]map[string]any{}, s.userLocked(r.user).logs[day.Format(time.DateOnly)]...)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, activitiesFor(r.user, day, logs, unitsFor(r.Request)))
}

// heartDetail maps a detail level to the intraday dataset's interval and type.
var heartDetail = map[string]struct {
	interval int
	typ      string
	step     time.Duration
}{
	"1sec":  {1, "second", 15 * time.Second}, // Fitbit's 1sec data is sparse too
	"1min":  {1, "minute", time.Minute},
	"5min":  {5, "minute", 5 * time.Minute},
	"15min": {15, "minute", 15 * time.Minute},
}

func (s *Server) getHeart(w http.ResponseWriter, r *apiRequest, m []string) {
	day, ok := s.resolveDate(w, m[2])
	if !ok {
		return
	}
	level := m[3]
	if level == "" {
		writeJSON(w, http.StatusOK, heartFor(r.user, day, nil))
		return
	}
	d, ok := heartDetail[level]
	if !ok {
		apierror.Write(w, http.StatusBadRequest, apierror.Item{
			ErrorType: "validation", FieldName: "detail-level",
			Message: "Invalid detail-level: " + level + ". Allowed values: 1sec, 1min, 5min, 15min."})
		return
	}
	if !s.cfg.IntradayApproved && s.cfg.AppType != PersonalApp {
		apierror.Write(w, http.StatusForbidden, apierror.Item{
			ErrorType: apierror.InsufficientPermissions,
			Message:   "API client is not authorized by Fitbit to access the resource requested. " + visit,
		})
		return
	}
	until := day.Add(24 * time.Hour)
	if now := s.now().UTC(); now.Before(until) {
		until = now // no data from the future
	}
	writeJSON(w, http.StatusOK, heartFor(r.user, day, &intraday{interval: d.interval, typ: d.typ, step: d.step, until: until}))
}

func (s *Server) getSleep(w http.ResponseWriter, r *apiRequest, m []string) {
	day, ok := s.resolveDate(w, m[2])
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, sleepFor(r.user, day))
}

var (
	startTimeRE = regexp.MustCompile(`^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$`)
	digitsRE    = regexp.MustCompile(`^\d{1,12}$`)
)

// logActivity is POST /1/user/-/activities.json: form parameters (body or
// query string) as Fitbit takes them. Required: date, startTime,
// durationMillis, and activityId or activityName (with manualCalories).
func (s *Server) logActivity(w http.ResponseWriter, r *apiRequest, _ []string) {
	form, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		form = url.Values{}
	}
	if ct := r.Header.Get("Content-Type"); ct == "" || strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
		bodyForm, err := url.ParseQuery(string(r.body))
		if err != nil {
			validation(w, "body", "The request body is not a valid form.")
			return
		}
		for k, v := range bodyForm {
			form[k] = v
		}
	}
	switch {
	case form.Get("activityId") == "" && form.Get("activityName") == "":
		validation(w, "activityId", "activityId or activityName is required.")
		return
	case form.Get("activityId") != "" && !digitsRE.MatchString(form.Get("activityId")):
		validation(w, "activityId", "Invalid activityId: "+form.Get("activityId"))
		return
	case form.Get("activityId") == "" && !digitsRE.MatchString(form.Get("manualCalories")):
		validation(w, "manualCalories", "manualCalories is required with activityName.")
		return
	case !startTimeRE.MatchString(form.Get("startTime")):
		validation(w, "startTime", "Invalid startTime: "+form.Get("startTime")+". Expected HH:mm or HH:mm:ss.")
		return
	case !digitsRE.MatchString(form.Get("durationMillis")) || form.Get("durationMillis") == "0":
		validation(w, "durationMillis", "Invalid durationMillis: "+form.Get("durationMillis"))
		return
	}
	if _, err := time.Parse(time.DateOnly, form.Get("date")); err != nil {
		validation(w, "date", "Invalid date:"+form.Get("date"))
		return
	}
	entry := map[string]any{}
	for k := range form {
		entry[k] = form.Get(k)
	}
	s.mu.Lock()
	s.logSeq++
	entry["logId"] = 1_000_000_000 + s.logSeq
	u := s.userLocked(r.user)
	u.logs[form.Get("date")] = append(u.logs[form.Get("date")], entry)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"activityLog": entry})
}

func validation(w http.ResponseWriter, field, msg string) {
	apierror.Write(w, http.StatusBadRequest, apierror.Item{ErrorType: "validation", FieldName: field, Message: msg})
}

// echoResponse is the body of the (non-Fitbit) echo endpoint.
type echoResponse struct {
	simkit.Echo
	UserID string `json:"userId"`
}

// echo answers any method with what it received, for replay tests.
func (s *Server) echo(w http.ResponseWriter, r *apiRequest, _ []string) {
	writeJSON(w, http.StatusOK, echoResponse{Echo: simkit.EchoOf(r.Request, r.body), UserID: r.user})
}
