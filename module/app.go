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
	"maps"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/authserver"
	"github.com/caddy-fitbit/caddy-fitbit/internal/connect"
	"github.com/caddy-fitbit/caddy-fitbit/internal/keepalive"
	"github.com/caddy-fitbit/caddy-fitbit/internal/legacy"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/successor"
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
	// The Fitbit registration, at the top level of the app: its fields sit
	// flat beside the others in JSON (client_id, redirect_uri, …).
	ProviderConfig
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
	// crashed instance) and complete them, and for revocations to retry
	// (see README › Disconnecting). Default: 15s.
	RecoveryInterval caddy.Duration `json:"recovery_interval,omitempty"`
	// How long an instance goes on using a connection that another instance
	// sharing the store disconnected or replaced: how often it reads the
	// store's change feed (Redis delivers at once; this then bounds the
	// retry after a failure). At most 10s. Default: 2s.
	CacheSyncInterval caddy.Duration `json:"cache_sync_interval,omitempty"`
	// Keep idle connections alive: refresh, in the background, each whose
	// refresh token was last used (its last refresh, else its connection)
	// longer ago than this, since providers expire unused refresh tokens
	// (Google: after six months). One instance of those sharing the store
	// does each pass. Negative (Caddyfile: off) turns it off. Default:
	// 720h (30 days). See README › Operations › Idle connections.
	KeepaliveIdle caddy.Duration `json:"keepalive_idle,omitempty"`
	// Delete connections that need re-authorization (the provider refused
	// their refresh token) once their last refresh is older than this.
	// Default: off (they stay, and their users are asked to reconnect).
	PurgeReauthAfter caddy.Duration `json:"purge_reauth_after,omitempty"`
	// Prefixes that return_to may match: paths ("/app/") or absolute URLs
	// ("https://app.example.com/"). Default: ["/"] (same-origin paths only).
	ReturnToAllowed []string `json:"return_to_allowed,omitempty"`
	// Where users connect, quoted in errors sent to apps. Default:
	// /fitbit/authorize.
	ConnectURL string `json:"connect_url,omitempty"`
	// The token store, a module in the fitbit.stores namespace: "storage"
	// (a Caddy storage; the default) or "redis".
	StoreRaw json.RawMessage `json:"store,omitempty" caddy:"namespace=fitbit.stores inline_key=module"`
	// More provider registrations by name, beside the Fitbit one above (which
	// is omitted when client_id is empty and providers are given): e.g.
	// "google_health" for the Google Health API. An identity may connect to
	// each; apps reach each through its own API paths.
	Providers map[string]*Provider `json:"providers,omitempty"`
	// Shorthand for a "storage" store: the Caddy storage module (default:
	// Caddy's configured storage, the file system unless configured
	// otherwise)…
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=caddy.storage inline_key=module"`
	// … and the prefix of every storage key (default "fitbit").
	StoragePrefix string `json:"storage_prefix,omitempty"`
	// Apps written for Fitbit's OAuth 1.0a that the fitbit_oauth1 handler
	// serves.
	OAuth1Consumers []OAuth1Consumer `json:"oauth1_consumers,omitempty"`
	// Apps written for Fitbit's OAuth 2.0 that the fitbit_oauth2 handler
	// serves.
	OAuth2Apps []OAuth2App `json:"oauth2_apps,omitempty"`
	// Bounds on the connect and legacy endpoints; unset: the defaults.
	RateLimits *RateLimits `json:"rate_limits,omitempty"`
	// The default of every fitbit transport's translate: Fitbit Web API
	// calls answered from the Google Health API. Unset: fallback from the
	// google_health registration, when there is one.
	Translate *Translate `json:"translate,omitempty"`

	state    *state
	stateKey string
	logger   *zap.Logger
	audit    *zap.Logger             // fitbit.audit (audit.go)
	regs     []provider.Registration // resolved, the default first
	ctx      caddy.Context           // the events' origin (events.go)
	events   eventsApp               // nil: no events app configured
	oauth1   map[string]legacy.Consumer
	oauth2   map[string]authserver.App
	// The fitbit_auth handlers of this config (see connectURLFor).
	connects *connectEndpoints
}

