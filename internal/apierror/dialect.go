package apierror

import (
	"net/http"
	"strings"
)

// Dialect is the error language of an API: what a caller of that API's
// paths parses. Every error the gateway itself makes is written in the
// dialect of the path the caller used, so a Fitbit app meets Fitbit's
// envelope and a Google client library meets google.rpc.Status.
type Dialect uint8

// The dialects.
const (
	// Fitbit is Fitbit's envelope: {"errors":[{"errorType","message"}],"success":false}
	// (https://dev.fitbit.com/build/reference/web-api/troubleshooting-guide/error-messages/).
	Fitbit Dialect = iota
	// Google is google.rpc.Status with an ErrorInfo
	// (https://cloud.google.com/apis/design/errors, https://google.aip.dev/193).
	Google
	// OAuth1 is what a 2015 app that signs its calls with OAuth 1.0a
	// parses: Fitbit's envelope, and for a token it can no longer use
	// errorType oauth with an oauth_problem (as Fitbit answered, after
	// https://oauth.googlecode.com/svn/spec/ext/problem_reporting/1.0/oauth_problem_reporting_spec.html),
	// since such an app signs its user in again through its own OAuth 1.0a
	// flow and a connect URL means nothing to it.
	OAuth1
)

// Body encodes one gateway error in d. errorType is the gateway's (or
// Fitbit's) error type; in the Google dialect it becomes the ErrorInfo
// reason in UPPER_SNAKE_CASE, and status chooses the google.rpc.Code name.
// metadata is Google's ErrorInfo metadata (the connect URL, say); Fitbit's
// envelope has no place for it, so its messages carry what matters.
func (d Dialect) Body(status int, it Item, metadata map[string]string) []byte {
	if d == Google {
		return MarshalStatus(Status{Code: status, CodeName: CodeName(status), Message: it.Message,
			Reason: strings.ToUpper(it.ErrorType), Metadata: metadata})
	}
	return Marshal(it)
}

// ContentType is the media type of d's error bodies, as each API sends it.
func (d Dialect) ContentType() string {
	if d == Google {
		return "application/json; charset=UTF-8"
	}
	return "application/json;charset=UTF-8"
}

// CodeName is the google.rpc.Code name Google's APIs send with an HTTP
// status (https://cloud.google.com/apis/design/errors#handling_errors).
// google.rpc.Code has no 410: a provider that has turned its API off is
// NOT_FOUND (the API the caller asked for no longer exists), with the
// reason PROVIDER_GONE saying why.
func CodeName(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound, http.StatusGone:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ABORTED"
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	}
	if status >= 500 {
		return "INTERNAL"
	}
	return "FAILED_PRECONDITION"
}
