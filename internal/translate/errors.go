package translate

import "net/http"

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
