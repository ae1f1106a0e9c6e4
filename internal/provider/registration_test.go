package provider

import (
	"strings"
	"testing"
)

func TestWithDefaultsFillsFromPreset(t *testing.T) {
	r := Registration{ClientID: "X", ClientSecret: "s", RedirectURL: "https://gw.example/fitbit/callback"}.WithDefaults(Fitbit)
	if r.Name != "fitbit" || r.AppType != AppServer {
		t.Fatalf("name %q app type %q", r.Name, r.AppType)
	}
	if r.Endpoints != Fitbit.Endpoints {
		t.Fatalf("endpoints %+v", r.Endpoints)
	}
	if strings.Join(r.Scopes, " ") != "activity heartrate profile sleep" {
		t.Fatalf("scopes %v", r.Scopes)
	}
	// The scopes are a copy: changing them must not change the preset.
	r.Scopes[0] = "mutated"
	if Fitbit.Scopes[0] != "activity" {
		t.Fatal("WithDefaults aliased the preset's scopes")
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("a complete registration does not validate: %v", err)
	}
}

func TestWithDefaultsKeepsOverrides(t *testing.T) {
	in := Registration{
		Name: "mine", ClientID: "X", AppType: AppClient, Scopes: []string{"sleep"},
		RedirectURL: "http://localhost:8080/cb",
		Endpoints: Endpoints{
			AuthURL: "http://sim/authorize", TokenURL: "http://sim/token",
			RevokeURL: "http://sim/revoke", APIBase: "http://sim/api///",
		},
	}
	r := in.WithDefaults(Fitbit)
	if r.Name != "mine" || r.AppType != AppClient || len(r.Scopes) != 1 || r.Scopes[0] != "sleep" {
		t.Fatalf("overrides lost: %+v", r)
	}
	want := Endpoints{AuthURL: "http://sim/authorize", TokenURL: "http://sim/token", RevokeURL: "http://sim/revoke", APIBase: "http://sim/api", RecoverURL: "http://sim/recover"}
	if r.Endpoints != want {
		t.Fatalf("endpoints %+v, want %+v", r.Endpoints, want)
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("client app without secret should validate: %v", err)
	}
}

func TestValidateReportsEveryProblemWithItsFix(t *testing.T) {
	// Everything that can be wrong at once.
	r := Registration{
		Name:        "Bad Name!",
		AppType:     "desktop",
		Scopes:      []string{"activity", "two words", ""},
		RedirectURL: "/fitbit/callback",
		Endpoints: Endpoints{
			AuthURL:   "ftp://www.fitbit.com/oauth2/authorize",
			TokenURL:  "https://user:pw@api.fitbit.com/oauth2/token",
			RevokeURL: "api.fitbit.com/oauth2/revoke",
			APIBase:   "https://",
		},
	}
	err := r.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`provider name "Bad Name!": use 1-32 of a-z, 0-9, '_' and '-'`,
		"client_id is empty: set it to the OAuth 2.0 Client ID of your app at https://dev.fitbit.com/apps",
		`app_type "desktop": use server, client or personal`,
		`redirect_uri "/fitbit/callback": must be an absolute http(s) URL`,
		`authorize_url "ftp://www.fitbit.com/oauth2/authorize": must be an absolute http(s) URL`,
		"token_url: must not carry credentials in the URL",
		`revoke_url "api.fitbit.com/oauth2/revoke": must be an absolute http(s) URL`,
		`api_base "https://": must be an absolute http(s) URL`,
		`scope "two words": scopes are single words`,
		`scope "": scopes are single words`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
	if n := len(strings.Split(msg, "\n")); n != 10 {
		t.Errorf("want 10 problems reported at once, got %d:\n%s", n, msg)
	}
	// The credentials of a URL are never echoed.
	if strings.Contains(msg, "pw@") {
		t.Errorf("error echoes URL credentials: %s", msg)
	}
}

func TestValidateServerAppNeedsSecret(t *testing.T) {
	r := Registration{ClientID: "23ABCD", RedirectURL: "https://gw.example/fitbit/callback"}.WithDefaults(Fitbit)
	err := r.Validate()
	if err == nil {
		t.Fatal("server app without secret validated")
	}
	for _, want := range []string{"client_secret is empty but app_type is server", "{env.FITBIT_CLIENT_SECRET}", "app_type client/personal"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	r.AppType = AppPersonal
	if err := r.Validate(); err != nil {
		t.Fatalf("personal app without secret: %v", err)
	}
}

func TestValidateEmptyRegistrationNamesEachFix(t *testing.T) {
	err := Registration{}.WithDefaults(Fitbit).Validate()
	if err == nil {
		t.Fatal("empty registration validated")
	}
	msg := err.Error()
	for _, want := range []string{"client_id is empty", "client_secret is empty", "redirect_uri is empty: set it to the callback URL"} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if n := len(strings.Split(msg, "\n")); n != 3 {
		t.Errorf("want exactly 3 problems, got %d:\n%s", n, msg)
	}
	// Without the preset, empty scopes and endpoints are reported too.
	msg = Registration{Name: "x", ClientID: "a", AppType: AppClient, RedirectURL: "https://a/b"}.Validate().Error()
	for _, want := range []string{"scopes is empty: list the scopes", `authorize_url ""`, `token_url ""`, `revoke_url ""`, `api_base ""`} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
}
