// Package module holds the Caddy modules of caddy-fitbit: the fitbit app
// (provider registration, token store, shared state), the fitbit_auth
// handler (connect flow) and the fitbit reverse-proxy transport (credential
// injection). The logic lives in internal/…; this is the Caddy glue.
package module

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
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
	// Prefixes that return_to may match: paths ("/app/") or absolute URLs
	// ("https://app.example.com/"). Default: ["/"] (same-origin paths only).
	ReturnToAllowed []string `json:"return_to_allowed,omitempty"`
	// Where users connect, quoted in errors sent to apps. Default:
	// /fitbit/authorize.
	ConnectURL string `json:"connect_url,omitempty"`
	// Storage for tokens; default: Caddy's configured storage (the file
	// system unless configured otherwise).
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=caddy.storage inline_key=module"`
	// Prefix of every storage key. Default: "fitbit".
	StoragePrefix string `json:"storage_prefix,omitempty"`

	state    *state
	stateKey string
	ctx      caddy.Context
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
// connections, in-flight refreshes, the store.
var states = caddy.NewUsagePool()

// state is the reload-surviving part of the app.
type state struct {
	manager *tokens.Manager
	store   *tokenstore.StorageStore
	cancel  context.CancelFunc
}

// Destruct stops the state's housekeeping when no config uses it any more.
func (s *state) Destruct() error {
	s.cancel()
	return nil
}

// settings are the resolved values that shape the state.
type settings struct {
	Reg        provider.Registration
	Keys       []string
	CacheSize  int
	Skew       time.Duration
	Timeout    time.Duration
	Storage    string
	Prefix     string
	ConnectURL string
}

// Provision resolves placeholders, checks the configuration and attaches the
// shared state.
func (a *App) Provision(ctx caddy.Context) error {
	a.ctx = ctx
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
			AuthURL:   expand(a.Endpoints.AuthURL),
			TokenURL:  expand(a.Endpoints.TokenURL),
			RevokeURL: expand(a.Endpoints.RevokeURL),
			APIBase:   expand(a.Endpoints.APIBase),
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
	if err := tokenstore.ValidatePrefix(a.StoragePrefix); a.StoragePrefix != "" && err != nil {
		errs = append(errs, fmt.Errorf("storage_prefix: %w", err))
	}
	if a.CacheSize < 0 {
		errs = append(errs, errors.New("cache_size must not be negative"))
	}
	returnTo := a.ReturnToAllowed
	if len(returnTo) == 0 {
		returnTo = []string{"/"}
	}
	if _, err := connect.NewReturnTo(returnTo); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("fitbit app: %w", err)
	}

	storage, storageID, err := a.storage(ctx)
	if err != nil {
		return err
	}
	s := settings{
		Reg: reg, Keys: keys, CacheSize: a.CacheSize,
		Skew: time.Duration(a.RefreshSkew), Timeout: time.Duration(a.TokenTimeout),
		Storage: storageID, Prefix: a.StoragePrefix, ConnectURL: a.connectURL(),
	}
	a.stateKey = fingerprint(s)
	val, loaded, err := states.LoadOrNew(a.stateKey, func() (caddy.Destructor, error) {
		return newState(s, keyring, storage), nil
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

func newState(s settings, keyring *tokenstore.Keyring, storage certmagic.Storage) *state {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = provider.DefaultTimeout
	}
	store := tokenstore.NewStorageStore(storage, keyring, s.Prefix)
	mgr := tokens.New(tokens.Config{
		Provider:  provider.NewClient(s.Reg, &http.Client{Timeout: timeout}),
		Store:     store,
		CacheSize: s.CacheSize,
		Skew:      s.Skew,
	})
	ctx, cancel := context.WithCancel(context.Background())
	st := &state{manager: mgr, store: store, cancel: cancel}
	go st.housekeeping(ctx)
	return st
}

// housekeeping deletes abandoned pending authorizations.
func (s *state) housekeeping(ctx context.Context) {
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

func (a *App) storage(ctx caddy.Context) (certmagic.Storage, string, error) {
	if a.StorageRaw == nil {
		st := ctx.Storage()
		return st, storageID(st), nil
	}
	mod, err := ctx.LoadModule(a, "StorageRaw")
	if err != nil {
		return nil, "", fmt.Errorf("fitbit app: loading storage module: %w", err)
	}
	st, err := mod.(caddy.StorageConverter).CertMagicStorage()
	if err != nil {
		return nil, "", fmt.Errorf("fitbit app: creating storage: %w", err)
	}
	return st, string(a.StorageRaw), nil
}

// storageID tells storages apart for the reload fingerprint.
func storageID(st certmagic.Storage) string {
	if s, ok := st.(fmt.Stringer); ok {
		return fmt.Sprintf("%T %s", st, s.String())
	}
	b, _ := json.Marshal(st)
	return fmt.Sprintf("%T %s", st, b)
}

// fingerprint identifies the state that settings make; secrets go in only
// hashed and the result stays in memory.
func fingerprint(s settings) string {
	b, _ := json.Marshal(s)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (a *App) connectURL() string {
	if a.ConnectURL != "" {
		return a.ConnectURL
	}
	return "/fitbit/authorize"
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
	allowed := a.ReturnToAllowed
	if len(allowed) == 0 {
		allowed = []string{"/"}
	}
	rt, _ := connect.NewReturnTo(allowed) // validated in Provision
	return rt
}

// ConnectURLFor is the connect URL quoted to apps.
func (a *App) ConnectURLFor() string { return a.connectURL() }

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
