// Package module holds the Caddy modules of caddy-fitbit: the fitbit app
// (provider registration, token store, shared state), the fitbit_auth
// handler (connect flow), the fitbit reverse-proxy transport (credential
// injection) and the token stores. The logic lives in internal/…; this is
// the Caddy glue.
package module

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/connect"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the fitbit app: one provider registration (client id and secret,
// app type, scopes, redirect URI, endpoints), the encrypted token store and
// the in-memory token cache shared by every fitbit_auth handler and fitbit
// transport. Its state survives config reloads as long as the settings that
// shape it do not change.
type App struct {
	// OAuth 2.0 client ID of the app registered at dev.fitbit.com. Placeholders
	// such as {env.FITBIT_CLIENT_ID} are expanded.
	ClientID string `json:"client_id,omitempty"`
	// Client secret (server apps only). Use a placeholder:
	// {env.FITBIT_CLIENT_SECRET} or {file./run/secrets/fitbit}.
	ClientSecret string `json:"client_secret,omitempty"`
	// "server" (default: HTTP Basic to the token endpoint), "client" or
	// "personal" (client_id in the body, no secret).
	AppType string `json:"app_type,omitempty"`
	// Scopes to request. Default: activity heartrate profile sleep.
	Scopes []string `json:"scopes,omitempty"`
	// The callback URL exactly as registered with the provider, e.g.
	// https://gateway.example.com/fitbit/callback.
	RedirectURI string `json:"redirect_uri,omitempty"`
	// Overrides of the provider's endpoints; default: Fitbit's.
	Endpoints provider.Endpoints `json:"endpoints,omitzero"`
	// Base64 AES-256 keys (32 bytes each): the first encrypts, all decrypt.
	// Use placeholders. Make one with: openssl rand -base64 32
	EncryptionKeys []string `json:"encryption_keys,omitempty"`
	// Connections kept decrypted in memory. Default: 10000.
	CacheSize int `json:"cache_size,omitempty"`
	// Refresh this long before the access token expires. Default: 5m.
	RefreshSkew caddy.Duration `json:"refresh_skew,omitempty"`
	// Timeout of one call to the token or revoke endpoint. Default: 15s.
	TokenTimeout caddy.Duration `json:"token_timeout,omitempty"`
	// Bound on the retries of a token-endpoint call that failed transiently
	// (each re-sends the identical request). Default: 20s.
	TokenRetryBudget caddy.Duration `json:"token_retry_budget,omitempty"`
	// Use the provider's refresh-token recovery endpoint (recover_url) when
	// a refresh token is refused after a rotation may have been lost.
	// Fitbit support enables the endpoint per app. Default: off.
	RefreshTokenRecovery bool `json:"refresh_token_recovery,omitempty"`
	// How often to look for refreshes that started and never finished (a
	// crashed instance) and complete them. Default: 15s.
	RecoveryInterval caddy.Duration `json:"recovery_interval,omitempty"`
	// Prefixes that return_to may match: paths ("/app/") or absolute URLs
	// ("https://app.example.com/"). Default: ["/"] (same-origin paths only).
	ReturnToAllowed []string `json:"return_to_allowed,omitempty"`
	// Where users connect, quoted in errors sent to apps. Default:
	// /fitbit/authorize.
	ConnectURL string `json:"connect_url,omitempty"`
	// The token store, a module in the fitbit.stores namespace: "storage"
	// (a Caddy storage; the default) or "redis".
	StoreRaw json.RawMessage `json:"store,omitempty" caddy:"namespace=fitbit.stores inline_key=module"`
	// Shorthand for a "storage" store: the Caddy storage module (default:
	// Caddy's configured storage, the file system unless configured
	// otherwise)…
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=caddy.storage inline_key=module"`
	// … and the prefix of every storage key (default "fitbit").
	StoragePrefix string `json:"storage_prefix,omitempty"`

	state    *state
	stateKey string
	logger   *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "fitbit",
		New: func() caddy.Module { return new(App) },
	}
}

