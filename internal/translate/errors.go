package translate

import (
	"net/http"
	"time"
)

// Error types of the translation, in Fitbit's error envelope.
const (
	// NotAvailable is the gateway's errorType for a Fitbit path the
	// successor API cannot answer.
	NotAvailable = "not_available_from_successor"
	// Validation is Fitbit's own errorType for a malformed request.
	Validation = "validation"
)

// Error is a request the package refuses, with what an app needs to render
// Fitbit's envelope: the HTTP status, the errorType and a message. Successor
// names the Google Health API equivalent, when there is one.
type Error struct {
	Status    int
	Type      string
	FieldName string
	Message   string
	Successor string
	// RetryAfter, on a 429 or 503, is how long Google said to wait (0:
	// it did not say), for the app's Retry-After.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Successor != "" {
		return e.Type + ": " + e.Message + " (Google Health API: " + e.Successor + ")"
	}
	return e.Type + ": " + e.Message
}

func invalid(field, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Type: Validation, FieldName: field, Message: msg}
}

func notAvailable(msg, successor string) *Error {
	return &Error{Status: http.StatusNotFound, Type: NotAvailable, Message: msg, Successor: successor}
}

// InsufficientScope is Fitbit's errorType for a token without the scope an
// endpoint needs; Google's 403 for a missing scope becomes it, naming the
// Fitbit scope the app would have asked for.
const InsufficientScope = "insufficient_scope"

// Unavailable is the errorType when Google stays overloaded (429, 503 or
// 504) after the bounded backoff; the caller answers Fitbit's 429 or 503.
const Unavailable = "system"

// fitbitScopes names the Fitbit scope of each Google data type read.
var fitbitScopes = map[string]string{
	"steps": "activity", "distance": "activity", "floors": "activity", "altitude": "activity",
	"total-calories": "activity", "active-energy-burned": "activity", "active-minutes": "activity",
	"activity-level": "activity", "sedentary-period": "activity", "exercise": "activity",
	"heart-rate": "heartrate", "daily-resting-heart-rate": "heartrate", "daily-heart-rate-zones": "heartrate",
	"time-in-heart-rate-zone": "heartrate", "calories-in-heart-rate-zone": "heartrate",
	"sleep": "sleep", "weight": "weight", "body-fat": "weight", "height": "weight",
	"daily-oxygen-saturation": "oxygen_saturation", "daily-heart-rate-variability": "heartrate",
	"daily-respiratory-rate": "respiratory_rate", "daily-sleep-temperature-derivations": "temperature",
	"daily-vo2-max": "cardio_fitness",
}

func insufficientScope(dataType string) *Error {
	scope := fitbitScopes[dataType]
	if scope == "" {
		scope = "profile" // identity, profile and settings
	}
	return &Error{Status: http.StatusForbidden, Type: InsufficientScope, FieldName: scope,
		Message: "this call needs the " + scope + " scope, which the Google Health connection was not granted"}
}

// forbidden is Google's 403 that is not about scopes, as Fitbit's
// insufficient_permissions (facts.go).
func forbidden() *Error {
	return &Error{Status: http.StatusForbidden, Type: InsufficientPermissions,
		Message: "the Google Health API refused this call for the connection"}
}

func unavailable(code int, retryAfter time.Duration) *Error {
	status := http.StatusServiceUnavailable
	if code == http.StatusTooManyRequests {
		status = http.StatusTooManyRequests
	}
	return &Error{Status: status, Type: Unavailable, Message: "the Google Health API is overloaded; retry later", RetryAfter: retryAfter}
}
