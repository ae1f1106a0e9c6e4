package googlesim

import (
	"slices"
	"strings"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// DefaultScopePrefix is the common prefix of the Google Health scopes:
// DefaultScopePrefix + area + ".readonly" or ".writeonly".
const DefaultScopePrefix = "https://www.googleapis.com/auth/googlehealth."

// The Google Health scope areas.
const (
	AreaActivity  = "activity_and_fitness"
	AreaMetrics   = "health_metrics_and_measurements"
	AreaSleep     = "sleep"
	AreaProfile   = "profile"
	AreaSettings  = "settings"
	AreaNutrition = "nutrition"
	AreaLocation  = "location"
	AreaECG       = "ecg"
	AreaIRN       = "irn"
)

// Areas lists every Google Health scope area the simulator knows.
var Areas = []string{AreaActivity, AreaMetrics, AreaSleep, AreaProfile, AreaSettings,
	AreaNutrition, AreaLocation, AreaECG, AreaIRN}

// identityScopes are Google sign-in scopes the consent screen accepts. They
// are carried through to the grant but allow nothing on the Health API.
var identityScopes = []string{
	"openid", "email", "profile",
	"https://www.googleapis.com/auth/userinfo.email",
	"https://www.googleapis.com/auth/userinfo.profile",
}

// ScopeURL returns the default-prefix scope of an area:
// ScopeURL("sleep", false) is
// "https://www.googleapis.com/auth/googlehealth.sleep.readonly".
func ScopeURL(area string, write bool) string { return scopeURL(DefaultScopePrefix, area, write) }

// Scope is ScopeURL with the server's Config.ScopePrefix.
func (s *Server) Scope(area string, write bool) string {
	return scopeURL(s.cfg.ScopePrefix, area, write)
}

func scopeURL(prefix, area string, write bool) string {
	if write {
		return prefix + area + ".writeonly"
	}
	return prefix + area + ".readonly"
}

// AllScopes returns every Google Health scope of the server (both access
// modes of every area), sorted.
func (s *Server) AllScopes() []string {
	out := make([]string, 0, 2*len(Areas))
	for _, a := range Areas {
		out = append(out, s.Scope(a, false), s.Scope(a, true))
	}
	slices.Sort(out)
	return out
}

// validScope reports whether sc is a Health scope of the server or an
// identity scope.
func (s *Server) validScope(sc string) bool {
	if slices.Contains(identityScopes, sc) {
		return true
	}
	rest, ok := strings.CutPrefix(sc, s.cfg.ScopePrefix)
	if !ok {
		return false
	}
	area, ok := strings.CutSuffix(rest, ".readonly")
	if !ok {
		area, ok = strings.CutSuffix(rest, ".writeonly")
	}
	return ok && slices.Contains(Areas, area)
}

// isHealthScope reports whether sc is one of the server's Health scopes.
func (s *Server) isHealthScope(sc string) bool {
	return strings.HasPrefix(sc, s.cfg.ScopePrefix) && s.validScope(sc)
}

// parseScopes splits a space-separated scope parameter. It returns the
// sorted, de-duplicated scopes and the first unknown one, if any.
func (s *Server) parseScopes(param string) (scopes []string, unknown string) {
	return simkit.ParseScopes(param, s.validScope)
}

// normalizeScope accepts a full scope or an "<area>.readonly" /
// "<area>.writeonly" short form (for MintTokens).
func (s *Server) normalizeScope(sc string) (string, bool) {
	if s.validScope(sc) {
		return sc, true
	}
	if full := s.cfg.ScopePrefix + sc; s.validScope(full) {
		return full, true
	}
	return "", false
}
