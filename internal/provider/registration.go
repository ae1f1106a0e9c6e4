// Package provider describes an OAuth 2.0 health-data provider (Fitbit first)
// as data — endpoints, client authentication, scopes — and talks to its
// authorization server: authorize URLs with PKCE, code exchange, refresh and
// revocation, with the provider's error envelope turned into typed errors
// whose messages carry no credentials.
package provider

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// AppType is the kind of application registered with the provider. It decides
// how the gateway authenticates to the token endpoint.
type AppType string

const (
	// AppServer apps authenticate with HTTP Basic (client id and secret).
	AppServer AppType = "server"
	// AppClient apps send client_id in the body and hold no secret.
	AppClient AppType = "client"
	// AppPersonal apps authenticate like client apps; Fitbit grants them
	// intraday data of the developer's own account.
	AppPersonal AppType = "personal"
)

// Endpoints are the provider's URLs. Each can be overridden in config so the
// gateway can be pointed at any server (tests, the simulator, a mirror).
type Endpoints struct {
	AuthURL   string `json:"authorize_url,omitempty"`
	TokenURL  string `json:"token_url,omitempty"`
	RevokeURL string `json:"revoke_url,omitempty"`
	APIBase   string `json:"api_base,omitempty"`
	// RecoverURL is Fitbit's refresh-token recovery endpoint, which Fitbit
	// support enables per app; used only when recovery is enabled.
	RecoverURL string `json:"recover_url,omitempty"`
}

// Registration is one app registered with a provider: the preset plus the
// operator's client credentials and overrides.
type Registration struct {
	Name         string
	ClientID     string
	ClientSecret string
	AppType      AppType
	Scopes       []string
	RedirectURL  string
	Endpoints    Endpoints
	// Preset is the provider's behaviour (set by WithDefaults).
	Preset *Preset `json:"-"`
}

var namePattern = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// WithDefaults fills what the registration leaves empty from the preset,
// and maps scopes given in another provider's vocabulary (Fitbit scope names
// for Google Health).
func (r Registration) WithDefaults(p Preset) Registration {
	r.Preset = &p
	if r.Name == "" {
		r.Name = p.Name
	}
	if r.AppType == "" {
		r.AppType = AppServer
	}
	if len(r.Scopes) == 0 {
		r.Scopes = append([]string(nil), p.Scopes...)
	} else if p.MapScopes != nil {
		r.Scopes = p.MapScopes(r.Scopes)
	}
	e := &r.Endpoints
	if e.AuthURL == "" {
		e.AuthURL = p.Endpoints.AuthURL
	}
	if e.RecoverURL == "" && e.TokenURL != "" && e.TokenURL != p.Endpoints.TokenURL {
		// A token endpoint elsewhere (a mirror, the simulator) has its
		// recovery endpoint beside it, not at the provider.
		if base, ok := strings.CutSuffix(e.TokenURL, "/token"); ok {
			e.RecoverURL = base + "/recover"
		}
	}
	if e.TokenURL == "" {
		e.TokenURL = p.Endpoints.TokenURL
	}
	if e.RevokeURL == "" {
		e.RevokeURL = p.Endpoints.RevokeURL
	}
	if e.APIBase == "" {
		e.APIBase = p.Endpoints.APIBase
	}
	if e.RecoverURL == "" && e.TokenURL == p.Endpoints.TokenURL {
		e.RecoverURL = p.Endpoints.RecoverURL
	}
	e.APIBase = strings.TrimRight(e.APIBase, "/")
	return r
}

// Validate reports every misconfiguration at once, each saying what to fix.
func (r Registration) Validate() error {
	var errs []error
	if !namePattern.MatchString(r.Name) {
		errs = append(errs, fmt.Errorf("provider name %q: use 1-32 of a-z, 0-9, '_' and '-'", r.Name))
	}
	if r.ClientID == "" {
		errs = append(errs, fmt.Errorf("client_id is empty: set it to the OAuth 2.0 Client ID of your app at %s (for example client_id {env.%s_CLIENT_ID})", r.appsURL(), strings.ToUpper(r.Name)))
	}
	switch r.AppType {
	case AppServer:
		if r.ClientSecret == "" {
			errs = append(errs, fmt.Errorf("client_secret is empty but app_type is server: set client_secret {env.%s_CLIENT_SECRET}, or set app_type client/personal if your app has no secret", strings.ToUpper(r.Name)))
		}
	case AppClient, AppPersonal:
	default:
		errs = append(errs, fmt.Errorf("app_type %q: use server, client or personal (as registered at %s)", r.AppType, r.appsURL()))
	}
	if r.RedirectURL == "" {
		errs = append(errs, errors.New("redirect_uri is empty: set it to the callback URL registered with the provider, e.g. https://gateway.example.com/fitbit/callback"))
	} else if err := absoluteURL("redirect_uri", r.RedirectURL); err != nil {
		errs = append(errs, err)
	}
	for name, u := range map[string]string{"authorize_url": r.Endpoints.AuthURL, "token_url": r.Endpoints.TokenURL, "revoke_url": r.Endpoints.RevokeURL, "api_base": r.Endpoints.APIBase} {
		if err := absoluteURL(name, u); err != nil {
			errs = append(errs, err)
		}
	}
	if r.Endpoints.RecoverURL != "" { // optional: only used when recovery is enabled
		if err := absoluteURL("recover_url", r.Endpoints.RecoverURL); err != nil {
			errs = append(errs, err)
		}
	}
	if len(r.Scopes) == 0 {
		errs = append(errs, errors.New("scopes is empty: list the scopes your app needs, e.g. activity heartrate profile sleep"))
	}
	for _, s := range r.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			errs = append(errs, fmt.Errorf("scope %q: scopes are single words", s))
		}
	}
	return errors.Join(errs...)
}

func absoluteURL(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%s %q: must be an absolute http(s) URL", name, raw)
	}
	if u.User != nil {
		return fmt.Errorf("%s: must not carry credentials in the URL", name)
	}
	return nil
}

func (r Registration) appsURL() string {
	if r.Preset != nil && r.Preset.AppsURL != "" {
		return r.Preset.AppsURL
	}
	return Fitbit.AppsURL
}

// Title names the provider to people ("Fitbit", "Google Health").
func (r Registration) Title() string {
	if r.Preset != nil && r.Preset.Title != "" {
		return r.Preset.Title
	}
	return Fitbit.Title
}
