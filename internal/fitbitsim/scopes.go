package fitbitsim

import (
	"maps"
	"slices"
	"strings"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// scopeInfo describes one Fitbit scope: its short form in the JWT "scopes"
// claim (Fitbit uses abbreviations such as "wact"; the less common ones are
// unconfirmed) and its name in introspection ("{ACTIVITY=READ_WRITE, …}").
type scopeInfo struct {
	jwt, introspect string
}

var validScopes = map[string]scopeInfo{
	"activity":                       {"wact", "ACTIVITY"},
	"cardio_fitness":                 {"wcf", "CARDIO_FITNESS"},
	"electrocardiogram":              {"wecg", "ELECTROCARDIOGRAM"},
	"heartrate":                      {"whr", "HEARTRATE"},
	"irregular_rhythm_notifications": {"wirn", "IRREGULAR_RHYTHM_NOTIFICATIONS"},
	"location":                       {"wloc", "LOCATION"},
	"nutrition":                      {"wnut", "NUTRITION"},
	"oxygen_saturation":              {"wspo2", "OXYGEN_SATURATION"},
	"profile":                        {"wpro", "PROFILE"},
	"respiratory_rate":               {"wres", "RESPIRATORY_RATE"},
	"settings":                       {"wset", "SETTINGS"},
	"sleep":                          {"wsle", "SLEEP"},
	"social":                         {"wsoc", "SOCIAL"},
	"temperature":                    {"wtem", "TEMPERATURE"},
	"weight":                         {"wwei", "WEIGHT"},
}

// ValidScopes lists every Fitbit scope the simulator knows, sorted.
func ValidScopes() []string { return slices.Sorted(maps.Keys(validScopes)) }

// parseScopes splits a space-separated scope parameter. It returns the
// sorted, de-duplicated scopes and the first unknown one, if any.
func parseScopes(param string) (scopes []string, unknown string) {
	return simkit.ParseScopes(param, func(f string) bool { _, ok := validScopes[f]; return ok })
}

func jwtScopes(scopes []string) string {
	parts := make([]string, 0, len(scopes))
	for _, s := range scopes {
		parts = append(parts, validScopes[s].jwt)
	}
	return strings.Join(parts, " ")
}

func introspectScopes(scopes []string) string {
	parts := make([]string, 0, len(scopes))
	for _, s := range scopes {
		parts = append(parts, validScopes[s].introspect+"=READ_WRITE")
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
