package module

import (
	"strings"
	"testing"
)

func TestOAuth2AppsValidation(t *testing.T) {
	env := map[string]string{"{env.ID}": "23WEB1", "{env.SECRET}": "0123456789abcdef0123", "{env.UNSET}": ""}
	expand := func(s string) string {
		if v, ok := env[s]; ok {
			return v
		}
		return s
	}
	a := &App{OAuth2Apps: []OAuth2App{
		{ClientID: "{env.ID}", ClientSecret: "{env.SECRET}", RedirectURIs: []string{"https://app.example/cb"}},
		{ClientID: "23PHN2", AppType: "client", RedirectURIs: []string{"com.example.app:/cb"}, Scopes: []string{"sleep"}},
	}}
	got, err := a.oauth2Apps(expand)
	if err != nil || got["23WEB1"].Secret != "0123456789abcdef0123" || got["23WEB1"].Type != "server" || got["23PHN2"].Scopes[0] != "sleep" {
		t.Fatalf("got %v, %v", got, err)
	}
	bad := &App{OAuth2Apps: []OAuth2App{
		{ClientID: "{env.UNSET}", RedirectURIs: []string{"https://app.example/cb"}},
		{ClientID: "short", ClientSecret: "tiny", RedirectURIs: []string{"https://app.example/cb"}},
		{ClientID: "nouri", AppType: "client"},
		{ClientID: "frag", AppType: "client", RedirectURIs: []string{"https://app.example/cb#x"}},
		{ClientID: "scope", AppType: "client", RedirectURIs: []string{"https://app.example/cb"}, Scopes: []string{"everything"}},
		{ClientID: "kind", AppType: "desktop", RedirectURIs: []string{"https://app.example/cb"}},
		{ClientID: "dup", AppType: "client", RedirectURIs: []string{"https://app.example/cb"}},
		{ClientID: "dup", AppType: "client", RedirectURIs: []string{"https://app.example/cb"}},
	}}
	_, err = bad.oauth2Apps(expand)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"oauth2_apps[0]: authserver: an app needs a client id", "app short: a server app needs a client secret",
		"app nouri: at least one redirect URI", "app frag: redirect URI", `app scope: unknown Fitbit scope "everything"`,
		"app kind: type must be", `client id "dup" is registered twice`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "tiny") {
		t.Errorf("error shows a secret: %q", err)
	}
}
