package googlesim

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// MaxAPIBody is the largest data-API request body the simulator accepts.
const MaxAPIBody = 4 << 20

// The JSON of Google's error answers (google.rpc.Status with ErrorInfo
// details), shared with the gateway, which writes the same dialect.
type (
	ErrorBody   = apierror.StatusBody
	StatusError = apierror.StatusJSON
	ErrorInfo   = apierror.ErrorInfo
)

// Messages of the errors the API sends.
const (
	MsgUnauthenticated = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	MsgMissingCreds    = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	MsgScopes          = "Request had insufficient authentication scopes."
	MsgNotFound        = "Method not found."
	MsgQuota           = "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute per user' of service 'health.googleapis.com'."
)

const (
	apiService  = "health.googleapis.com"
	rpcPrefix   = "google.devicesandservices.health.v4."
	googleRealm = `Bearer realm="https://accounts.google.com/"`
)

func writeStatus(w http.ResponseWriter, code int, status, msg string, details []ErrorInfo) {
	writeJSON(w, code, ErrorBody{Error: StatusError{Code: code, Message: msg, Status: status, Details: details}})
}

func errorInfo(reason, method string) []ErrorInfo {
	md := map[string]string{"service": apiService}
	if method != "" {
		md["method"] = rpcPrefix + method
	}
	return []ErrorInfo{{Type: apierror.ErrorInfoType, Reason: reason, Domain: "googleapis.com", Metadata: md}}
}

func invalidArgument(w http.ResponseWriter, msg string) {
	writeStatus(w, http.StatusBadRequest, "INVALID_ARGUMENT", msg, nil)
}

// apiRequest is an authenticated data-API request being served.
type apiRequest struct {
	*http.Request
	user     string // healthUserId
	pathUser string // "me" or the id, as in the path
	token    *accessToken
	body     []byte
}

// route is one data endpoint.
type route struct {
	pattern *regexp.Regexp // on the path; group 1 is the user
	methods []string       // nil: any method
	rpc     string         // Service.Method, for error metadata
	// area returns the scope area the request needs: "" for any Health
	// scope, "-" for any token at all; ok=false rejects the data type.
	area   func(m []string) (area string, ok bool)
	handle func(s *Server, w http.ResponseWriter, r *apiRequest, m []string)
	write  bool // needs the area's .writeonly scope instead of .readonly
}

func fixedArea(a string) func([]string) (string, bool) {
	return func([]string) (string, bool) { return a, true }
}

func typeArea(m []string) (string, bool) {
	dt, ok := dataTypes[m[2]]
	return dt.area, ok
}

var routes = []route{
	{regexp.MustCompile(`^/v4/users/([^/]+)/identity$`), []string{"GET"}, "HealthProfileService.GetIdentity", fixedArea(""), (*Server).getIdentity, false},
	{regexp.MustCompile(`^/v4/users/([^/]+)/profile$`), []string{"GET"}, "HealthProfileService.GetProfile", fixedArea(AreaProfile), (*Server).getProfile, false},
	{regexp.MustCompile(`^/v4/users/([^/]+)/settings$`), []string{"GET"}, "HealthProfileService.GetSettings", fixedArea(AreaSettings), (*Server).getSettings, false},
	{regexp.MustCompile(`^/v4/users/([^/]+)/pairedDevices$`), []string{"GET"}, "PairedDevicesService.ListPairedDevices", fixedArea(AreaSettings), (*Server).listPairedDevices, false},
	{regexp.MustCompile(`^/v4/users/([^/]+)/dataTypes/([^/:]+)/dataPoints$`), []string{"GET"}, "DataPointsService.ListDataPoints", typeArea, (*Server).listDataPoints, false},
	{regexp.MustCompile(`^/v4/users/([^/]+)/dataTypes/([^/:]+)/dataPoints$`), []string{"POST"}, "DataPointsService.CreateDataPoint", typeArea, (*Server).createDataPoint, true},
	{regexp.MustCompile(`^/v4/users/([^/]+)/dataTypes/([^/:]+)/dataPoints:batchDelete$`), []string{"POST"}, "DataPointsService.BatchDeleteDataPoints", writeArea, (*Server).batchDelete, true},
	{regexp.MustCompile(`^/v4/users/([^/]+)/dataTypes/([^/:]+)/dataPoints:dailyRollUp$`), []string{"POST"}, "DataPointsService.DailyRollUpDataPoints", typeArea, (*Server).dailyRollUp, false},
	{regexp.MustCompile(`^/v4/users/([^/]+)/dataTypes/([^/:]+)/dataPoints:reconcile$`), []string{"GET"}, "DataPointsService.ReconcileDataPoints", typeArea, (*Server).reconcileDataPoints, false},
	{regexp.MustCompile(`^/v4/users/([^/]+)/dataTypes/([^/:]+)/dataPoints:rollUp$`), []string{"POST"}, "DataPointsService.RollUpDataPoints", typeArea, (*Server).rollUp, false},
	{regexp.MustCompile(`^/v4/users/([^/]+)/echo$`), nil, "", fixedArea("-"), (*Server).echo, false},
}

