// Command demo is caddy-fitbit's one-command demo: in one process it starts a
// simulated Fitbit and a simulated Google Health API (Fitbit's successor), a
// Caddy gateway with the plugin in front of both (two basic_auth users, alice
// and bob), walks through connecting alice and using her data — including a
// token expiry the app never notices — then through the bridge to Google
// Health and Fitbit's shutdown, and keeps running so you can try it by hand.
// No Fitbit or Google account is needed.
//
//	go run ./examples/demo
//	go run ./examples/demo -exit-after-walkthrough   # for CI
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-fitbit/caddy-fitbit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// options are the demo's flags.
type options struct {
	Listen               string        // gateway address, loopback only
	DataDir              string        // "" means a temp dir removed on exit
	TokenLifetime        time.Duration // access-token lifetime at both simulators
	Walkthrough          bool          // run the automatic walkthrough
	ExitAfterWalkthrough bool          // exit after it instead of serving on
	GoogleOnly           bool          // no Fitbit registration: the world after the shutdown
	Out                  io.Writer     // where the demo prints

	// onSim and onGoogle, if set, are called with the simulators once they
	// run (tests use them to check that no token ever leaks into output or
	// storage).
	onSim    func(*fitbitsim.Server)
	onGoogle func(*googlesim.Server)
}

func main() {
	opts := options{Out: os.Stdout}
	flag.StringVar(&opts.Listen, "listen", "localhost:8080", "gateway address (loopback only)")
	flag.StringVar(&opts.DataDir, "data", "", "keep tokens and Caddy's log in this directory (default: a temp dir, removed on exit)")
	flag.DurationVar(&opts.TokenLifetime, "token-lifetime", 2*time.Minute, "lifetime of the simulated Fitbit's and Google's access tokens (real: 8h and 1h)")
	flag.BoolVar(&opts.Walkthrough, "walkthrough", true, "run the automatic walkthrough at start-up")
	flag.BoolVar(&opts.ExitAfterWalkthrough, "exit-after-walkthrough", false, "exit after the walkthrough (non-zero if a step failed)")
	flag.BoolVar(&opts.GoogleOnly, "google-only", false, "register Google Health only, as a gateway set up after Fitbit's shutdown: every Fitbit call, and the OAuth 1.0a sign-in, goes to Google (no walkthrough)")
	flag.Parse()
	if opts.GoogleOnly {
		opts.Walkthrough, opts.ExitAfterWalkthrough = false, false // it tells the story of the bridge
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		stop()
		os.Exit(1)
	}
}

// run is the whole demo; it returns when ctx ends, or after the walkthrough
// with ExitAfterWalkthrough. Caddy is a process-wide singleton, so only one
// run may be active in a process.
func run(ctx context.Context, opts options) error {
	out := &console{w: opts.Out}
	gw, err := parseListen(opts.Listen)
	if err != nil {
		return err
	}
	skew, err := refreshSkew(opts.TokenLifetime)
	if err != nil {
		return err
	}
	dataDir, cleanup, err := prepareDataDir(opts.DataDir)
	if err != nil {
		return err
	}
	defer cleanup()

	sim, err := startSim(opts.TokenLifetime, out)
	if err != nil {
		return err
	}
	defer sim.Close()
	if opts.onSim != nil {
		opts.onSim(sim)
	}
	redirectURI := gw.base + "/fitbit/callback"
	google, err := startGoogle(opts.TokenLifetime, redirectURI, out)
	if err != nil {
		return err
	}
	defer google.Close()
	if opts.onGoogle != nil {
		opts.onGoogle(google)
	}

	out.printf("caddy-fitbit demo\n\n")
	out.printf("  simulated Fitbit  %s  (access tokens live %s; real Fitbit: 8h)\n", sim.URL(), opts.TokenLifetime)
	out.printf("  simulated Google  %s  (the Google Health API, Fitbit's successor; access tokens live %s; real: 1h)\n", google.URL(), opts.TokenLifetime)
	if err := setEncryptionKey(out); err != nil {
		return err
	}
	defer os.Unsetenv(keyEnv)

	logFile := filepath.Join(dataDir, "caddy.log")
	if err := startCaddy(gw, dataDir, logFile, redirectURI, sim, google, skew, opts.GoogleOnly); err != nil {
		return err
	}
	defer stopCaddy(out)
	out.printf("  gateway           %s  (Caddy; users alice/alice-password, bob/bob-password;\n", gw.base)
	if opts.GoogleOnly {
		out.printf("                    one registration, Google Health (-google-only), callback: %s)\n", redirectURI)
	} else {
		out.printf("                    two registrations, Fitbit and Google Health, one callback: %s)\n", redirectURI)
	}
	out.printf("  data directory    %s  (Caddyfile, encrypted tokens, Caddy's log: caddy.log)\n", dataDir)
	out.printf("  refresh_skew      %s  (the gateway refreshes this long before a token expires)\n\n", skew)

	if opts.Walkthrough {
		werr := walkthrough(ctx, out, gw, sim, google)
		if opts.ExitAfterWalkthrough {
			return werr
		}
		if werr != nil {
			out.printf("\nThe walkthrough FAILED: %v\nThe gateway keeps running so you can look; see %s.\n", werr, logFile)
		}
	} else if opts.ExitAfterWalkthrough {
		return nil
	}

	printTryIt(out, gw, opts.Walkthrough)
	go watchRefreshes(ctx, out, sim, google)
	<-ctx.Done()
	out.printf("\nShutting down.\n")
	return nil
}