// ProviderConfig is one provider registration: the OAuth 2.0 client the
// gateway is at the provider, and the provider's endpoints. Placeholders in
// every string are expanded.
type ProviderConfig struct {
	// OAuth 2.0 client ID of the app registered with the provider (at
	// dev.fitbit.com for Fitbit), e.g. {env.FITBIT_CLIENT_ID}.
	ClientID string `json:"client_id,omitempty"`
	// Client secret (server apps only). Use a placeholder:
	// {env.FITBIT_CLIENT_SECRET} or {file./run/secrets/fitbit}.
	ClientSecret string `json:"client_secret,omitempty"`
	// "server" (default: HTTP Basic to the token endpoint), "client" or
	// "personal" (client_id in the body, no secret).
	AppType string `json:"app_type,omitempty"`
	// Scopes to request. Default: the preset's (Fitbit: activity heartrate
	// profile sleep).
	Scopes []string `json:"scopes,omitempty"`
	// The callback URL exactly as registered with the provider, e.g.
	// https://gateway.example.com/fitbit/callback.
	RedirectURI string `json:"redirect_uri,omitempty"`
	// Overrides of the provider's endpoints; default: the preset's.
	Endpoints provider.Endpoints `json:"endpoints,omitzero"`
	// The budget of calls to the provider per identity (and project);
	// unset: the provider's own limits. See README › Provider budgets.
	Budget *Budget `json:"budget,omitempty"`
}

// Provider is one more provider registration, under providers: a preset
// and its registration.
type Provider struct {
	// Preset: "fitbit" or "google_health". Default: the registration name.
	Preset string `json:"preset,omitempty"`
	ProviderConfig
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
	managers    map[string]*tokens.Manager // by registration name
	defaultName string
	store       tokenstore.Store
	keys        *tokenstore.Keyring // the store's, for check and rekey (admin_keys.go)
	limiter     ratelimit.Limiter   // the store's (Redis) or this process's
	// windows count each registration's calls to its provider (budget.go):
	// in the store's Redis, or in this process's memory, surviving reloads.
	windows map[string]ratelimit.Windows
	// peers carry the providers' 429s between instances whose windows
	// count alone (budget_peers.go); none with Redis.
	peers  map[string]*ratelimit.PeerBlocks
	cancel context.CancelFunc
	done   chan struct{}
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
	Regs        []provider.Registration // the default first
	Presets     []string                // their presets' names
	Keys        []string
	CacheSize   int
	Skew        time.Duration
	Timeout     time.Duration
	RetryBudget time.Duration
	Recover     bool
	Recovery    time.Duration
	CacheSync   time.Duration
	Idle        time.Duration // keepalive_idle: 0 off
	PurgeReauth time.Duration // purge_reauth_after: 0 off
	Store       string
}