// serveAPI routes, authenticates, rate-limits and records a data request,
// in the order Google's front end answers: an unknown method before
// authentication, then credentials, quota, the body, and the caller's
// right to the user and the data type.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	s.stats.apiRequests.Add(1)
	// Recorded, with its status, before the response leaves, so a test that
	// has read the response always finds the request in Requests().
	rc := simkit.Record(w, r, MaxAPIBody, &s.RequestLog)
	defer rc.Finish() // a handler that wrote nothing answered 200
	rec := rc.W

	rt, m := matchRoute(r)
	if rt == nil {
		s.stats.api404.Add(1)
		writeStatus(rec, http.StatusNotFound, "NOT_FOUND", MsgNotFound, nil)
		return
	}
	at := s.authenticate(rec, r, rc, rt.rpc)
	if at == nil || !s.withinQuota(rec, at.userID, rt.rpc) || !bodyRead(rec, rc) ||
		!s.mayRead(rec, at, rt, m) {
		return
	}
	rt.handle(s, rec, &apiRequest{Request: r, user: at.userID, pathUser: m[1], token: at, body: rc.Body}, m)
}

// matchRoute finds r's route and its path's submatches; nil when no route
// has r's path and method.
func matchRoute(r *http.Request) (*route, []string) {
	for i := range routes {
		m := routes[i].pattern.FindStringSubmatch(r.URL.Path)
		if m != nil && (routes[i].methods == nil || slices.Contains(routes[i].methods, r.Method)) {
			return &routes[i], m
		}
	}
	return nil, nil
}

// authenticate returns the request's valid access token, or answers 401
// and returns nil. A known token, even expired or revoked, is counted for
// its user, and the request recorded as theirs.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, rc *simkit.Recording, rpc string) *accessToken {
	tok, hasBearer := simkit.BearerToken(r)
	if !hasBearer {
		tok = ""
	}
	at, st := s.checkAccess(tok)
	if at != nil {
		rc.Req.UserID = at.userID
		s.withUserStats(at.userID, func(u *UserStats) {
			u.APIRequests++
			if st != accessOK {
				u.API401++
			}
		})
	}
	if st == accessOK {
		return at
	}
	s.stats.api401.Add(1)
	switch st {
	case accessMissing:
		w.Header().Set("WWW-Authenticate", googleRealm)
		writeStatus(w, http.StatusUnauthorized, "UNAUTHENTICATED", MsgMissingCreds, errorInfo("CREDENTIALS_MISSING", rpc))
	case accessExpired:
		w.Header().Set("WWW-Authenticate", googleRealm+`, error="invalid_token"`)
		writeStatus(w, http.StatusUnauthorized, "UNAUTHENTICATED", MsgUnauthenticated, errorInfo("ACCESS_TOKEN_EXPIRED", rpc))
	default:
		w.Header().Set("WWW-Authenticate", googleRealm+`, error="invalid_token"`)
		writeStatus(w, http.StatusUnauthorized, "UNAUTHENTICATED", MsgUnauthenticated, errorInfo("ACCESS_TOKEN_TYPE_UNSUPPORTED", rpc))
	}
	return nil
}