// states holds what must outlive a config reload: the cache of decrypted
// connections, in-flight refreshes, the store and its background work.
var states = caddy.NewUsagePool()

// state is the reload-surviving part of the app.
type state struct {
	manager *tokens.Manager
	store   tokenstore.Store
	cancel  context.CancelFunc
	done    chan struct{}
}

// Destruct stops the state's background work when no config uses it any
// more, and closes the store if it holds connections (Redis).
func (s *state) Destruct() error {
	s.cancel()
	<-s.done
	if c, ok := s.store.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// settings are the resolved values that shape the state.
type settings struct {
	Reg         provider.Registration
	Keys        []string
	CacheSize   int
	Skew        time.Duration
	Timeout     time.Duration
	RetryBudget time.Duration
	Recover     bool
	Recovery    time.Duration
	Store       string
}

// Provision resolves placeholders, checks the configuration and attaches the
// shared state.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	repl := caddy.NewReplacer()
	expand := func(s string) string { return strings.TrimSpace(repl.ReplaceKnown(s, "")) }

	reg := provider.Registration{
		ClientID:     expand(a.ClientID),
		ClientSecret: expand(a.ClientSecret),
		AppType:      provider.AppType(expand(a.AppType)),
		Scopes:       a.Scopes,
		RedirectURL:  expand(a.RedirectURI),
		Endpoints: provider.Endpoints{
			AuthURL:    expand(a.Endpoints.AuthURL),
			TokenURL:   expand(a.Endpoints.TokenURL),
			RevokeURL:  expand(a.Endpoints.RevokeURL),
			APIBase:    expand(a.Endpoints.APIBase),
			RecoverURL: expand(a.Endpoints.RecoverURL),
		},
	}.WithDefaults(provider.Fitbit)
	var errs []error
	if err := reg.Validate(); err != nil {
		errs = append(errs, err)
	}
	keys := make([]string, 0, len(a.EncryptionKeys))
	for _, k := range a.EncryptionKeys {
		keys = append(keys, expand(k))
	}
	keyring, err := tokenstore.ParseKeys(keys)
	if err != nil {
		errs = append(errs, fmt.Errorf("encryption_keys: %w", err))
	}
	if a.RefreshTokenRecovery && reg.Endpoints.RecoverURL == "" {
		errs = append(errs, errors.New("refresh_token_recovery is on but there is no recover_url: set recover_url to the provider's refresh-token recovery endpoint"))
	}
	if a.CacheSize < 0 {
		errs = append(errs, errors.New("cache_size must not be negative"))
	}
	if a.StoreRaw != nil && (a.StorageRaw != nil || a.StoragePrefix != "") {
		errs = append(errs, errors.New("store and storage/storage_prefix are exclusive: put storage and prefix inside store (module storage)"))
	}
	if _, err := connect.NewReturnTo(a.returnToAllowed()); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("fitbit app: %w", err)
	}

	storeMod, storeID, err := a.storeModule(ctx)
	if err != nil {
		return err
	}
	s := settings{
		Reg: reg, Keys: keys, CacheSize: a.CacheSize,
		Skew: time.Duration(a.RefreshSkew), Timeout: time.Duration(a.TokenTimeout),
		RetryBudget: time.Duration(a.TokenRetryBudget), Recover: a.RefreshTokenRecovery,
		Recovery: time.Duration(a.RecoveryInterval), Store: storeID,
	}
	a.stateKey = fingerprint(s)
	val, loaded, err := states.LoadOrNew(a.stateKey, func() (caddy.Destructor, error) {
		store, err := storeMod.TokenStore(ctx, keyring)
		if err != nil {
			return nil, fmt.Errorf("fitbit app: opening the token store: %w", err)
		}
		return newState(s, store), nil
	})
	if err != nil {
		return err
	}
	a.state = val.(*state)
	a.state.manager.SetLogger(a.logger)
	a.state.manager.SetObserver(registerMetrics(ctx))
	a.logger.Debug("fitbit app provisioned", zap.Bool("state_reused", loaded), zap.String("provider", reg.Name), zap.String("app_type", string(reg.AppType)))
	return nil
}

