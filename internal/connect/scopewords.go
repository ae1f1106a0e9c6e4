package connect

import "strings"

// scopeWords are the scopes of Fitbit (https://dev.fitbit.com/build/reference/web-api/developer-guide/application-design/#Scopes)
// and the areas of the Google Health API's scopes
// (https://www.googleapis.com/auth/googlehealth.<area>.readonly), in words
// a person reads on the connections page.
var scopeWords = map[string]string{
	"activity":                       "activity and exercise",
	"cardio_fitness":                 "cardio fitness",
	"electrocardiogram":              "ECG readings",
	"heartrate":                      "heart rate",
	"irregular_rhythm_notifications": "irregular rhythm notifications",
	"location":                       "location (GPS of exercises)",
	"nutrition":                      "food and water",
	"oxygen_saturation":              "blood oxygen",
	"profile":                        "profile (name, age, height)",
	"respiratory_rate":               "breathing rate",
	"settings":                       "device and unit settings",
	"sleep":                          "sleep",
	"social":                         "friends",
	"temperature":                    "temperature",
	"weight":                         "weight and body fat",
	// Google Health areas.
	"activity_and_fitness":            "activity and fitness",
	"health_metrics_and_measurements": "health measurements (heart rate, weight, blood oxygen…)",
	"ecg":                             "ECG readings",
	"irn":                             "irregular rhythm notifications",
	// Google sign-in scopes.
	"openid": "your Google sign-in",
	"email":  "your email address",
}

// googleScope is the common beginning of the Google Health scopes.
const googleScope = "https://www.googleapis.com/auth/googlehealth."

// ScopeWords says scope in words: "heart rate", "sleep (change)". A scope
// it does not know is shown as it is.
func ScopeWords(scope string) string {
	name, mode := scope, ""
	if rest, ok := strings.CutPrefix(scope, googleScope); ok {
		name = rest
		if area, ok := strings.CutSuffix(rest, ".readonly"); ok {
			name = area
		} else if area, ok := strings.CutSuffix(rest, ".writeonly"); ok {
			name, mode = area, " (add and change)"
		}
	} else if rest, ok := strings.CutPrefix(scope, "https://www.googleapis.com/auth/userinfo."); ok {
		name = rest
	}
	if w, ok := scopeWords[name]; ok {
		return w + mode
	}
	return scope
}

// scopesInWords is ScopeWords of each scope, without repeats.
func scopesInWords(scopes []string) []string {
	out := make([]string, 0, len(scopes))
	seen := map[string]bool{}
	for _, s := range scopes {
		if w := ScopeWords(s); !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// missingScopes are those of want that granted lacks.
func missingScopes(want, granted []string) []string {
	have := map[string]bool{}
	for _, s := range granted {
		have[s] = true
	}
	var out []string
	for _, s := range want {
		if !have[s] {
			out = append(out, s)
		}
	}
	return out
}
