package module

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/inject"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/successor"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
)

// Translate answers apps' Fitbit Web API v1 calls from another
// registration's API, the Google Health API, when Fitbit cannot answer them.
// Set on the fitbit transport (fitbit_proxy), or as the default of every
// transport in the fitbit app. With a google_health registration and no
// setting, mode fallback from that registration is the default.
type Translate struct {
	// The google_health registration that answers. Default: the app's
	// registration with the google_health preset.
	From string `json:"from,omitempty"`
	// "off", "fallback" (identities with no usable Fitbit connection:
	// none, provider_gone or needs_reauth; everyone else passes through to
	// Fitbit) or "always". Default: fallback.
	Mode string `json:"mode,omitempty"`
}

// parseTranslate reads the Caddyfile form: translate <mode>, translate
// <from> [<mode>].
func parseTranslate(args []string) (*Translate, error) {
	switch len(args) {
	case 1:
		if _, err := successor.ParseMode(args[0]); err == nil {
			return &Translate{Mode: args[0]}, nil
		}
		return &Translate{From: args[0]}, nil
	case 2:
		if _, err := successor.ParseMode(args[1]); err != nil {
			return nil, err
		}
		return &Translate{From: args[0], Mode: args[1]}, nil
	}
	return nil, fmt.Errorf("translate takes <mode> or <registration> [<mode>] (modes: off, fallback, always)")
}

// translateFrom is the source registration of cfg: From, else the app's
// google_health registration ("" when there is none).
func (a *App) translateFrom(cfg Translate) string {
	if cfg.From != "" {
		return cfg.From
	}
	for _, n := range a.providerNames() {
		if p := a.state.managers[n].Provider().Reg.Preset; p != nil && p.Name == provider.GoogleHealth.Name {
			return n
		}
	}
	return ""
}

// googleResponseTimeout bounds the wait for each Google call's response
// headers (a timeout is the app's 504, in Fitbit's envelope).
const googleResponseTimeout = 30 * time.Second

// provisionTranslation sets up t.router when Fitbit calls through t are to
// be answered from Google: t's registration is Fitbit's (then the mode
// decides), or is the source itself (a proxy with no Fitbit registration,
// which answers every Fitbit call from Google).
func (t *Transport) provisionTranslation(app *App, own *tokens.Manager, logger *zap.Logger) error {
	var cfg Translate
	switch {
	case t.Translate != nil:
		cfg = *t.Translate
	case app.Translate != nil:
		cfg = *app.Translate
	}
	mode, err := successor.ParseMode(cfg.Mode)
	if err != nil {
		return fmt.Errorf("fitbit transport: %w", err)
	}
	if mode == successor.Off {
		return nil
	}
	explicit := t.Translate != nil
	from := app.translateFrom(cfg)
	if from == "" {
		if cfg != (Translate{}) {
			return fmt.Errorf("fitbit transport: translate: the fitbit app has no google_health registration to answer from")
		}
		return nil
	}
	src, err := app.manager(from)
	if err != nil {
		return fmt.Errorf("fitbit transport: translate: %w", err)
	}
	srcReg := src.Provider().Reg
	if srcReg.Preset == nil || srcReg.Preset.Name != provider.GoogleHealth.Name {
		return fmt.Errorf("fitbit transport: translate from %q: want a google_health registration", from)
	}
	ownReg := own.Provider().Reg
	router := &successor.Router{Mode: mode, Identity: t.inject.Identity, Pass: &t.inject}
	switch {
	case ownReg.Name == from:
	case ownReg.Preset != nil && ownReg.Preset.Name == provider.Fitbit.Name:
		router.Fitbit, router.Gone = own, &own.Provider().Gone
	case explicit:
		// Set on this transport, it must mean something: a translate the
		// transport would ignore is a mistake to report, not to run with.
		return fmt.Errorf("fitbit transport: translate: registration %q is neither a fitbit registration nor %q, the one that answers: its calls are not Fitbit's to translate", ownReg.Name, from)
	default:
		return nil // the app's default, for the transports it applies to
	}
	// Google is called through a transport of its own, not the reverse
	// proxy's: Caddy's dialer would dial the upstream the proxy picked for
	// this request (Fitbit's), whatever the URL.
	t.google = http.DefaultTransport.(*http.Transport).Clone()
	// A Google that accepts the connection but never answers would hold
	// the app's call for as long as the app waits; one Fitbit call makes a
	// bounded number of Google calls, each bounded here.
	t.google.ResponseHeaderTimeout = googleResponseTimeout
	t.googleInject = &inject.Transport{
		Base:              successor.Counting(t.google),
		Tokens:            src,
		Provider:          src.Provider(),
		Identity:          t.inject.Identity,
		MaxReplayBody:     t.MaxReplayBody,
		ReplayBodyTimeout: time.Duration(t.ReplayBodyTimeout),
		Observer:          metrics.of(srcReg.Name),
		RefreshOn:         srcReg.Preset.RefreshOn,
	}
	// Every Google call of a translated one counts against the identity's
	// Google budget, as its /v4/ calls do.
	if b := app.budget(srcReg, logger); b != nil {
		t.googleInject.Budget = b
		t.googleInject.Now = budgetNow
	}
	srv, err := successor.NewServer(t.googleInject, srcReg.Endpoints.APIBase, nil)
	if err != nil {
		return fmt.Errorf("fitbit transport: translate: %w", err)
	}
	translated := metrics.of(srcReg.Name)
	srv.Observe = func(req *http.Request, endpoint string, status, calls int) {
		translated.Translated(endpoint, status, calls)
		// Check first: the fields are not built unless debug logs are on.
		// The path names at most the user's own Fitbit id, never a token.
		if ce := logger.Check(zap.DebugLevel, "fitbit call answered from google health"); ce != nil {
			ce.Write(zap.String("path", req.URL.Path), zap.String("endpoint", endpoint), zap.Int("status", status), zap.Int("google_calls", calls))
		}
	}
	srv.Google = src
	srv.Rate = t.googleInject
	srv.BodyTimeout, srv.BodyDeadline = time.Duration(t.ReplayBodyTimeout), bodyDeadline
	router.Successor = srv
	t.router = router
	t.translateFrom = from
	logger.Debug("fitbit calls answered from google health", zap.String("from", from), zap.String("mode", string(mode)),
		zap.Bool("every_call", router.Fitbit == nil || mode == successor.Always), zap.Strings("paths", slices.Clone(provider.Fitbit.PathPrefixes)))
	return nil
}