func newState(s settings, store tokenstore.Store) *state {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = provider.DefaultTimeout
	}
	recovery := s.Recovery
	if recovery <= 0 {
		recovery = 15 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	mgr := tokens.New(tokens.Config{
		Provider:    provider.NewClient(s.Reg, &http.Client{Timeout: timeout}),
		Store:       store,
		CacheSize:   s.CacheSize,
		Skew:        s.Skew,
		RetryBudget: s.RetryBudget,
		Recover:     s.Recover,
		Instance:    instanceName(),
		Context:     ctx,
	})
	st := &state{manager: mgr, store: store, cancel: cancel, done: make(chan struct{})}
	go st.background(ctx, recovery)
	return st
}

// background completes unfinished refreshes (at start-up, then every
// interval) and deletes abandoned pending authorizations, until ctx is done.
func (s *state) background(ctx context.Context, recovery time.Duration) {
	defer close(s.done)
	recovered := make(chan struct{})
	go func() {
		defer close(recovered)
		s.manager.RunRecovery(ctx, recovery)
	}()
	defer func() { <-recovered }()
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			_, _ = s.store.PurgeExpiredPending(ctx, now)
		}
	}
}

// instanceName names this process in refresh markers: host and pid.
func instanceName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d", host, os.Getpid())
}

// storeModule returns the configured token store module and a string that
// identifies its configuration (for the reload fingerprint).
func (a *App) storeModule(ctx caddy.Context) (StoreModule, string, error) {
	if a.StoreRaw != nil {
		mod, err := ctx.LoadModule(a, "StoreRaw")
		if err != nil {
			return nil, "", fmt.Errorf("fitbit app: loading store module: %w", err)
		}
		return mod.(StoreModule), string(a.StoreRaw), nil
	}
	st := &StorageStore{StorageRaw: a.StorageRaw, Prefix: a.StoragePrefix}
	if err := st.Provision(ctx); err != nil {
		return nil, "", err
	}
	return st, st.id(), nil
}

// fingerprint identifies the state that settings make; secrets go in only
// hashed and the result stays in memory.
func fingerprint(s settings) string {
	b, _ := json.Marshal(s)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (a *App) returnToAllowed() []string {
	if len(a.ReturnToAllowed) == 0 {
		return []string{"/"}
	}
	return a.ReturnToAllowed
}

// Start implements caddy.App.
func (a *App) Start() error { return nil }

// Stop implements caddy.App.
func (a *App) Stop() error { return nil }

// Cleanup releases this config's hold on the shared state.
func (a *App) Cleanup() error {
	if a.stateKey == "" {
		return nil
	}
	_, err := states.Delete(a.stateKey)
	return err
}

// Manager returns the token manager of the provider registration name.
func (a *App) Manager(name string) (*tokens.Manager, error) {
	if name == "" || name == a.state.manager.Provider().Reg.Name {
		return a.state.manager, nil
	}
	return nil, fmt.Errorf("fitbit app has no provider %q (configured: %q)", name, a.state.manager.Provider().Reg.Name)
}

// Store returns the token store.
func (a *App) Store() tokenstore.Store { return a.state.store }

// NewReturnTo returns the return_to allow-list.
func (a *App) NewReturnTo() *connect.ReturnTo {
	rt, _ := connect.NewReturnTo(a.returnToAllowed()) // validated in Provision
	return rt
}

// ConnectURLFor is the connect URL quoted to apps.
func (a *App) ConnectURLFor() string {
	if a.ConnectURL != "" {
		return a.ConnectURL
	}
	return "/fitbit/authorize"
}

// fitbitApp fetches the fitbit app from ctx, provisioning it if needed.
func fitbitApp(ctx caddy.Context) (*App, error) {
	v, err := ctx.AppIfConfigured("fitbit")
	if err != nil {
		return nil, fmt.Errorf("the fitbit app is not configured: add a fitbit { … } global option (Caddyfile) or apps.fitbit (JSON): %w", err)
	}
	return v.(*App), nil
}

var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
