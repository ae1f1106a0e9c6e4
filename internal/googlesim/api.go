package googlesim

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// MaxAPIBody is the largest data-API request body the simulator accepts.
const MaxAPIBody = 4 << 20

// ErrorBody is Google's JSON error envelope (google.rpc.Status).
type ErrorBody struct {
	Error StatusError `json:"error"`
}

// StatusError is the google.rpc.Status inside an ErrorBody.
type StatusError struct {
	Code    int         `json:"code"`
	Message string      `json:"message"`
	Status  string      `json:"status"`
	Details []ErrorInfo `json:"details,omitempty"`
}

// ErrorInfo is a google.rpc.ErrorInfo detail.
type ErrorInfo struct {
	Type     string            `json:"@type"`
	Reason   string            `json:"reason"`
	Domain   string            `json:"domain"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

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
	errorInfoT  = "type.googleapis.com/google.rpc.ErrorInfo"
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
	return []ErrorInfo{{Type: errorInfoT, Reason: reason, Domain: "googleapis.com", Metadata: md}}
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
}

func fixedArea(a string) func([]string) (string, bool) {
	return func([]string) (string, bool) { return a, true }
}

func typeArea(m []string) (string, bool) {
	dt, ok := dataTypes[m[2]]
	return dt.area, ok
}

var routes = []route{
	{regexp.MustCompile(`^/v4/users/([^/]+)/identity$`), []string{"GET"}, "HealthProfileService.GetIdentity", fixedArea(""), (*Server).getIdentity},
	{regexp.MustCompile(`^/v4/users/([^/]+)/profile$`), []string{"GET"}, "HealthProfileService.GetProfile", fixedArea(AreaProfile), (*Server).getProfile},
	{regexp.MustCompile(`^/v4/users/([^/]+)/settings$`), []string{"GET"}, "HealthProfileService.GetSettings", fixedArea(AreaSettings), (*Server).getSettings},
	{regexp.MustCompile(`^/v4/users/([^/]+)/dataTypes/([^/:]+)/dataPoints$`), []string{"GET"}, "DataPointsService.ListDataPoints", typeArea, (*Server).listDataPoints},
	{regexp.MustCompile(`^/v4/users/([^/]+)/dataTypes/([^/:]+)/dataPoints:dailyRollUp$`), []string{"POST"}, "DataPointsService.DailyRollUpDataPoints", typeArea, (*Server).dailyRollUp},
	{regexp.MustCompile(`^/v4/users/([^/]+)/echo$`), nil, "", fixedArea("-"), (*Server).echo},
}

// serveAPI routes, authenticates, rate-limits and records a data request.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	s.stats.apiRequests.Add(1)
	// Recorded, with its status, before the response leaves, so a test that
	// has read the response always finds the request in Requests().
	rc := simkit.Record(w, r, MaxAPIBody, &s.RequestLog)
	defer rc.Finish() // a handler that wrote nothing answered 200
	rec := rc.W

	// Like Google's front end, an unknown method is answered before
	// authentication.
	var rt *route
	var m []string
	for i := range routes {
		if m = routes[i].pattern.FindStringSubmatch(r.URL.Path); m != nil {
			if routes[i].methods == nil || slices.Contains(routes[i].methods, r.Method) {
				rt = &routes[i]
			}
			break
		}
	}
	if rt == nil {
		s.stats.api404.Add(1)
		writeStatus(rec, http.StatusNotFound, "NOT_FOUND", MsgNotFound, nil)
		return
	}

	tok, hasBearer := simkit.BearerToken(r)
	if !hasBearer {
		tok = ""
	}
	at, st := s.checkAccess(tok)
	if at != nil {
		rc.Req.UserID = at.userID
		s.mu.Lock()
		u := s.userLocked(at.userID)
		u.stats.APIRequests++
		if st != accessOK {
			u.stats.API401++
		}
		s.mu.Unlock()
	}
	if st != accessOK {
		s.stats.api401.Add(1)
		switch st {
		case accessMissing:
			rec.Header().Set("WWW-Authenticate", googleRealm)
			writeStatus(rec, http.StatusUnauthorized, "UNAUTHENTICATED", MsgMissingCreds, errorInfo("CREDENTIALS_MISSING", rt.rpc))
		case accessExpired:
			rec.Header().Set("WWW-Authenticate", googleRealm+`, error="invalid_token"`)
			writeStatus(rec, http.StatusUnauthorized, "UNAUTHENTICATED", MsgUnauthenticated, errorInfo("ACCESS_TOKEN_EXPIRED", rt.rpc))
		default:
			rec.Header().Set("WWW-Authenticate", googleRealm+`, error="invalid_token"`)
			writeStatus(rec, http.StatusUnauthorized, "UNAUTHENTICATED", MsgUnauthenticated, errorInfo("ACCESS_TOKEN_TYPE_UNSUPPORTED", rt.rpc))
		}
		return
	}

	if rs := s.takeRate(at.userID); rs.exceeded {
		s.stats.api429.Add(1)
		s.withUserStats(at.userID, func(u *UserStats) { u.API429++ })
		rec.Header().Set("Retry-After", strconv.Itoa(rs.retryAfter))
		writeStatus(rec, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", MsgQuota, errorInfo("RATE_LIMIT_EXCEEDED", rt.rpc))
		return
	}
	if rc.ReadErr != nil {
		invalidArgument(rec, "The request body could not be read.")
		return
	}
	if rc.TooLarge {
		invalidArgument(rec, "Request payload size exceeds the limit: "+strconv.Itoa(MaxAPIBody)+" bytes.")
		return
	}
	if m[1] != "me" && m[1] != at.userID {
		s.forbidden(rec, at.userID, "PERMISSION_DENIED", "The caller does not have permission", nil)
		return
	}
	area, known := rt.area(m)
	if !known {
		invalidArgument(rec, "Invalid data type: "+truncate(m[2], 64))
		return
	}
	if !s.allowed(at.scopes, area) {
		need := s.Scope(area, false)
		if area == "" {
			need = strings.Join(s.readScopes(), " ")
		}
		rec.Header().Set("WWW-Authenticate", googleRealm+`, error="insufficient_scope", scope="`+need+`"`)
		s.forbidden(rec, at.userID, "PERMISSION_DENIED", MsgScopes, errorInfo("ACCESS_TOKEN_SCOPE_INSUFFICIENT", rt.rpc))
		return
	}
	rt.handle(s, rec, &apiRequest{Request: r, user: at.userID, pathUser: m[1], token: at, body: rc.Body}, m)
}

func (s *Server) forbidden(w http.ResponseWriter, user, status, msg string, details []ErrorInfo) {
	s.stats.api403.Add(1)
	s.withUserStats(user, func(u *UserStats) { u.API403++ })
	writeStatus(w, http.StatusForbidden, status, msg, details)
}

// allowed reports whether scopes allow a request needing area: "-" needs
// nothing, "" any Health scope, otherwise the area's .readonly scope.
func (s *Server) allowed(scopes []string, area string) bool {
	switch area {
	case "-":
		return true
	case "":
		return slices.ContainsFunc(scopes, s.isHealthScope)
	}
	return slices.Contains(scopes, s.Scope(area, false))
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
	p := profileFor(r.user, s.now())
	p["name"] = "users/" + r.pathUser + "/profile"
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) getSettings(w http.ResponseWriter, r *apiRequest, _ []string) {
	p := settingsFor(r.user)
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