// gateway is where the demo's Caddy listens.
type gateway struct {
	host, port string // as given in -listen (host may be "localhost")
	bind       string // the loopback IP Caddy binds
	base       string // http://host:port
}

// parseListen checks that -listen is a loopback address: the demo's
// passwords are public, so it never listens beyond this machine.
func parseListen(listen string) (gateway, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return gateway{}, fmt.Errorf("-listen %q: want host:port, e.g. localhost:8080: %w", listen, err)
	}
	if host == "" {
		host = "localhost"
	}
	bind := host
	if host == "localhost" {
		bind = "127.0.0.1"
	}
	if ip := net.ParseIP(bind); ip == nil || !ip.IsLoopback() {
		return gateway{}, fmt.Errorf("-listen %q: the demo listens on loopback only (localhost, 127.0.0.1 or [::1])", listen)
	}
	if p, err := net.LookupPort("tcp", port); err != nil || p == 0 {
		return gateway{}, fmt.Errorf("-listen %q: want a fixed port such as 8080", listen)
	}
	hostport := net.JoinHostPort(host, port)
	return gateway{host: host, port: port, bind: bind, base: "http://" + hostport}, nil
}

// refreshSkew picks the gateway's refresh_skew: 30s, or a quarter of a
// shorter token lifetime, so a token is really used before it is refreshed.
func refreshSkew(lifetime time.Duration) (time.Duration, error) {
	if lifetime < 4*time.Second {
		return 0, fmt.Errorf("-token-lifetime %s: use at least 4s", lifetime)
	}
	return min(30*time.Second, (lifetime / 4).Truncate(time.Second)), nil
}

// prepareDataDir returns the data directory and what removes it on exit
// (nothing, for a directory given with -data).
func prepareDataDir(dir string) (string, func(), error) {
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", nil, err
		}
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return "", nil, fmt.Errorf("-data: %w", err)
		}
		return abs, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "caddy-fitbit-demo-")
	if err != nil {
		return "", nil, err
	}
	return tmp, func() { _ = os.RemoveAll(tmp) }, nil
}

