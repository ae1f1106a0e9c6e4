package authserver

import (
	"net/http"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
)

// Error is a refusal of the token, revoke or introspect endpoint, or of an
// API call's Bearer token, in Fitbit's envelope and wording
// (https://dev.fitbit.com/build/reference/web-api/troubleshooting-guide/error-messages/).
// Fitbit's messages quoted the token or code at fault; these never do, so a
// message may be logged or shown as it is.
type Error struct {
	Status    int
	ErrorType string
	Message   string
	// RetryAfter, on a 429, is sent as the Retry-After header.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return "authserver: " + e.ErrorType + ": " + e.Message }

// visit ends every message, as it ended Fitbit's.
const visit = " Visit https://dev.fitbit.com/docs/oauth2 for more information on the Fitbit Web API authorization process."

// Write answers the request with e.
func (e *Error) Write(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	switch e.Status {
	case http.StatusUnauthorized:
		if e.ErrorType == apierror.InvalidClient {
			// As Fitbit answered a bad client authentication (RFC 6749 §5.2:
			// a 401 names the scheme the client should use).
			w.Header().Set("WWW-Authenticate", `Basic realm="api.fitbit.com"`)
		}
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", ratelimit.RetryAfterHeader(e.RetryAfter))
	}
	it := apierror.Item{ErrorType: e.ErrorType, Message: e.Message}
	if e.ErrorType == apierror.System {
		it.FieldName = "n/a"
	}
	apierror.Write(w, e.Status, it)
}

// result is e as an outcome for Server.Observe: "ok" for none.
func (e *Error) result() string {
	switch {
	case e == nil:
		return "ok"
	case e == errStore:
		return "store_unavailable"
	case e.Status == http.StatusTooManyRequests:
		return "rate_limited"
	case e.Status == http.StatusMethodNotAllowed:
		return "method_not_allowed"
	}
	return e.ErrorType
}

func invalidRequest(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, ErrorType: apierror.InvalidRequest, Message: msg + visit}
}

func missing(param string) *Error { return invalidRequest("Missing parameters: " + param + ".") }

func invalidGrant(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, ErrorType: apierror.InvalidGrant, Message: msg + visit}
}

func invalidClient(msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, ErrorType: apierror.InvalidClient, Message: msg + visit}
}

// The refusals of a Bearer token on an API call: expired_token makes an app
// refresh, as it did against Fitbit; invalid_token makes it sign in again.
var (
	errExpiredToken = &Error{Status: http.StatusUnauthorized, ErrorType: apierror.ExpiredToken, Message: "Access token expired." + visit}
	errInvalidToken = &Error{Status: http.StatusUnauthorized, ErrorType: apierror.InvalidToken, Message: "Access token invalid." + visit}
)

// errStore answers a request the token store could not serve.
var errStore = &Error{Status: http.StatusServiceUnavailable, ErrorType: apierror.ConnectionStoreFailure,
	Message: "The gateway's token store is unavailable; retry shortly."}

func tooManyRequests(d time.Duration) *Error {
	return &Error{Status: http.StatusTooManyRequests, ErrorType: apierror.System, Message: "Too Many Requests", RetryAfter: d}
}

// IsExpired reports whether e is the refusal of an expired access token.
func IsExpired(e *Error) bool { return e == errExpiredToken }
