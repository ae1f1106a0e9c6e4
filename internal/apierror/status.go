package apierror

import (
	"encoding/json"
	"net/http"
)

// Domain is the ErrorInfo domain of the errors the gateway itself makes, so a
// Google client can tell them from the Google Health API's own
// (https://google.aip.dev/193#errorinfo: "the logical grouping to which the
// reason belongs", usually the service's name).
const Domain = "caddy-fitbit.gateway"

// ErrorInfoType is the type URL of google.rpc.ErrorInfo in JSON
// (https://cloud.google.com/apis/design/errors#error_model).
const ErrorInfoType = "type.googleapis.com/google.rpc.ErrorInfo"

// Status is one error in the google.rpc.Status dialect of the Google APIs:
// Code is the HTTP status, CodeName its google.rpc.Code name
// (https://cloud.google.com/apis/design/errors#handling_errors), Reason the
// ErrorInfo reason (UPPER_SNAKE_CASE, AIP-193) and Metadata its map.
type Status struct {
	Code     int
	CodeName string
	Message  string
	Reason   string
	Metadata map[string]string
}

// StatusBody is the JSON of a google.rpc.Status error answer.
type StatusBody struct {
	Error StatusJSON `json:"error"`
}

// StatusJSON is the google.rpc.Status inside a StatusBody.
type StatusJSON struct {
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

// MarshalStatus encodes s as {"error":{"code","message","status","details":[ErrorInfo]}}.
// The ErrorInfo is present when s has a reason.
func MarshalStatus(s Status) []byte {
	body := StatusBody{Error: StatusJSON{Code: s.Code, Message: s.Message, Status: s.CodeName}}
	if s.Reason != "" {
		body.Error.Details = []ErrorInfo{{Type: ErrorInfoType, Reason: s.Reason, Domain: Domain, Metadata: s.Metadata}}
	}
	b, _ := json.Marshal(body) // cannot fail: only strings and ints
	return b
}

// WriteStatus sends s with s.Code as the HTTP status, as Google's APIs do.
func WriteStatus(w http.ResponseWriter, s Status) {
	writeJSON(w, s.Code, "application/json; charset=UTF-8", MarshalStatus(s))
}