// startSim starts the simulated Fitbit on a random loopback port. Every
// consent is a new simulated Fitbit user (DEMO01, DEMO02, …), so each person
// who connects gets their own data.
func startSim(lifetime time.Duration, out *console) (*fitbitsim.Server, error) {
	var users atomic.Int64
	sim, err := fitbitsim.Start(fitbitsim.Config{
		AppType:             fitbitsim.ServerApp,
		AccessTokenLifetime: lifetime,
		RateLimitPerHour:    -1, // people clicking around should not hit 429s
		// A person's browser gets the consent page (Allow, Deny, a box per
		// scope); the walkthrough's client is answered "allow" at once.
		Consent: simkit.AskBrowsers(func(_ *http.Request, requested []string) fitbitsim.Consent {
			id := fmt.Sprintf("DEMO%02d", users.Add(1))
			out.printf("   [simulated Fitbit] consent page: Fitbit user %s is asked for %v\n", id, requested)
			return fitbitsim.Consent{UserID: id}
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("starting the simulated Fitbit: %w", err)
	}
	return sim, nil
}

// googleUsers is how many simulated Google Health users have a legacy Fitbit
// id (legacyUserIDs); later consents get Google users without one.
const googleUsers = 99

// googleUser is the healthUserId of the k-th person (from 1) who consents at
// the simulated Google: 21 digits, like Google's.
func googleUser(k int) string { return fmt.Sprintf("1%020d", k) }

// fitbitUser is the simulated Fitbit's k-th user, as startSim names them.
func fitbitUser(k int) string { return fmt.Sprintf("DEMO%02d", k) }

// legacyUserIDs pairs the simulated Google's k-th user with the simulated
// Fitbit's k-th user: Google Health reports the account's old Fitbit id as
// identity.legacyUserId. The simulators cannot tell who is at the browser, so
// the demo simply pairs them by order: the first person to consent at Google
// is the migrated Fitbit account DEMO01 (the first to consent at Fitbit), and
// so on.
func legacyUserIDs() map[string]string {
	m := make(map[string]string, googleUsers)
	for k := 1; k <= googleUsers; k++ {
		m[googleUser(k)] = fitbitUser(k)
	}
	return m
}

// startGoogle starts the simulated Google Health API on a random loopback
// port, with the gateway's callback as its only redirect URI. Every consent
// is a new simulated Google user, paired by order with a Fitbit user (see
// legacyUserIDs).
func startGoogle(lifetime time.Duration, redirectURI string, out *console) (*googlesim.Server, error) {
	var users atomic.Int64
	google, err := googlesim.Start(googlesim.Config{
		RedirectURIs:        []string{redirectURI},
		LegacyUserIDs:       legacyUserIDs(),
		AccessTokenLifetime: lifetime,
		RateLimitPerMinute:  -1, // people clicking around should not hit 429s
		Consent: simkit.AskBrowsers(func(_ *http.Request, requested []string) googlesim.Consent {
			k := int(users.Add(1))
			id := googleUser(k)
			legacy := "no Fitbit past"
			if k <= googleUsers {
				legacy = "legacyUserId " + fitbitUser(k)
			}
			out.printf("   [simulated Google] consent screen: Google Health user %s (%s) is asked for %v\n", id, legacy, shortScopes(requested))
			return googlesim.Consent{UserID: id}
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("starting the simulated Google Health API: %w", err)
	}
	return google, nil
}

// shortScopes drops the common prefix of Google Health scopes, for reading.
func shortScopes(scopes []string) []string {
	out := make([]string, len(scopes))
	for i, s := range scopes {
		out[i] = strings.TrimPrefix(s, googlesim.DefaultScopePrefix)
	}
	return out
}

// setEncryptionKey generates a fresh AES-256 key and hands it to the
// Caddyfile through an environment variable of this process. The key is
// never printed.
func setEncryptionKey(out *console) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	if err := os.Setenv(keyEnv, base64.StdEncoding.EncodeToString(key)); err != nil {
		return err
	}
	out.printf("  encryption key    a fresh random AES-256 key for this run (not printed; tokens are encrypted with it)\n")
	out.printf("                    a real deployment makes one with `openssl rand -base64 32` and passes it as\n")
	out.printf("                    encryption_key {env.FITBIT_ENCRYPTION_KEY}\n")
	return nil
}

// startCaddy writes the demo's Caddyfile to the data directory, adapts it to
// JSON and loads it into this process's Caddy.
func startCaddy(gw gateway, dataDir, logFile, redirectURI string, sim *fitbitsim.Server, google *googlesim.Server, skew time.Duration, googleOnly bool) error {
	users, err := hashUsers()
	if err != nil {
		return err
	}
	cf, err := renderCaddyfile(caddyfileData{
		DataDir: dataDir, LogFile: logFile, BindHost: gw.bind, Port: gw.port,
		RedirectURI: redirectURI,
		Sim: simConfig{
			ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(),
			AuthorizeURL: sim.AuthorizeURL(), TokenURL: sim.TokenURL(),
			RevokeURL: sim.RevokeURL(), APIBase: sim.APIBase(),
		},
		Google: simConfig{
			ClientID: google.ClientID(), ClientSecret: google.ClientSecret(),
			AuthorizeURL: google.AuthorizeURL(), TokenURL: google.TokenURL(),
			RevokeURL: google.RevokeURL(), APIBase: google.APIBase(),
		},
		RefreshSkew: skew.String(), KeyEnv: keyEnv, Users: users,
		LegacyKey: legacyConsumerKey, LegacySecret: legacyConsumerSecret,
		GoogleOnly: googleOnly,
	})
	if err != nil {
		return err
	}
	cfPath := filepath.Join(dataDir, "Caddyfile")
	if err := os.WriteFile(cfPath, []byte(cf), 0o600); err != nil {
		return err
	}
	cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": cfPath})
	if err != nil {
		return fmt.Errorf("adapting the demo Caddyfile (%s): %w", cfPath, err)
	}
	if err := caddy.Load(cfgJSON, true); err != nil {
		// Caddy flattens the listener's error into text.
		if errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use") {
			return fmt.Errorf("starting Caddy on %s: %w\n(something else uses the port: stop it, or try -listen localhost:8081)", gw.base, err)
		}
		return fmt.Errorf("starting Caddy: %w", err)
	}
	return nil
}

// stopCaddy stops the in-process Caddy.
func stopCaddy(out *console) {
	if err := caddy.Stop(); err != nil {
		out.printf("stopping Caddy: %v\n", err)
	}
}

// printTryIt tells the reader what to try by hand.
func printTryIt(out *console, gw gateway, walked bool) {
	b := gw.base
	now := time.Now().UTC()
	today := now.Format(time.DateOnly)
	who := "alice (alice / alice-password)"
	if walked {
		who = "bob (bob / bob-password); alice is already connected by the walkthrough"
	}
	googleWho := "alice or bob"
	if walked {
		googleWho = "anyone (the walkthrough connected alice and bob already;\n  connecting again replaces the connection with a new simulated Google user)"
	}
	bobNote := ""
	if walked {
		bobNote = "\n  (the walkthrough connected bob to Google Health only: until he connects Fitbit too, his Fitbit\n  paths answer 401 provider_migrated; the next Fitbit consent is DEMO02, bob's Google legacyUserId)"
	}
	// A steps roll-up of the last 7 days, one window a day (closed-open).
	start, end := now.AddDate(0, 0, -6), now.AddDate(0, 0, 1)
	rollUp := rollUpBody(start, end)
	out.printf(`
Try it yourself (Ctrl-C stops the demo)

  In a browser, open your connections page — sign in as %s:
    %s/fitbit/
  and press Connect: the simulated Fitbit shows its consent page (untick a scope for a
  partial grant, or Deny); every consent is a new simulated Fitbit user. The page shows the
  account, what it allows and its health, with Reconnect and Disconnect buttons.

  Then be the app — plain HTTP, the gateway adds the Fitbit token:
    curl -u alice:alice-password %s/fitbit/status
    curl -u alice:alice-password %s/1/user/-/profile.json
    curl -u alice:alice-password %s/1/user/-/activities/date/today.json
    curl -u alice:alice-password %s/1/user/-/activities/heart/date/today/1d.json
    curl -u alice:alice-password %s/1.2/user/-/sleep/date/today.json
    curl -u alice:alice-password -X POST %s/1/user/-/activities.json \
         -d activityId=90013 -d startTime=07:30 -d durationMillis=1800000 -d date=%s
    curl -u alice:alice-password -X POST %s/fitbit/disconnect
    curl -u bob:bob-password %s/1/user/-/profile.json   # bob: his own data, once connected%s

  Google Health (Fitbit's successor) through the same gateway — connect in a browser as %s
  (Connect Google Health on the connections page, or):
    %s/fitbit/authorize?provider=google_health
  (the simulated Google shows its consent screen; every consent is a new simulated Google user, paired by
  order with a Fitbit user: Google's first user is the migrated Fitbit account DEMO01, its second
  DEMO02, …, which /v4/users/me/identity reports as legacyUserId)
  Then /v4/... paths go to Google with that user's Google token:
    curl -u alice:alice-password %s/v4/users/me/identity
    curl -u alice:alice-password %s/v4/users/me/profile
    curl -u alice:alice-password '%s/v4/users/me/dataTypes/steps/dataPoints?pageSize=3'
    curl -u alice:alice-password '%s/v4/users/me/dataTypes/heart-rate/dataPoints?pageSize=3'
    curl -u alice:alice-password -X POST %s/v4/users/me/dataTypes/steps/dataPoints:dailyRollUp \
         -H 'Content-Type: application/json' \
         -d '%s'
    curl -u alice:alice-password -X POST '%s/fitbit/disconnect?provider=google_health'
  A user connected to Google only has Fitbit paths answered from Google Health (the header
  Gateway-Google-Calls counts the Google calls); one connected to Fitbit only gets 401
  not_connected on /v4 paths, naming /fitbit/authorize?provider=google_health.

  Expiry: the simulators' access tokens expire quickly. The gateway
  refreshes a token shortly before it expires (refresh_skew), and if the API
  still answers 401 (Fitbit: expired_token; Google: UNAUTHENTICATED) it
  refreshes once and replays the request. Either way the app just gets its
  data; refreshes are announced below, and /fitbit/status shows refreshed_at
  move. Fitbit rotates its refresh token on every refresh; Google does not.

  A 2015 app written for Fitbit's OAuth 1.0a runs against the gateway with only its site URL
  changed (consumer key %s, secret %s):
    ruby examples/legacy-sinatra/app.rb     # then open http://localhost:4567
  (see examples/legacy-sinatra/README.md; it needs the Debian packages ruby-sinatra and ruby-oauth)

`, who, b, b, b, b, b, b, b, today, b, b, bobNote, googleWho, b, b, b, b, b, b, rollUp, b, legacyConsumerKey, legacyConsumerSecret)
}

// rollUpBody is a dailyRollUp request for [start, end) by whole UTC days, one
// window a day.
func rollUpBody(start, end time.Time) string {
	date := func(t time.Time) string {
		return fmt.Sprintf(`{"date":{"year":%d,"month":%d,"day":%d}}`, t.Year(), int(t.Month()), t.Day())
	}
	return fmt.Sprintf(`{"range":{"start":%s,"end":%s},"windowSizeDays":1}`, date(start), date(end))
}

// watchRefreshes announces every token refresh the simulators see.
func watchRefreshes(ctx context.Context, out *console, sim *fitbitsim.Server, google *googlesim.Server) {
	seen, seenGoogle := sim.Stats().Refreshes, google.Stats().Refreshes
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n := sim.Stats().Refreshes; n != seen {
				seen = n
				out.printf("  [simulated Fitbit] %s token refresh #%d: the gateway rotated a refresh token; apps saw nothing\n",
					time.Now().Format(time.TimeOnly), n)
			}
			if n := google.Stats().Refreshes; n != seenGoogle {
				seenGoogle = n
				out.printf("  [simulated Google] %s token refresh #%d: a new access token, the same refresh token; apps saw nothing\n",
					time.Now().Format(time.TimeOnly), n)
			}
		}
	}
}

// console serialises the demo's output: the simulator and the walkthrough
// print from different goroutines.
type console struct {
	mu sync.Mutex
	w  io.Writer
}

func (c *console) printf(format string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.w, format, a...)
}