// Provision resolves placeholders, checks the configuration and attaches the
// shared state.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.audit = a.logger.Named("audit")
	a.connects = new(connectEndpoints)
	a.provisionEvents(ctx)
	repl := caddy.NewReplacer()
	expand := func(s string) string { return strings.TrimSpace(repl.ReplaceKnown(s, "")) }

	var errs []error
	regs, err := a.registrations(expand)
	if err != nil {
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
	if len(regs) > 0 && a.RefreshTokenRecovery && regs[0].Endpoints.RecoverURL == "" {
		errs = append(errs, errors.New("refresh_token_recovery is on but there is no recover_url: set recover_url to the provider's refresh-token recovery endpoint"))
	}
	if a.CacheSize < 0 {
		errs = append(errs, errors.New("cache_size must not be negative"))
	}
	if d := time.Duration(a.CacheSyncInterval); d < 0 || d > tokenstore.MaxChangeWait {
		errs = append(errs, fmt.Errorf("cache_sync_interval %s: want a positive duration of at most %s (the file-system store's change feed looks back only so far)", d, tokenstore.MaxChangeWait))
	}
	if a.StoreRaw != nil && (a.StorageRaw != nil || a.StoragePrefix != "") {
		errs = append(errs, errors.New("store and storage/storage_prefix are exclusive: put storage and prefix inside store (module storage)"))
	}
	if _, err := connect.NewReturnTo(a.returnToAllowed()); err != nil {
		errs = append(errs, err)
	}
	if a.oauth1, err = a.oauth1Consumers(expand); err != nil {
		errs = append(errs, err)
	}
	if a.oauth2, err = a.oauth2Apps(expand); err != nil {
		errs = append(errs, err)
	}
	if err := a.RateLimits.validate(); err != nil {
		errs = append(errs, err)
	}
	if a.Translate != nil {
		if _, err := successor.ParseMode(a.Translate.Mode); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("fitbit app: %w", err)
	}

	storeMod, storeID, err := a.storeModule(ctx)
	if err != nil {
		return err
	}
	_, redis := storeMod.(*RedisStore)
	if err := a.validateBudgets(redis); err != nil {
		return fmt.Errorf("fitbit app: %w", err)
	}
	presets := make([]string, len(regs))
	for i, r := range regs {
		presets[i] = r.Preset.Name
	}
	s := settings{
		Regs: regs, Presets: presets, Keys: keys, CacheSize: a.CacheSize,
		Skew: time.Duration(a.RefreshSkew), Timeout: time.Duration(a.TokenTimeout),
		RetryBudget: time.Duration(a.TokenRetryBudget), Recover: a.RefreshTokenRecovery,
		Recovery: time.Duration(a.RecoveryInterval), CacheSync: time.Duration(a.CacheSyncInterval), Store: storeID,
		Idle: a.keepaliveIdle(), PurgeReauth: max(time.Duration(a.PurgeReauthAfter), 0),
	}
	a.stateKey = fingerprint(s)
	val, loaded, err := states.LoadOrNew(a.stateKey, func() (caddy.Destructor, error) {
		store, err := storeMod.TokenStore(ctx, keyring)
		if err != nil {
			return nil, fmt.Errorf("fitbit app: opening the token store: %w", err)
		}
		return newState(s, store, keyring), nil
	})
	if err != nil {
		return err
	}
	a.state = val.(*state)
	a.regs = regs
	for _, w := range a.loadWarnings(regs) {
		a.logger.Warn(w)
	}
	obs := registerMetrics(ctx)
	for name, m := range a.state.managers {
		m.SetLogger(a.logger)
		m.SetObserver(obs.of(name))
	}
	a.logger.Debug("fitbit app provisioned", zap.Bool("state_reused", loaded), zap.String("default_provider", a.state.defaultName), zap.Int("providers", len(regs)))
	return nil
}

// configured is one provider registration as configured, placeholders
// not yet expanded.
type configured struct {
	name   string
	preset *provider.Preset
	ProviderConfig
}

// configuredProviders decides which provider registrations the app has and
// which is the default: the top-level Fitbit one when client_id is set or
// no providers are given, then the providers by name. The default comes
// first. Provision and the Caddyfile's fitbit_proxy (through ProxyRoutes)
// both read the registrations from here.
func (a *App) configuredProviders() ([]configured, error) {
	var regs []configured
	var errs []error
	if a.ClientID != "" || len(a.Providers) == 0 {
		regs = append(regs, configured{provider.Fitbit.Name, &provider.Fitbit, a.ProviderConfig})
	}
	for _, name := range slices.Sorted(maps.Keys(a.Providers)) {
		c := a.Providers[name]
		if c == nil {
			continue
		}
		if name == provider.Fitbit.Name && a.ClientID != "" {
			errs = append(errs, errors.New("provider fitbit is configured twice: at the top level and under providers"))
			continue
		}
		presetName := c.Preset
		if presetName == "" {
			presetName = name
		}
		preset, ok := provider.Presets[presetName]
		if !ok {
			errs = append(errs, fmt.Errorf("provider %q: unknown preset %q (want fitbit or google_health)", name, presetName))
			continue
		}
		regs = append(regs, configured{name, preset, c.ProviderConfig})
	}
	return regs, errors.Join(errs...)
}