// withinQuota takes one request of user's per-minute quota, or answers 429
// and reports false.
func (s *Server) withinQuota(w http.ResponseWriter, user, rpc string) bool {
	rs := s.takeRate(user)
	if !rs.exceeded {
		return true
	}
	s.stats.api429.Add(1)
	s.withUserStats(user, func(u *UserStats) { u.API429++ })
	w.Header().Set("Retry-After", strconv.Itoa(rs.retryAfter))
	writeStatus(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", MsgQuota, errorInfo("RATE_LIMIT_EXCEEDED", rpc))
	return false
}

// bodyRead reports whether the request body was read whole, or answers
// 400.
func bodyRead(w http.ResponseWriter, rc *simkit.Recording) bool {
	switch {
	case rc.ReadErr != nil:
		invalidArgument(w, "The request body could not be read.")
	case rc.TooLarge:
		invalidArgument(w, "Request payload size exceeds the limit: "+strconv.Itoa(MaxAPIBody)+" bytes.")
	default:
		return true
	}
	return false
}

// mayRead reports whether the token may make the request: the path's user
// is the token's, the data type is known and the token has its scope.
// Otherwise it answers 403 or 400.
func (s *Server) mayRead(w http.ResponseWriter, at *accessToken, rt *route, m []string) bool {
	if m[1] != "me" && m[1] != at.userID {
		s.forbidden(w, at.userID, "PERMISSION_DENIED", "The caller does not have permission", nil)
		return false
	}
	area, known := rt.area(m)
	if !known {
		invalidArgument(w, "Invalid data type: "+truncate(m[2], 64))
		return false
	}
	if s.allowed(at.scopes, area, rt.write) {
		return true
	}
	need := s.Scope(area, rt.write)
	if area == "" {
		need = strings.Join(s.readScopes(), " ")
	}
	w.Header().Set("WWW-Authenticate", googleRealm+`, error="insufficient_scope", scope="`+need+`"`)
	s.forbidden(w, at.userID, "PERMISSION_DENIED", MsgScopes, errorInfo("ACCESS_TOKEN_SCOPE_INSUFFICIENT", rt.rpc))
	return false
}

func (s *Server) forbidden(w http.ResponseWriter, user, status, msg string, details []ErrorInfo) {
	s.stats.api403.Add(1)
	s.withUserStats(user, func(u *UserStats) { u.API403++ })
	writeStatus(w, http.StatusForbidden, status, msg, details)
}

// allowed reports whether scopes allow a request needing area: "-" needs
// nothing, "" any Health scope, otherwise the area's .readonly scope, or
// its .writeonly one for a write.
func (s *Server) allowed(scopes []string, area string, write bool) bool {
	switch area {
	case "-":
		return true
	case "":
		return slices.ContainsFunc(scopes, s.isHealthScope)
	}
	return slices.Contains(scopes, s.Scope(area, write))
}

func (s *Server) readScopes() []string {
	out := make([]string, 0, len(Areas))
	for _, a := range Areas {
		out = append(out, s.Scope(a, false))
	}
	return out
}

// Identity is the body of GET /v4/users/me/identity.
type Identity struct {
	Name         string `json:"name"`
	HealthUserID string `json:"healthUserId"`
	LegacyUserID string `json:"legacyUserId,omitempty"`
}

func (s *Server) getIdentity(w http.ResponseWriter, r *apiRequest, _ []string) {
	writeJSON(w, http.StatusOK, Identity{
		Name:         "users/" + r.pathUser + "/identity",
		HealthUserID: r.user,
		LegacyUserID: s.cfg.LegacyUserIDs[r.user],
	})
}

func (s *Server) getProfile(w http.ResponseWriter, r *apiRequest, _ []string) {
	p := profileFor(s.person(r.user), s.now())
	p["name"] = "users/" + r.pathUser + "/profile"
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) getSettings(w http.ResponseWriter, r *apiRequest, _ []string) {
	p := settingsFor(s.person(r.user), r.user, s.now())
	p["name"] = "users/" + r.pathUser + "/settings"
	writeJSON(w, http.StatusOK, p)
}

// EchoResponse is the body of the (non-Google) echo endpoint.
type EchoResponse struct {
	simkit.Echo
	UserID string `json:"healthUserId"`
}

// echo answers any method with what it received, for replay tests.
func (s *Server) echo(w http.ResponseWriter, r *apiRequest, _ []string) {
	writeJSON(w, http.StatusOK, EchoResponse{Echo: simkit.EchoOf(r.Request, r.body), UserID: r.user})
}
