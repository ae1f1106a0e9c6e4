package legacy

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/oauth1"
	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
)

// Error is an OAuth 1.0a failure in the shape Fitbit answered it: the Fitbit
// envelope with errorType "oauth" and the parameter at fault as fieldName.
// Fitbit's messages used the OAuth Problem Reporting vocabulary, e.g.
// fieldName "oauth_timestamp" with "oauth_acceptable_timestamps=<from>-<to>",
// or fieldName "n/a" with "oauth_problem=parameter_absent&…"; so do these.
// A message never holds a token, secret or signature (Fitbit's echoed the
// token; the gateway does not).
type Error struct {
	Status    int
	FieldName string
	Message   string
	// RetryAfter, on a 429, is sent as the Retry-After header.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return "oauth1: " + e.FieldName + ": " + e.Message }

// Write answers the request with e.
func (e *Error) Write(w http.ResponseWriter, realm string) {
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `OAuth realm="`+strings.NewReplacer(`"`, "", `\`, "").Replace(realm)+`"`)
	}
	if e.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", ratelimit.RetryAfterHeader(e.RetryAfter))
	}
	apierror.Write(w, e.Status, apierror.Item{ErrorType: apierror.OAuth, FieldName: e.FieldName, Message: e.Message})
}

// Field names of the errors (Fitbit's).
const (
	fieldConsumerKey = "oauth_consumer_key"
	fieldSignature   = "oauth_signature"
	fieldAccessToken = "oauth_access_token"
	fieldTimestamp   = "oauth_timestamp"
	fieldNonce       = "oauth_nonce"
	fieldVerifier    = "oauth_verifier"
	fieldCallback    = "oauth_callback"
	fieldNone        = "n/a"
)

func unauthorized(field, msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, FieldName: field, Message: msg}
}

func badRequest(field, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, FieldName: field, Message: msg}
}

// errNoCredentials is returned by Authenticate for a request that carries no
// OAuth 1.0a parameters at all.
var errNoCredentials = unauthorized(fieldNone, "oauth_problem=parameter_absent&oauth_parameters_absent="+
	url.QueryEscape("oauth_consumer_key&oauth_signature_method&oauth_signature&oauth_timestamp&oauth_nonce")+
	": sign the request with OAuth 1.0a")

// IsNoCredentials reports whether err says the request was not signed at all.
func IsNoCredentials(err *Error) bool { return err == errNoCredentials }

// requestError maps an oauth1 parsing error to the answer.
func requestError(err error) *Error {
	var missing *oauth1.MissingParamError
	switch {
	case errors.Is(err, oauth1.ErrTooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, FieldName: fieldNone, Message: "the signed request is too large"}
	case errors.As(err, &missing):
		return unauthorized(fieldNone, "oauth_problem=parameter_absent&oauth_parameters_absent="+url.QueryEscape(missing.Name))
	case errors.Is(err, oauth1.ErrDuplicateParam):
		return badRequest(fieldNone, "oauth_problem=parameter_rejected: an OAuth parameter occurs more than once")
	case errors.Is(err, oauth1.ErrUnsupportedMethod):
		return badRequest(fieldSignature, "oauth_problem=signature_method_rejected: use HMAC-SHA1 or HMAC-SHA256 (PLAINTEXT only over TLS)")
	default:
		return badRequest(fieldNone, fmt.Sprintf("oauth_problem=parameter_rejected: malformed OAuth parameters (%s)", trimErr(err)))
	}
}

// trimErr is the package error text without the "oauth1: " prefix and
// without the quoted values some errors carry.
func trimErr(err error) string {
	s := strings.TrimPrefix(err.Error(), "oauth1: ")
	if i := strings.IndexByte(s, '"'); i >= 0 {
		s = strings.TrimRight(s[:i], " :")
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}
