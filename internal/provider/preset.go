package provider

import (
	"slices"
	"strings"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
)

// Preset is a provider as data: its endpoints and the ways it differs from
// the others. A new provider is a new Preset, not new code.
type Preset struct {
	// Name is the default registration name ("fitbit", "google_health").
	Name string
	// Title names the provider to people ("Fitbit").
	Title string
	// AppsURL is where operators register an app.
	AppsURL   string
	Endpoints Endpoints
	// Scopes requested when the registration names none.
	Scopes []string
	// AuthParams are extra authorize-request parameters (Google needs
	// access_type=offline and prompt=consent to issue a refresh token).
	AuthParams map[string]string
	// LoginPrompt is the authorize request's prompt value that has the
	// user sign in again (or pick another account), for a consent asked
	// with Consent.Login; it is added to any prompt AuthParams sends.
	LoginPrompt string
	// SecretInBody: the client authenticates with client_id and
	// client_secret in the token request body (Google's web clients). Else
	// the app type decides: HTTP Basic for server apps, client_id alone for
	// client and personal apps (Fitbit).
	SecretInBody bool
	// IdentityPath, when set, is fetched from the API base with the new
	// access token after a code exchange to learn who the user is (Google);
	// otherwise the token response names the user (Fitbit's user_id).
	IdentityPath string
	// IdentityUserField is the JSON field of the identity answer holding the
	// user id; IdentityExtra maps other fields to Record.Extra keys.
	IdentityUserField string
	IdentityExtra     map[string]string
	// RefreshOn are the error types (Fitbit's errorType, or a
	// google.rpc.Status status) which, on a 401 from the API, mean the access
	// token is stale: refresh once and replay.
	RefreshOn []string
	// PathPrefixes are the API paths this provider serves; a request for
	// another provider's paths is routed there.
	PathPrefixes []string
	// Dialect is the error language of the API under PathPrefixes: the
	// gateway's own errors on those paths are written in it.
	Dialect apierror.Dialect
	// MapScopes rewrites configured scopes into the provider's own (e.g.
	// Fitbit scope names into Google Health scope URLs); nil keeps them.
	MapScopes func([]string) []string
	// Always are scopes (the provider's names) every consent for an app
	// also asks for, because the gateway needs them to answer the app's
	// calls: Google Health's settings scope, for the user's time zone,
	// which every daily Fitbit endpoint is computed in.
	Always []string
	// IncrementalAuth: a consent for chosen scopes adds them to those
	// granted before (Google's include_granted_scopes=true).
	IncrementalAuth bool
	// Successor names the preset that replaces this provider, for apps that
	// meet a 410 Gone.
	Successor string
	// RotatesRefreshTokens: every refresh issues a new refresh token and
	// kills the old (Fitbit). A refresh of such a provider's token must be
	// persisted before anything else, and is never made just to test a
	// token (an import's dry run).
	RotatesRefreshTokens bool
	// RateLimit calls per user per RateWindow, a clock-aligned window, is
	// the provider's own limit, the default of the gateway's budget.
	// RateHeaders: the provider sends Fitbit-Rate-Limit-* with its answers.
	RateLimit   int
	RateWindow  time.Duration
	RateHeaders bool
	// TokenLifetime is the documented lifetime of an access token, for the
	// check that refresh_skew is shorter (the token's own expires_in is
	// checked when it comes).
	TokenLifetime time.Duration
}

// Fitbit is the Fitbit Web API preset, the default.
var Fitbit = Preset{
	Name: "fitbit",
	// https://dev.fitbit.com/build/reference/web-api/authorization/authorize/
	LoginPrompt: "login",
	Title:       "Fitbit",
	AppsURL:     "https://dev.fitbit.com/apps",
	Endpoints: Endpoints{
		AuthURL:    "https://www.fitbit.com/oauth2/authorize",
		TokenURL:   "https://api.fitbit.com/oauth2/token",
		RevokeURL:  "https://api.fitbit.com/oauth2/revoke",
		APIBase:    "https://api.fitbit.com",
		RecoverURL: "https://api.fitbit.com/oauth2/recover",
	},
	Scopes:       []string{"activity", "heartrate", "profile", "sleep"},
	RefreshOn:    []string{"expired_token", "invalid_token"},
	PathPrefixes: []string{"/1/", "/1.1/", "/1.2/"},
	Dialect:      apierror.Fitbit,
	Successor:    "google_health",
	// https://dev.fitbit.com/build/reference/web-api/authorization/refresh-token/
	RotatesRefreshTokens: true,
	// 150 calls per user per clock hour
	// (https://dev.fitbit.com/build/reference/web-api/developer-guide/application-design/#Rate-Limits).
	RateLimit: 150, RateWindow: time.Hour, RateHeaders: true,
	// 8 hours by default
	// (https://dev.fitbit.com/build/reference/web-api/authorization/oauth2-token/).
	TokenLifetime: 8 * time.Hour,
}