// registrations resolves the provider registrations, the default first,
// and validates them all.
func (a *App) registrations(expand func(string) string) ([]provider.Registration, error) {
	confs, err := a.configuredProviders()
	errs := []error{err}
	regs := make([]provider.Registration, 0, len(confs))
	for _, c := range confs {
		reg := provider.Registration{
			Name:         c.name,
			ClientID:     expand(c.ClientID),
			ClientSecret: expand(c.ClientSecret),
			AppType:      provider.AppType(expand(c.AppType)),
			Scopes:       c.Scopes,
			RedirectURL:  expand(c.RedirectURI),
			Endpoints: provider.Endpoints{
				AuthURL:    expand(c.Endpoints.AuthURL),
				TokenURL:   expand(c.Endpoints.TokenURL),
				RevokeURL:  expand(c.Endpoints.RevokeURL),
				APIBase:    expand(c.Endpoints.APIBase),
				RecoverURL: expand(c.Endpoints.RecoverURL),
			},
		}.WithDefaults(*c.preset)
		if err := reg.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("provider %s: %w", c.name, err))
		}
		regs = append(regs, reg)
	}
	return regs, errors.Join(errs...)
}

// ProxyRoute is one provider registration as the fitbit_proxy shortcut
// routes to it when the Caddyfile is adapted, before placeholders are
// expanded.
type ProxyRoute struct {
	// Provider is the registration's name.
	Provider string
	// APIBase is the registration's api_base as configured, else its
	// preset's.
	APIBase string
	// PathPrefixes are the API paths of the registration's preset, e.g.
	// /v4/ for Google Health.
	PathPrefixes []string
}

// ProxyRoutes lists the app's provider registrations for fitbit_proxy, the
// default first. It reads the configuration only, so it works at adapt
// time; an unknown preset, or Fitbit configured twice, is an error.
func (a *App) ProxyRoutes() ([]ProxyRoute, error) {
	confs, err := a.configuredProviders()
	if err != nil {
		return nil, err
	}
	routes := make([]ProxyRoute, len(confs))
	for i, c := range confs {
		base := c.Endpoints.APIBase
		if base == "" {
			base = c.preset.Endpoints.APIBase
		}
		routes[i] = ProxyRoute{Provider: c.name, APIBase: base, PathPrefixes: c.preset.PathPrefixes}
	}
	return routes, nil
}

func newState(s settings, store tokenstore.Store, keys *tokenstore.Keyring) *state {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = provider.DefaultTimeout
	}
	recovery := s.Recovery
	if recovery <= 0 {
		recovery = 15 * time.Second
	}
	cacheSync := s.CacheSync
	if cacheSync <= 0 {
		cacheSync = defaultCacheSync
	}
	ctx, cancel := context.WithCancel(context.Background())
	st := &state{managers: map[string]*tokens.Manager{}, defaultName: s.Regs[0].Name, store: store, keys: keys,
		limiter: newLimiter(store), windows: map[string]ratelimit.Windows{}, peers: map[string]*ratelimit.PeerBlocks{},
		cancel: cancel, done: make(chan struct{})}
	httpClient := &http.Client{Timeout: timeout}
	for _, reg := range s.Regs {
		st.windows[reg.Name] = newWindows(store, reg.Name)
		if _, alone := st.windows[reg.Name].(*ratelimit.MemoryWindows); alone {
			st.peers[reg.Name] = peerBlocks(store, reg.Name)
		}
		st.managers[reg.Name] = tokens.New(tokens.Config{
			Provider:    provider.NewClient(reg, httpClient),
			Store:       store,
			CacheSize:   s.CacheSize,
			Skew:        s.Skew,
			RetryBudget: s.RetryBudget,
			Recover:     s.Recover && reg.Endpoints.RecoverURL != "",
			Instance:    instanceName(),
			Context:     ctx,
		})
	}
	go st.background(ctx, recovery, cacheSync, st.keeper(s))
	return st
}

// defaultKeepaliveIdle is the default keepalive_idle, and keepaliveInterval
// how often one instance makes a keep-alive pass.
const (
	defaultKeepaliveIdle = 30 * 24 * time.Hour
	keepaliveInterval    = 6 * time.Hour
)

// keepaliveIdle is keepalive_idle resolved: its default, or 0 for off.
func (a *App) keepaliveIdle() time.Duration {
	switch d := time.Duration(a.KeepaliveIdle); {
	case d < 0:
		return 0
	case d == 0:
		return defaultKeepaliveIdle
	default:
		return d
	}
}

