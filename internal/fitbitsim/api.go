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

// activityRE matches the activity time-series resources.
const activityRE = `(steps|distance|floors|elevation|calories|caloriesBMR|activityCalories|minutesSedentary|minutesLightlyActive|minutesFairlyActive|minutesVeryActive)`

var routes = []route{
	{regexp.MustCompile(`^/1/user/([^/]+)/profile\.json$`), []string{"GET"}, "profile", (*Server).getProfile},
	{regexp.MustCompile(`^/1/user/([^/]+)/activities/date/([^/]+)\.json$`), []string{"GET"}, "activity", (*Server).getActivities},
	{regexp.MustCompile(`^/1/user/([^/]+)/activities/(tracker/)?` + activityRE + `/date/([^/]+)/([^/]+)\.json$`), []string{"GET"}, "activity", (*Server).getActivitySeries},
	{regexp.MustCompile(`^/1/user/([^/]+)/activities/heart/date/([^/]+)/([^/]+)\.json$`), []string{"GET"}, "heartrate", (*Server).getHeartSeries},
	{regexp.MustCompile(`^/1/user/([^/]+)/activities/heart/date/([^/]+)/1d/([^/]+?)(?:/time/([^/]+)/([^/]+))?\.json$`), []string{"GET"}, "heartrate", (*Server).getHeartIntraday},
	{regexp.MustCompile(`^/1/user/([^/]+)/activities/(tracker/)?([^/]+)/date/([^/]+)/1d/([^/]+?)(?:/time/([^/]+)/([^/]+))?\.json$`), []string{"GET"}, "activity", (*Server).getActivityIntraday},
	{regexp.MustCompile(`^/1/user/([^/]+)/activities/list\.json$`), []string{"GET"}, "activity", (*Server).getActivityList},
	{regexp.MustCompile(`^/1\.2/user/([^/]+)/sleep/date/([^/]+)\.json$`), []string{"GET"}, "sleep", (*Server).getSleep},
	{regexp.MustCompile(`^/1/user/([^/]+)/sleep/date/([^/]+)\.json$`), []string{"GET"}, "sleep", (*Server).getSleepV1},
	{regexp.MustCompile(`^/1\.2/user/([^/]+)/sleep/date/([^/]+)/([^/]+)\.json$`), []string{"GET"}, "sleep", (*Server).getSleepRange},
	{regexp.MustCompile(`^/1\.2/user/([^/]+)/sleep/list\.json$`), []string{"GET"}, "sleep", (*Server).getSleepList},
	{regexp.MustCompile(`^/1/user/([^/]+)/body/log/(weight|fat)/date/([^/]+)(?:/([^/]+))?\.json$`), []string{"GET"}, "weight", (*Server).getBodyLogs},
	{regexp.MustCompile(`^/1/user/([^/]+)/body/log/(weight|fat)\.json$`), []string{"POST"}, "weight", (*Server).createBodyLog},
	{regexp.MustCompile(`^/1/user/([^/]+)/body/log/(weight|fat)/(\d{1,19})\.json$`), []string{"DELETE"}, "weight", (*Server).deleteBodyLog},
	{regexp.MustCompile(`^/1/user/([^/]+)/body/(weight|fat|bmi)/date/([^/]+)/([^/]+)\.json$`), []string{"GET"}, "weight", (*Server).getBodySeries},
	{regexp.MustCompile(`^/1/user/([^/]+)/(spo2)/date/([^/]+)(?:/([^/]+))?\.json$`), []string{"GET"}, "oxygen_saturation", (*Server).getNightly},
	{regexp.MustCompile(`^/1/user/([^/]+)/(hrv)/date/([^/]+)(?:/([^/]+))?\.json$`), []string{"GET"}, "heartrate", (*Server).getNightly},
	{regexp.MustCompile(`^/1/user/([^/]+)/(br)/date/([^/]+)(?:/([^/]+))?\.json$`), []string{"GET"}, "respiratory_rate", (*Server).getNightly},
	{regexp.MustCompile(`^/1/user/([^/]+)/(temp/skin)/date/([^/]+)(?:/([^/]+))?\.json$`), []string{"GET"}, "temperature", (*Server).getNightly},
	{regexp.MustCompile(`^/1/user/([^/]+)/(cardioscore)/date/([^/]+)(?:/([^/]+))?\.json$`), []string{"GET"}, "cardio_fitness", (*Server).getNightly},
	{regexp.MustCompile(`^/1/user/([^/]+)/devices\.json$`), []string{"GET"}, "settings", (*Server).getDevices},
	{regexp.MustCompile(`^/1/user/([^/]+)/activities\.json$`), []string{"POST"}, "activity", (*Server).logActivity},
	{regexp.MustCompile(`^/1/user/([^/]+)/echo(?:\.json)?$`), nil, "", (*Server).echo},
}

// collectionNames are the words Fitbit uses in insufficient_scope messages.
var collectionNames = map[string]string{
	"profile": "profile", "activity": "activity", "heartrate": "heart rate", "sleep": "sleep", "weight": "weight",
	"oxygen_saturation": "oxygen saturation", "respiratory_rate": "respiratory rate", "temperature": "temperature",
	"cardio_fitness": "cardio fitness", "settings": "settings",
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

func (s *Server) getProfile(w http.ResponseWriter, r *apiRequest, _ []string) {
	writeJSON(w, http.StatusOK, map[string]any{"user": profileFor(personOf(r.user), s.now(), unitsFor(r.Request))})
}

func (s *Server) getActivities(w http.ResponseWriter, r *apiRequest, m []string) {
	p := personOf(r.user)
	day, ok := s.resolveDate(w, p, m[2])
	if !ok {
		return
	}
	s.mu.Lock()
	logs := append([]map[string]any{}, s.userLocked(r.user).logs[day.Format(time.DateOnly)]...)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.activitiesFor(p, day, logs, unitsFor(r.Request)))
}

func (s *Server) getSleep(w http.ResponseWriter, r *apiRequest, m []string) {
	p := personOf(r.user)
	day, ok := s.resolveDate(w, p, m[2])
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, sleepFor(p, day, s.sleepsOf(p, day)))
}

var (
	startTimeRE = regexp.MustCompile(`^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$`)
	digitsRE    = regexp.MustCompile(`^\d{1,12}$`)
)

// logActivity is POST /1/user/-/activities.json: form parameters (body or
// query string) as Fitbit takes them. Required: date, startTime,
// durationMillis, and activityId or activityName (with manualCalories).
func (s *Server) logActivity(w http.ResponseWriter, r *apiRequest, _ []string) {
	form, ok := formOf(w, r)
	if !ok {
		return
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

// formOf reads a write's form parameters, from the body or, as old clients
// send them, the query string.
func formOf(w http.ResponseWriter, r *apiRequest) (url.Values, bool) {
	form, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		form = url.Values{}
	}
	if ct := r.Header.Get("Content-Type"); ct == "" || strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
		bodyForm, err := url.ParseQuery(string(r.body))
		if err != nil {
			validation(w, "body", "The request body is not a valid form.")
			return nil, false
		}
		for k, v := range bodyForm {
			form[k] = v
		}
	}
	return form, true
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
