// Package apierror reads and writes the error bodies of the APIs the gateway
// fronts. Today that is Fitbit's envelope,
//
//	{"errors":[{"errorType":"expired_token","message":"…"}],"success":false}
//
// Scrubbing the credentials Fitbit puts into those messages is package redact's
// job. Parse also understands the Google-style envelope that some Fitbit responses
// have used since 2025 ({"error":{"code":…,"message":…,"status":…}}).
package apierror

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Error types the gateway emits or reacts to. The first group is Fitbit's own;
// the second is the gateway's, in the same envelope so apps need one parser.
const (
	ExpiredToken            = "expired_token"
	InvalidToken            = "invalid_token"
	InvalidGrant            = "invalid_grant"
	InvalidClient           = "invalid_client"
	InvalidRequest          = "invalid_request"
	InsufficientScope       = "insufficient_scope"
	InsufficientPermissions = "insufficient_permissions"
	System                  = "system"
	OAuth                   = "oauth"

	NotConnected           = "not_connected"
	ReauthorizationNeeded  = "reauthorization_required"
	Unauthenticated        = "unauthenticated"
	UpstreamUnavailable    = "upstream_unavailable"
	ReplayImpossible       = "replay_impossible"
	RequestTooLarge        = "request_too_large"
	ConnectionStoreFailure = "store_unavailable"
	ProviderMigrated       = "provider_migrated"
	ProviderGone           = "provider_gone"
	UpstreamNotAllowed     = "upstream_not_allowed"
	RequestTimeout         = "request_timeout"
	RecordUnreadable       = "record_unreadable"
	// RateLimitExceeded is the gateway's 429 for a spent provider budget;
	// in Google's dialect the reason RATE_LIMIT_EXCEEDED, as Google sends.
	RateLimitExceeded = "rate_limit_exceeded"
)

// Item is one entry of the envelope's errors array.
type Item struct {
	ErrorType string `json:"errorType"`
	FieldName string `json:"fieldName,omitempty"`
	Message   string `json:"message"`
}

// Envelope is Fitbit's error body.
type Envelope struct {
	Errors  []Item `json:"errors"`
	Success bool   `json:"success"`
}

// googleEnvelope is the google.rpc.Status wrapper some Fitbit endpoints use.
type googleEnvelope struct {
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

// MaxBody is the most of an upstream error body worth parsing; larger bodies
// are not Fitbit error envelopes and are not read past this.
const MaxBody = 64 << 10

// Parse returns the first error of a Fitbit envelope, or of a Google-style
// envelope (its status becomes ErrorType). ok is false when body is neither.
// The returned message is not scrubbed; call Scrub before it leaves the process.
func Parse(body []byte) (it Item, ok bool) {
	if len(body) == 0 || len(body) > MaxBody {
		return Item{}, false
	}
	var env Envelope
	if json.Unmarshal(body, &env) == nil && len(env.Errors) > 0 && env.Errors[0].ErrorType != "" {
		return env.Errors[0], true
	}
	var g googleEnvelope
	if json.Unmarshal(body, &g) == nil && g.Error != nil && (g.Error.Status != "" || g.Error.Code != 0) {
		typ := g.Error.Status
		if typ == "" {
			typ = strconv.Itoa(g.Error.Code)
		}
		return Item{ErrorType: typ, Message: g.Error.Message}, true
	}
	return Item{}, false
}

// Marshal encodes one error in Fitbit's envelope.
func Marshal(it Item) []byte {
	b, _ := json.Marshal(Envelope{Errors: []Item{it}}) // cannot fail: only strings
	return b
}

// Write sends one error in Fitbit's envelope with the given status.
func Write(w http.ResponseWriter, status int, it Item) {
	writeJSON(w, status, "application/json;charset=UTF-8", Marshal(it))
}

// writeJSON sends an error body that no cache may keep. contentType is each
// API's own spelling, which clients have been seen to compare literally.
func writeJSON(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Challenge is the WWW-Authenticate value for the gateway's own 401s: a
// scheme no client answers by itself, naming where a user connects.
func Challenge(connectURL string) string {
	if connectURL == "" {
		return `FitbitGateway realm="caddy-fitbit"`
	}
	return `FitbitGateway realm="caddy-fitbit", connect_url="` + strings.ReplaceAll(connectURL, `"`, "%22") + `"`
}
