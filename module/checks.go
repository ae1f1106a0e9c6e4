package module

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
)

// The checks at load (README › Checks at load): mistakes that load fine
// but fail later, silently or in a user's browser.

// checkCallbacks reports a registration whose redirect_uri no fitbit_auth
// handler of the config serves: the provider would send the user back to a
// path that is not the callback, and the user would loop back to
// not_connected. prefixes are the handlers' prefixes; with none, the
// callback may be served by another server, and ok is false with no error
// (a warning).
func checkCallbacks(regs []provider.Registration, prefixes []string) (ok bool, err error) {
	if len(prefixes) == 0 {
		return false, nil
	}
	callbacks := make([]string, 0, len(prefixes))
	for _, p := range prefixes {
		callbacks = append(callbacks, p+"/callback")
	}
	slices.Sort(callbacks)
	callbacks = slices.Compact(callbacks)
	var bad []string
	for _, reg := range regs {
		u, perr := url.Parse(reg.RedirectURL)
		if perr != nil || slices.Contains(callbacks, u.Path) {
			continue // an unparsable URL is Validate's to report
		}
		prefix, _ := strings.CutSuffix(u.Path, "/callback")
		bad = append(bad, fmt.Sprintf("provider %s: the path of redirect_uri %s, %s, is not served by any fitbit_auth handler (their callbacks: %s): set redirect_uri to %s (and register that URL with the provider), or serve this path with fitbit_auth %s",
			reg.Name, reg.RedirectURL, u.Path, strings.Join(callbacks, ", "), callbackURL(u, callbacks[0]), prefix))
	}
	if len(bad) > 0 {
		return true, fmt.Errorf("fitbit app: %s", strings.Join(bad, "; "))
	}
	return true, nil
}

// callbackURL is u with the path p.
func callbackURL(u *url.URL, p string) string {
	c := *u
	c.Path, c.RawPath = p, ""
	return c.String()
}

// loadWarnings are the app's settings that work but should not: a
// refresh_skew not shorter than the preset's documented token lifetime (the
// token would be refreshed on every request), secrets written inline in
// the config, and a plain-http redirect_uri off loopback (the code and the
// binding cookie travel in clear).
func (a *App) loadWarnings(regs []provider.Registration) []string {
	var warns []string
	skew := time.Duration(a.RefreshSkew)
	if skew <= 0 {
		skew = tokens.DefaultSkew
	}
	for _, reg := range regs {
		if life := reg.Preset.TokenLifetime; life > 0 && skew >= life {
			warns = append(warns, fmt.Sprintf("provider %s: refresh_skew %s is not shorter than %s's access token lifetime (%s): every request would refresh the token; set refresh_skew well below it", reg.Name, skew, reg.Title(), life))
		}
		if u, err := url.Parse(reg.RedirectURL); err == nil && u.Scheme == "http" && !loopback(u.Hostname()) {
			warns = append(warns, fmt.Sprintf("provider %s: redirect_uri %s is plain http off loopback: the authorization code and the binding cookie travel in clear; use https", reg.Name, reg.RedirectURL))
		}
	}
	confs, _ := a.configuredProviders() // errors are Provision's to report
	for _, c := range confs {
		if inline(c.ClientSecret) {
			warns = append(warns, fmt.Sprintf("provider %s: client_secret is written in the config: use a placeholder, {env.NAME} or {file./run/secrets/name}", c.name))
		}
	}
	for i, k := range a.EncryptionKeys {
		if inline(k) {
			warns = append(warns, fmt.Sprintf("encryption_keys[%d] is written in the config: use a placeholder, {env.NAME} or {file./run/secrets/name}", i))
		}
	}
	for _, c := range a.OAuth1Consumers {
		if inline(c.Secret) {
			warns = append(warns, fmt.Sprintf("oauth1 consumer %s: its secret is written in the config: use a placeholder, {env.NAME} or {file./run/secrets/name}", c.Key))
		}
	}
	for _, c := range a.OAuth2Apps {
		if inline(c.ClientSecret) {
			warns = append(warns, fmt.Sprintf("oauth2 app %s: client_secret is written in the config: use a placeholder, {env.NAME} or {file./run/secrets/name}", c.ClientID))
		}
	}
	return warns
}

// inline reports a secret written in the config rather than a placeholder
// that Caddy expands at load ({env.…}, {file.…}).
func inline(secret string) bool {
	s := strings.TrimSpace(secret)
	return s != "" && !(strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"))
}

// loopback reports a host name or address that stays on this machine.
func loopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
