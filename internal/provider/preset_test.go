package provider

import (
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestGoogleScopes(t *testing.T) {
	got := GoogleScopes([]string{"activity", "cardio_fitness", "heartrate", "sleep", "sleep.writeonly", "settings",
		"https://www.googleapis.com/auth/googlehealth.ecg.readonly", "openid", "electrocardiogram"})
	want := []string{
		"https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly",
		"https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly",
		"https://www.googleapis.com/auth/googlehealth.sleep.readonly",
		"https://www.googleapis.com/auth/googlehealth.sleep.writeonly",
		"https://www.googleapis.com/auth/googlehealth.settings.readonly",
		"https://www.googleapis.com/auth/googlehealth.ecg.readonly",
		"openid",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("GoogleScopes:\n got %q\nwant %q", got, want)
	}
}

func TestGooglePresetRegistration(t *testing.T) {
	reg := Registration{ClientID: "g", ClientSecret: "s", RedirectURL: "https://gw/cb", Scopes: []string{"heartrate"}}.WithDefaults(GoogleHealth)
	if err := reg.Validate(); err != nil {
		t.Fatal(err)
	}
	if reg.Name != "google_health" || reg.Title() != "Google Health" || !strings.HasPrefix(reg.Scopes[0], "https://www.googleapis.com/auth/googlehealth.") {
		t.Fatalf("registration %+v", reg)
	}
	u, err := url.Parse(NewClient(reg, nil).AuthCodeURL("st", NewVerifier(), nil))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Host != "accounts.google.com" || q.Get("access_type") != "offline" || q.Get("prompt") != "consent" || q.Get("code_challenge_method") != "S256" {
		t.Fatalf("authorize URL %s", u)
	}
	// Fitbit's registration has no Google parameters and keeps its scope names.
	f := Registration{ClientID: "f", ClientSecret: "s", RedirectURL: "https://gw/cb", Scopes: []string{"heartrate"}}.WithDefaults(Fitbit)
	fu, _ := url.Parse(NewClient(f, nil).AuthCodeURL("st", NewVerifier(), nil))
	if fu.Query().Get("access_type") != "" || f.Scopes[0] != "heartrate" {
		t.Fatalf("fitbit registration %+v / %s", f, fu)
	}
}

// An app's sign-in asks Google for the Google Health scopes of its Fitbit
// scopes plus settings, within the registration's, incrementally.
func TestConsentScopes(t *testing.T) {
	reg := Registration{ClientID: "g", ClientSecret: "s", RedirectURL: "https://gw/cb", Scopes: []string{"activity", "profile", "settings", "sleep"}}.WithDefaults(GoogleHealth)
	c := NewClient(reg, nil)
	got := c.ConsentScopes([]string{"activity", "profile", "heartrate"})
	if want := GoogleScopes([]string{"activity", "profile", "settings"}); !slices.Equal(got, want) {
		t.Fatalf("consent scopes %v, want %v", got, want)
	}
	q := mustQuery(t, c.AuthCodeURL("st", NewVerifier(), got))
	if q.Get("scope") != strings.Join(got, " ") || q.Get("include_granted_scopes") != "true" {
		t.Fatalf("consent URL %v", q)
	}
	if q := mustQuery(t, c.AuthCodeURL("st", NewVerifier(), nil)); q.Get("scope") != strings.Join(reg.Scopes, " ") || q.Has("include_granted_scopes") {
		t.Fatalf("registration's consent URL %v", q)
	}
	f := NewClient(Registration{ClientID: "f", RedirectURL: "https://gw/cb"}.WithDefaults(Fitbit), nil)
	if got := f.ConsentScopes([]string{"activity", "heartrate"}); !slices.Equal(got, []string{"activity", "heartrate"}) {
		t.Fatalf("fitbit consent scopes %v", got)
	}
}

func mustQuery(t *testing.T, s string) url.Values {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// A consent asked with Login (an app's prompt=login) has the user sign in
// again, in each provider's own words, beside the prompt the preset sends.
func TestConsentWithLogin(t *testing.T) {
	g := NewClient(Registration{ClientID: "g", ClientSecret: "s", RedirectURL: "https://gw/cb"}.WithDefaults(GoogleHealth), nil)
	f := NewClient(Registration{ClientID: "f", RedirectURL: "https://gw/cb"}.WithDefaults(Fitbit), nil)
	for _, tc := range []struct {
		c     *Client
		login bool
		want  string
	}{
		{g, false, "consent"},
		{g, true, "consent select_account"},
		{f, false, ""},
		{f, true, "login"},
	} {
		q := mustQuery(t, tc.c.ConsentURL("st", NewVerifier(), Consent{Login: tc.login}))
		if q.Get("prompt") != tc.want || len(q["prompt"]) > 1 {
			t.Errorf("%s, login %v: prompt %q, want %q", tc.c.Reg.Name, tc.login, q["prompt"], tc.want)
		}
	}
}