// keeper is the keep-alive of the state's connections.
func (s *state) keeper(set settings) *keepalive.Keeper {
	k := &keepalive.Keeper{Store: s.store, Managers: map[string]keepalive.Refresher{}, Idle: set.Idle, PurgeAfter: set.PurgeReauth,
		Log: caddy.Log().Named("fitbit.keepalive")}
	for name, m := range s.managers {
		k.Managers[name] = m
	}
	return k
}

// defaultCacheSync is the default cache_sync_interval.
const defaultCacheSync = 2 * time.Second

// background completes unfinished refreshes and retries pending
// revocations (at start-up, then every interval), follows the store's change feed into the caches and the
// providers' 429s other instances received into the budgets (budget_peers.go), keeps idle
// connections alive (keepalive_idle, purge_reauth_after), counts the records each key seals (metrics_keys.go), and
// deletes abandoned pending authorizations, until ctx is done.
func (s *state) background(ctx context.Context, recovery, cacheSync time.Duration, keeper *keepalive.Keeper) {
	defer close(s.done)
	var sweeps sync.WaitGroup
	managers := make([]*tokens.Manager, 0, len(s.managers))
	for _, m := range s.managers {
		managers = append(managers, m)
		sweeps.Go(func() { m.RunRecovery(ctx, recovery) })
		// Revocations that failed transiently at disconnect, and previous
		// grants of reconnected identities, on the same interval.
		sweeps.Go(func() { m.RunRevocations(ctx, recovery) })
	}
	sweeps.Go(func() { tokens.FollowChanges(ctx, s.store, cacheSync, managers...) })
	if len(s.peers) > 0 {
		sweeps.Go(func() { followBlocks(ctx, s.store, cacheSync, s.peers, caddy.Log().Named("fitbit.budget")) })
	}
	if keeper.Idle > 0 || keeper.PurgeAfter > 0 {
		sweeps.Go(func() { keeper.Run(ctx, keepaliveInterval) })
	}
	defer sweeps.Wait()
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.countKeys(ctx, now) // metrics_keys.go
			_, _ = s.store.PurgeExpiredPending(ctx, now)
			_, _ = s.store.PurgeExpiredEntries(ctx, blockKind, now)
			connect.Purge(ctx, s.store, now)
			legacy.Purge(ctx, s.store, now)
			authserver.Purge(ctx, s.store, now)
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
	b, err := json.Marshal(s)
	if err != nil {
		panic("fitbit app: settings must encode: " + err.Error()) // a programming error, caught by the tests
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (a *App) returnToAllowed() []string {
	if len(a.ReturnToAllowed) == 0 {
		return []string{"/"}
	}
	return a.ReturnToAllowed
}

// Start implements caddy.App: from now on the admin API (admin.api.fitbit)
// serves this app, and it is told of the shared state's changes.
func (a *App) Start() error {
	// Every handler of the config has provisioned by now.
	a.connects.mu.Lock()
	prefixes := make([]string, 0, len(a.connects.list))
	for _, e := range a.connects.list {
		prefixes = append(prefixes, e.prefix)
	}
	a.connects.mu.Unlock()
	switch checked, err := checkCallbacks(a.regs, prefixes); {
	case err != nil:
		return err
	case !checked:
		a.logger.Warn("no fitbit_auth handler in this config: the redirect_uri of each registration must reach one on another server, or users cannot connect")
	}
	a.watch()
	running.Store(a)
	return nil
}

// Stop implements caddy.App. The admin API stops serving this app, unless a
// newer config's app has already taken over (Caddy starts the new config
// before it stops the old).
func (a *App) Stop() error {
	running.CompareAndSwap(a, nil)
	return nil
}

// Cleanup releases this config's hold on the shared state.
func (a *App) Cleanup() error {
	if a.stateKey == "" {
		return nil
	}
	_, err := states.Delete(a.stateKey)
	return err
}

// manager returns the token manager of the provider registration name, or
// of the default registration for "".
func (a *App) manager(name string) (*tokens.Manager, error) {
	if name == "" {
		name = a.state.defaultName
	}
	if m, ok := a.state.managers[name]; ok {
		return m, nil
	}
	return nil, fmt.Errorf("fitbit app has no provider %q (configured: %s)", name, strings.Join(a.providerNames(), ", "))
}

// providerNames lists the registrations, the default first.
func (a *App) providerNames() []string {
	names := []string{a.state.defaultName}
	var rest []string
	for n := range a.state.managers {
		if n != a.state.defaultName {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(names, rest...)
}

// others returns every registration's manager but name's.
func (a *App) others(name string) map[string]*tokens.Manager {
	others := map[string]*tokens.Manager{}
	for n, m := range a.state.managers {
		if n != name {
			others[n] = m
		}
	}
	return others
}

// store returns the token store.
func (a *App) store() tokenstore.Store { return a.state.store }

// newReturnTo returns the return_to allow-list.
func (a *App) newReturnTo() *connect.ReturnTo {
	rt, _ := connect.NewReturnTo(a.returnToAllowed()) // validated in Provision
	return rt
}

// connectURLFor is where users connect to the registration name, the one
// answer quoted in the proxy's errors and in every status endpoint:
// connect_url when set; else the authorize endpoint of a fitbit_auth handler
// of this config (one whose default is name, else the first by prefix); else
// /fitbit/authorize. It is asked at request time, when every handler of the
// config has been provisioned, whatever their order.
func (a *App) connectURLFor(name string) string {
	if a.ConnectURL != "" {
		return connect.URL(a.ConnectURL, name, a.state.defaultName)
	}
	a.connects.mu.Lock()
	served := slices.SortedFunc(slices.Values(a.connects.list), func(x, y connectEndpoint) int { return strings.Compare(x.prefix, y.prefix) })
	a.connects.mu.Unlock()
	for _, e := range served {
		if e.provider == name {
			return e.prefix + "/authorize"
		}
	}
	if len(served) > 0 {
		return connect.URL(served[0].prefix+"/authorize", name, served[0].provider)
	}
	return connect.URL("/fitbit/authorize", name, a.state.defaultName)
}

// connectEndpoint is a fitbit_auth handler: its prefix and the registration
// it serves by default.
type connectEndpoint struct{ prefix, provider string }

// connectEndpoints are the fitbit_auth handlers of one config.
type connectEndpoints struct {
	mu   sync.Mutex
	list []connectEndpoint
}

// servesConnect records a fitbit_auth handler of this config, for
// connectURLFor.
func (a *App) servesConnect(prefix, provider string) {
	a.connects.mu.Lock()
	defer a.connects.mu.Unlock()
	a.connects.list = append(a.connects.list, connectEndpoint{prefix, provider})
}

// migratedFrom returns the bridging check for registration name: for an
// identity not connected there, the first other provider (by name) it has a
// healthy connection to.
func (a *App) migratedFrom(name string) func(ctx context.Context, identity string) (string, string, bool) {
	others := a.others(name)
	if len(others) == 0 {
		return nil
	}
	names := make([]string, 0, len(others))
	for n := range others {
		names = append(names, n)
	}
	sort.Strings(names)
	return func(ctx context.Context, identity string) (string, string, bool) {
		for _, n := range names {
			m := others[n]
			if rec, err := m.Lookup(ctx, identity); err == nil && rec.Status == tokenstore.StatusOK {
				return m.Provider().Reg.Title(), a.connectURLFor(n), true
			}
		}
		return "", "", false
	}
}

// successorOf names the registration of reg's successor preset, if any, for
// apps that meet a 410 Gone.
func (a *App) successorOf(reg provider.Registration) (title, connectURL string) {
	if reg.Preset == nil || reg.Preset.Successor == "" {
		return "", ""
	}
	for n, m := range a.state.managers {
		if p := m.Provider().Reg.Preset; p != nil && p.Name == reg.Preset.Successor {
			return m.Provider().Reg.Title(), a.connectURLFor(n)
		}
	}
	return "", ""
}

// fitbitApp fetches the fitbit app from ctx, provisioning it if needed.
func fitbitApp(ctx caddy.Context) (*App, error) {
	v, err := ctx.AppIfConfigured("fitbit")
	if errors.Is(err, caddy.ErrNotConfigured) {
		return nil, fmt.Errorf("the fitbit app is not configured: add a fitbit { … } global option (Caddyfile) or apps.fitbit (JSON): %w", err)
	}
	if err != nil {
		// The app is configured but failed to provision (a bad encryption
		// key, say): its own error says why, whichever module asked first.
		return nil, err
	}
	return v.(*App), nil
}

var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