// GoogleHealth is the Google Health API preset (Fitbit's successor): Google
// OAuth 2.0, refresh tokens that are normally not rotated (x/oauth2 keeps the
// old one when an answer has none), RFC 6749 token errors and
// google.rpc.Status API errors.
var GoogleHealth = Preset{
	Name:    "google_health",
	Title:   "Google Health",
	AppsURL: "https://console.cloud.google.com/apis/credentials",
	Endpoints: Endpoints{
		AuthURL:   "https://accounts.google.com/o/oauth2/v2/auth",
		TokenURL:  "https://oauth2.googleapis.com/token",
		RevokeURL: "https://oauth2.googleapis.com/revoke",
		APIBase:   "https://health.googleapis.com",
	},
	Scopes:     GoogleScopes([]string{"activity", "heartrate", "profile", "sleep", "settings"}),
	AuthParams: map[string]string{"access_type": "offline", "prompt": "consent"},
	// Google has no prompt=login; select_account asks the user which
	// account, signing in again if need be
	// (https://developers.google.com/identity/protocols/oauth2/web-server#creatingclient).
	LoginPrompt:       "select_account",
	SecretInBody:      true,
	IdentityPath:      "/v4/users/me/identity",
	IdentityUserField: "healthUserId",
	IdentityExtra:     map[string]string{"legacyUserId": "legacy_user_id"},
	RefreshOn:         []string{"UNAUTHENTICATED"},
	PathPrefixes:      []string{"/v4/"},
	Dialect:           apierror.Google,
	MapScopes:         GoogleScopes,
	Always:            GoogleScopes([]string{"settings"}),
	IncrementalAuth:   true,
	// One hour (https://developers.google.com/identity/protocols/oauth2#expiration).
	TokenLifetime: time.Hour,
	// 300 calls per user per minute (https://developers.google.com/health);
	// Google sends no rate-limit headers.
	RateLimit: 300, RateWindow: time.Minute,
}

// Presets are the built-in providers by name.
var Presets = map[string]*Preset{Fitbit.Name: &Fitbit, GoogleHealth.Name: &GoogleHealth}

// DialectOf is the error dialect of an API path: that of the built-in
// preset whose PathPrefixes hold it, else fallback (the registration's
// own). The path decides, not the registration, because the caller parses
// the API it called: a Fitbit path answered from a Google Health
// connection still speaks Fitbit.
func DialectOf(path string, fallback apierror.Dialect) apierror.Dialect {
	for _, p := range [...]*Preset{&Fitbit, &GoogleHealth} {
		for _, prefix := range p.PathPrefixes {
			if strings.HasPrefix(path, prefix) {
				return p.Dialect
			}
		}
	}
	return fallback
}

// googleScopeBase prefixes every Google Health scope.
const googleScopeBase = "https://www.googleapis.com/auth/googlehealth."

// fitbitToGoogleArea maps Fitbit scope names to Google Health data areas.
var fitbitToGoogleArea = map[string]string{
	"activity":                       "activity_and_fitness",
	"cardio_fitness":                 "activity_and_fitness",
	"heartrate":                      "health_metrics_and_measurements",
	"weight":                         "health_metrics_and_measurements",
	"oxygen_saturation":              "health_metrics_and_measurements",
	"respiratory_rate":               "health_metrics_and_measurements",
	"temperature":                    "health_metrics_and_measurements",
	"blood_glucose":                  "health_metrics_and_measurements",
	"sleep":                          "sleep",
	"profile":                        "profile",
	"settings":                       "settings",
	"nutrition":                      "nutrition",
	"location":                       "location",
	"electrocardiogram":              "ecg",
	"irregular_rhythm_notifications": "irn",
}

var googleAreas = []string{"activity_and_fitness", "health_metrics_and_measurements", "sleep", "profile",
	"settings", "nutrition", "location", "ecg", "irn"}

// GoogleScopes maps scopes to Google Health scope URLs, read-only: Fitbit
// scope names (heartrate → …health_metrics_and_measurements.readonly) and
// bare Google area names (sleep, activity_and_fitness, or
// activity_and_fitness.writeonly) are expanded; full URLs and anything else
// pass unchanged (scope names have changed during 2026: keep them
// configurable). Duplicates are dropped, order is kept.
func GoogleScopes(scopes []string) []string {
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		area, access := s, "readonly"
		if a, acc, ok := strings.Cut(s, "."); ok && (acc == "readonly" || acc == "writeonly") {
			area, access = a, acc
		}
		if g, ok := fitbitToGoogleArea[area]; ok {
			area = g
		}
		if slices.Contains(googleAreas, area) {
			s = googleScopeBase + area + "." + access
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
