// Package inject is the credential-injecting round tripper: it resolves the
// caller's identity to a connection, replaces whatever credentials the caller
// sent with the connection's Bearer token, and when the provider still
// answers 401 for an expired or invalid token, refreshes once and replays the
// request with a byte-identical body.
package inject

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// Outcome is what became of a proxied request, as reported to the Observer
// (the outcome label of the proxied-requests metric).
type Outcome string

// Outcomes of a proxied request.
const (
	OutcomeProxied         Outcome = "proxied"           // sent upstream with a valid token
	OutcomeReplayed        Outcome = "replayed"          // 401 from upstream, refreshed, replayed
	OutcomeNotReplayed     Outcome = "not_replayed"      // 401 from upstream, body too large to replay
	OutcomeUnauthenticated Outcome = "unauthenticated"   // no identity on the request
	OutcomeNotConnected    Outcome = "not_connected"     // identity has no connection
	OutcomeNeedsReauth     Outcome = "needs_reauth"      // refresh token dead
	OutcomeTokenEndpoint   Outcome = "token_error"       // refresh failed: 502/504
	OutcomeStore           Outcome = "store_error"       // token store failed: 503
	OutcomeUpstreamError   Outcome = "upstream_error"    // the API round trip failed
	OutcomeCanceled        Outcome = "client_canceled"   // the caller went away
	OutcomeBadRequest      Outcome = "request_rejected"  // e.g. unreadable body
	OutcomeMigrated        Outcome = "provider_migrated" // identity moved to another provider
	OutcomeGone            Outcome = "provider_gone"     // the provider answered 410 Gone
	OutcomeUpstreamRefused Outcome = "upstream_refused"  // not the API's host: no token sent
	OutcomeBodyTimeout     Outcome = "body_timeout"      // the body to buffer did not arrive in time: 408
	OutcomeUnreadable      Outcome = "record_unreadable" // the stored connection cannot be opened
	OutcomeRateLimited     Outcome = "rate_limited"      // the identity's provider budget is spent: 429, not sent
)

// Observer receives one outcome per proxied request (metrics).
type Observer interface{ Proxied(outcome Outcome) }

// DefaultMaxReplayBody is how much of a request body is buffered so the
// request can be replayed after a refresh.
const DefaultMaxReplayBody = 1 << 20

// DefaultReplayBodyTimeout bounds how long buffering a body may take: a
// client that trickles its body would otherwise hold the request (and a
// connection) for as long as the server's own timeouts allow.
const DefaultReplayBodyTimeout = 10 * time.Second

// Transport injects the connection's credentials. Base does the actual round
// trip (in Caddy, the reverse proxy's HTTP transport).
type Transport struct {
	Base http.RoundTripper
	// Tokens hands out the connection of an identity (a *tokens.Manager).
	Tokens TokenSource
	// Provider is the registration the tokens are for: its title names it
	// in messages, and its Gone state is marked on a 410.
	Provider *provider.Client
	// OnGone, if set, is called when the provider answers 410 Gone for the
	// first time since it last answered normally (the module logs it).
	OnGone func()
	// Identity returns the caller's identity, "" when unauthenticated.
	Identity func(*http.Request) string
	// ConnectURL is where a user connects, for error messages.
	ConnectURL    string
	MaxReplayBody int64
	// ReplayBodyTimeout bounds buffering a body for replay; a body that has
	// not arrived by then is answered 408. Default: DefaultReplayBodyTimeout.
	ReplayBodyTimeout time.Duration
	// BodyDeadline, if set, puts deadline on reads of the connection the
	// request body arrives on, so that a read that stalls returns (Caddy's
	// server offers this), and returns how to lift it again (nil when it
	// could not be set). Reads are checked against the deadline in any case.
	BodyDeadline func(req *http.Request, deadline time.Time) (lift func())
	// Now is the clock of the body deadline; nil: time.Now.
	Now      func() time.Time
	Observer Observer
	// RefreshOn are the upstream error types that, on a 401, mean the access
	// token is stale (the provider preset's); default: Fitbit's.
	RefreshOn []string
	// Migrated reports, for an identity with no connection here, where it
	// has moved: the name and connect URL of another provider it is
	// connected to. Nil: no bridging.
	Migrated func(ctx context.Context, identity string) (provider, connectURL string, ok bool)
	// Successor is what to tell apps when this provider answers 410 Gone:
	// the provider that replaces it and its connect URL ("" if none).
	SuccessorTitle, SuccessorURL string
	// Upstream reports whether the request is going to a host that may
	// receive the connection's token (the provider's API, or one the
	// config allows); a request going elsewhere is answered 502 and never
	// sent. Nil: every host may.
	Upstream func(*http.Request) bool
	// Budget, if set, counts every call sent upstream against the
	// caller's budget towards the provider: a spent budget is answered 429
	// in the caller's dialect, with Retry-After, and nothing is sent.
	Budget Budget
}

// RoundTrip implements http.RoundTripper. Errors of the gateway's own (no
// identity, not connected, refresh failed) are answered with a response in
// the error dialect of the API path the caller used (provider.DialectOf:
// Fitbit's envelope on /1/…, google.rpc.Status on /v4/…) rather than an
// error, so the reverse proxy neither
// retries them nor counts them against the upstream's health.
//
// The request is modified in place: Caddy's reverse proxy hands each
// transport its own clone, and replacing the caller's credentials on that
// clone saves a copy of every header map on the hot path.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	identity, ok := IdentityFrom(req.Context())
	if !ok {
		identity = t.Identity(req)
	}
	return t.RoundTripAs(req, identity)
}

// RoundTripAs is RoundTrip for a caller its caller has already identified
// ("" when unauthenticated): a router that resolved the identity to choose
// where the call goes hands it on, so the identity expression is evaluated
// once per call, with no copy of the request to carry it.
func (t *Transport) RoundTripAs(req *http.Request, identity string) (*http.Response, error) {
	resp, err := t.roundTripAs(req, identity)
	if resp != nil && resp.StatusCode >= 400 {
		// Errors, the gateway's own included, carry the window too; a
		// success has the provider's headers or settle's.
		resp = t.RateHeaders(req, identity, resp)
	}
	return resp, err
}

func (t *Transport) roundTripAs(req *http.Request, identity string) (*http.Response, error) {
	refused := t.admit(req, identity)
	if refused != nil {
		return refused, nil
	}
	ctx := req.Context()
	conn, err := t.Tokens.Get(ctx, identity)
	if err != nil {
		return t.tokenFailure(req, identity, err), nil
	}
	body, replayable, refused := t.prepare(req, conn)
	if refused != nil {
		return refused, nil
	}
	grant, refused := t.spend(req, identity)
	if refused != nil {
		return refused, nil
	}
	resp, err := t.Base.RoundTrip(req)
	if err != nil {
		t.observe(upstreamOutcome(ctx))
		return nil, err
	}
	t.settle(req, identity, grant, resp)
	if resp.StatusCode == http.StatusGone {
		_, _ = readError(resp)
		return t.gone(req), nil
	}
	t.Provider.Gone.Clear() // one atomic load unless it was gone
	if resp.StatusCode != http.StatusUnauthorized {
		t.observe(OutcomeProxied)
		if resp.StatusCode >= 400 {
			return t.redacted(req, resp, conn.AccessToken()), nil
		}
		return scrub(resp, conn.AccessToken()), nil
	}
	return t.refreshAndReplay(req, resp, identity, conn, body, replayable)
}

// admit checks where the request goes and who sends it: the gateway's
// answer when the request must not go upstream, else nil.
func (t *Transport) admit(req *http.Request, identity string) (refused *http.Response) {
	if t.Upstream != nil && !t.Upstream(req) {
		t.observe(OutcomeUpstreamRefused)
		return t.fail(req, http.StatusBadGateway, apierror.UpstreamNotAllowed,
			"the gateway sends "+t.title()+" credentials only to "+t.title()+"'s API, and this request was routed to another host; the gateway's configuration must be fixed (allow_upstream)")
	}
	if identity == "" {
		t.observe(OutcomeUnauthenticated)
		return t.fail(req, http.StatusUnauthorized, apierror.Unauthenticated,
			"the gateway could not identify the caller; authenticate to the gateway (the configured identity placeholder was empty)")
	}
	return nil
}

// prepare replaces the caller's credentials with the connection's and
// buffers a small body so the request can be replayed after a refresh.
func (t *Transport) prepare(req *http.Request, conn *tokens.Entry) (body []byte, replayable bool, refused *http.Response) {
	h := req.Header
	delete(h, "Proxy-Authorization") // canonical keys: no need for Del's canonicalisation
	delete(h, "Cookie")
	h["Authorization"] = []string{conn.Authorization()}

	body, replayable, err := t.bufferBody(req)
	if errors.Is(err, ErrBodyTimeout) {
		t.observe(OutcomeBodyTimeout)
		return nil, false, t.fail(req, http.StatusRequestTimeout, apierror.RequestTimeout, fmt.Sprintf(
			"the request body did not arrive within %s; the gateway buffers bodies of up to %d bytes so it can replay them after renewing the access token: send the body at once", t.replayBodyTimeout(), t.maxReplay()))
	}
	if err != nil {
		t.observe(OutcomeBadRequest)
		return nil, false, t.fail(req, http.StatusBadRequest, apierror.InvalidRequest, "could not read the request body: "+err.Error())
	}
	return body, replayable, nil
}

// refreshAndReplay handles a 401 from upstream: for a stale token (the
// preset's RefreshOn), one refresh and one replay with the same body;
// anything else goes back to the caller, scrubbed.
func (t *Transport) refreshAndReplay(req *http.Request, resp *http.Response, identity string, conn *tokens.Entry, body []byte, replayable bool) (*http.Response, error) {
	ctx := req.Context()
	errBody, err := readError(resp)
	if err != nil {
		t.observe(OutcomeUpstreamError)
		return t.unreadable(req, resp.StatusCode, err), nil
	}
	it, _ := apierror.Parse(errBody)
	if !t.refreshOn(it.ErrorType) {
		t.observe(OutcomeProxied)
		return rebuild(resp, errBody, conn.AccessToken()), nil
	}
	fresh, err := t.Tokens.Refresh(ctx, identity, conn)
	if err != nil {
		return t.tokenFailure(req, identity, err), nil
	}
	if !replayable {
		t.observe(OutcomeNotReplayed)
		return t.fail(req, http.StatusUnauthorized, apierror.ReplayImpossible, fmt.Sprintf(
			"the access token expired while this request was sent; the gateway renewed it, but the request body is larger than the %d-byte replay buffer, so it was not replayed: send the request again", t.maxReplay())), nil
	}
	// The first round trip may still hold req (net/http can read a request
	// after answering): replay a copy, with the new token and a new reader.
	replay := req.Clone(ctx)
	replay.Header["Authorization"] = []string{fresh.Authorization()}
	if body != nil {
		replay.Body = io.NopCloser(bytes.NewReader(body))
		replay.GetBody = nil
	}
	// The replay is a call of its own to the provider, counted as one.
	grant, refused := t.spend(replay, identity)
	if refused != nil {
		return refused, nil
	}
	resp, err = t.Base.RoundTrip(replay)
	if err != nil {
		t.observe(upstreamOutcome(ctx))
		return nil, err
	}
	t.settle(replay, identity, grant, resp)
	t.observe(OutcomeReplayed)
	if resp.StatusCode >= 400 {
		return t.redacted(req, resp, fresh.AccessToken()), nil
	}
	return scrub(resp, fresh.AccessToken()), nil
}

// redacted returns an upstream error response with token cut out of its body.
func (t *Transport) redacted(req *http.Request, resp *http.Response, token string) *http.Response {
	b, err := readError(resp)
	if err != nil {
		return t.unreadable(req, resp.StatusCode, err)
	}
	return rebuild(resp, b, token)
}

// unreadable stands in for an upstream error response whose body could not
// be checked for credentials: its status is kept, its body is not passed on.
func (t *Transport) unreadable(req *http.Request, status int, err error) *http.Response {
	return t.fail(req, status, apierror.UpstreamUnavailable, t.title()+" answered "+strconv.Itoa(status)+" with a body the gateway would not pass on: "+err.Error())
}

// refreshOn reports whether a 401 with errorType means a stale token.
func (t *Transport) refreshOn(errorType string) bool {
	if t.RefreshOn == nil {
		return errorType == apierror.ExpiredToken || errorType == apierror.InvalidToken
	}
	return slices.Contains(t.RefreshOn, errorType)
}

// dialect is the registration's own error dialect, for paths of no
// built-in API.
func (t *Transport) dialect() apierror.Dialect {
	if p := t.Provider.Reg.Preset; p != nil {
		return p.Dialect
	}
	return apierror.Fitbit
}

// clock is the transport's clock: Now, or time.Now.
func (t *Transport) clock() func() time.Time {
	if t.Now == nil {
		return time.Now
	}
	return t.Now
}

// title names the provider to people.
func (t *Transport) title() string { return t.Provider.Reg.Title() }

// gone answers a request to a provider that has turned its API off: no
// refresh, no retry, a clear way forward.
func (t *Transport) gone(req *http.Request) *http.Response {
	t.observe(OutcomeGone)
	if t.Provider.Gone.Mark(t.clock()()) && t.OnGone != nil {
		t.OnGone()
	}
	msg := t.title() + " has turned this API off (410 Gone)"
	if t.SuccessorURL != "" {
		msg += "; connect " + t.SuccessorTitle + " at " + t.SuccessorURL + " and use its API through the gateway"
	}
	r := t.fail(req, http.StatusGone, apierror.ProviderGone, msg)
	if t.SuccessorURL != "" {
		r.Header.Set("Link", "<"+t.SuccessorURL+">; rel=\"successor-version\"")
	}
	return r
}

func (t *Transport) maxReplay() int64 {
	if t.MaxReplayBody > 0 {
		return t.MaxReplayBody
	}
	return DefaultMaxReplayBody
}

// bufferBody reads the request body into memory when it fits the replay
// limit, so it can be sent twice. A larger body is streamed as it is and the
// request is not replayable. An empty body is always replayable.
//
// The buffer is not pooled: net/http may go on reading a request body after
// RoundTrip has returned (a server that answers before reading it all), so a
// recycled buffer could leak into another user's request.
func (t *Transport) bufferBody(req *http.Request) (body []byte, replayable bool, err error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, true, nil
	}
	max := t.maxReplay()
	if req.ContentLength > max {
		return nil, false, nil
	}
	now := t.clock()
	deadline := now().Add(t.replayBodyTimeout())
	if t.BodyDeadline != nil {
		if lift := t.BodyDeadline(req, deadline); lift != nil {
			defer lift()
		}
	}
	body, err = io.ReadAll(DeadlineReader(io.LimitReader(req.Body, max+1), deadline, now))
	if err != nil {
		return nil, false, err
	}
	if int64(len(body)) > max {
		// Unknown length and too large: send what was read, then the rest.
		req.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), req.Body), req.Body}
		return nil, false, nil
	}
	_ = req.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(body))
	return body, true, nil
}

func (t *Transport) replayBodyTimeout() time.Duration {
	if t.ReplayBodyTimeout > 0 {
		return t.ReplayBodyTimeout
	}
	return DefaultReplayBodyTimeout
}

// ErrBodyTimeout: the body to buffer did not arrive by the deadline.
var ErrBodyTimeout = errors.New("request body deadline exceeded")

// DeadlineReader reads r until deadline by the clock now, then fails with
// ErrBodyTimeout, as the transport reads a body it buffers (with
// BodyDeadline ending a read that stalls).
func DeadlineReader(r io.Reader, deadline time.Time, now func() time.Time) io.Reader {
	return &deadlineReader{r: r, deadline: deadline, now: now}
}

// deadlineReader fails reads once the deadline has passed. A read that
// stalls is ended by the connection's read deadline (BodyDeadline); one
// that trickles a byte at a time is ended here, between reads.
type deadlineReader struct {
	r        io.Reader
	deadline time.Time
	now      func() time.Time
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	if !d.now().Before(d.deadline) {
		return 0, ErrBodyTimeout
	}
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF && (errors.Is(err, os.ErrDeadlineExceeded) || !d.now().Before(d.deadline)) {
		err = ErrBodyTimeout
	}
	return n, err
}

func upstreamOutcome(ctx context.Context) Outcome {
	if ctx.Err() != nil {
		return OutcomeCanceled
	}
	return OutcomeUpstreamError
}

// dialectKey holds the dialect a front chose for its callers.
type dialectKey struct{}

// WithDialect makes the gateway's errors for the request of ctx speak d,
// whatever the path: a front that speaks another protocol to its callers
// (the legacy OAuth 1.0a handler: apierror.OAuth1) selects its own.
func WithDialect(ctx context.Context, d apierror.Dialect) context.Context {
	return context.WithValue(ctx, dialectKey{}, d)
}

// DialectFrom returns the dialect a front chose with WithDialect, if any.
func DialectFrom(ctx context.Context) (apierror.Dialect, bool) {
	d, ok := ctx.Value(dialectKey{}).(apierror.Dialect)
	return d, ok
}

// identityKey holds the caller's identity, already resolved.
type identityKey struct{}

// WithIdentity makes the transport take identity as the caller of the
// request of ctx instead of evaluating Identity again. It is for requests
// that reach the transport through an http.Client, which carries nothing
// of its caller but the context (as golang.org/x/oauth2 takes its
// HTTPClient from a context value): the translation's Google calls, made
// for one Fitbit call whose identity the gateway already resolved. A
// caller holding the transport passes the identity to RoundTripAs instead.
func WithIdentity(ctx context.Context, identity string) context.Context {
	return context.WithValue(ctx, identityKey{}, identity)
}

// IdentityFrom returns the identity WithIdentity put into ctx, if any.
func IdentityFrom(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(identityKey{}).(string)
	return id, ok
}

// dialectOf is the dialect of req's caller: the front's choice, else that
// of the API path (provider.DialectOf), else the registration's.
func (t *Transport) dialectOf(req *http.Request) apierror.Dialect {
	if d, ok := DialectFrom(req.Context()); ok {
		return d
	}
	return provider.DialectOf(req.URL.Path, t.dialect())
}

// tokenFailure answers a request of identity whose token could not be had.
func (t *Transport) tokenFailure(req *http.Request, identity string, err error) *http.Response {
	var se *tokens.StoreError
	var te *provider.TokenError
	unreadable := errors.Is(err, tokenstore.ErrUnreadable)
	gone := errors.Is(err, tokens.ErrNotConnected) || errors.Is(err, tokens.ErrNeedsReauth) || unreadable
	if gone && t.dialectOf(req) == apierror.OAuth1 {
		switch {
		case errors.Is(err, tokens.ErrNotConnected):
			t.observe(OutcomeNotConnected)
		case unreadable:
			t.observe(OutcomeUnreadable)
		default:
			t.observe(OutcomeNeedsReauth)
		}
		r := t.failItem(req, http.StatusUnauthorized, apierror.Item{ErrorType: apierror.OAuth, FieldName: "oauth_access_token",
			Message: "oauth_problem=token_revoked: " + t.title() + " no longer accepts this user's authorization; sign the user in again"})
		r.Header.Set("WWW-Authenticate", `OAuth realm="`+t.title()+`"`)
		r.Header.Del("Link")
		return r
	}
	switch {
	case errors.Is(err, tokens.ErrNotConnected):
		if t.Migrated != nil {
			if name, url, ok := t.Migrated(req.Context(), identity); ok {
				t.observe(OutcomeMigrated)
				r := t.fail(req, http.StatusUnauthorized, apierror.ProviderMigrated,
					"this identity has moved from "+t.title()+" to "+name+": call that provider's API through the gateway instead (its connection is managed at "+url+")")
				r.Header.Set("Link", "<"+url+">; rel=\"authorize\"")
				return r
			}
		}
		t.observe(OutcomeNotConnected)
		return t.fail(req, http.StatusUnauthorized, apierror.NotConnected,
			"this identity has not connected a "+t.title()+" account; open "+t.ConnectURL+" in a browser to connect")
	case unreadable:
		// Not a store outage: retrying cannot help. The manager logged the
		// cause; the app learns what the user must do.
		t.observe(OutcomeUnreadable)
		return t.fail(req, http.StatusUnauthorized, apierror.RecordUnreadable,
			"the gateway cannot read this identity's stored "+t.title()+" connection (its encryption key was removed or the record was altered); open "+t.ConnectURL+" in a browser to connect again")
	case errors.Is(err, tokens.ErrNeedsReauth):
		t.observe(OutcomeNeedsReauth)
		return t.fail(req, http.StatusUnauthorized, apierror.ReauthorizationNeeded,
			t.title()+" no longer accepts this connection (the user revoked access or the refresh token was invalidated); open "+t.ConnectURL+" in a browser to connect again")
	case errors.As(err, &se):
		t.observe(OutcomeStore)
		return t.fail(req, http.StatusServiceUnavailable, apierror.ConnectionStoreFailure,
			"the gateway's token store is unavailable; retry shortly")
	case errors.As(err, &te) && te.Status == http.StatusGone:
		return t.gone(req)
	case errors.As(err, &te):
		t.observe(OutcomeTokenEndpoint)
		status := http.StatusBadGateway
		if te.Timeout {
			status = http.StatusGatewayTimeout
		}
		return t.fail(req, status, apierror.UpstreamUnavailable,
			"could not renew the access token at Fitbit ("+te.Error()+"); the connection is kept, retry shortly")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		t.observe(OutcomeCanceled)
		return t.fail(req, http.StatusGatewayTimeout, apierror.UpstreamUnavailable, "the request was canceled while the access token was being renewed")
	default:
		t.observe(OutcomeTokenEndpoint)
		return t.fail(req, http.StatusBadGateway, apierror.UpstreamUnavailable, "could not obtain an access token; retry shortly")
	}
}

// fail builds a response in the dialect of the caller's API path.
func (t *Transport) fail(req *http.Request, status int, errorType, message string) *http.Response {
	return t.failItem(req, status, apierror.Item{ErrorType: errorType, Message: message})
}

func (t *Transport) failItem(req *http.Request, status int, it apierror.Item) *http.Response {
	dialect := t.dialectOf(req)
	var metadata map[string]string
	if status == http.StatusUnauthorized && t.ConnectURL != "" {
		metadata = map[string]string{"connect_url": t.ConnectURL, "provider": t.Provider.Reg.Name}
	}
	body := dialect.Body(status, it, metadata)
	h := http.Header{
		"Content-Type":   {dialect.ContentType()},
		"Content-Length": {strconv.Itoa(len(body))},
		"Cache-Control":  {"no-store"},
	}
	if status == http.StatusUnauthorized {
		// HTTP requires a challenge on a 401. Not "Bearer" or "Basic": the
		// app cannot answer this one itself, and a browser must not prompt.
		h.Set("WWW-Authenticate", apierror.Challenge(t.ConnectURL))
		if t.ConnectURL != "" {
			h.Set("Link", "<"+t.ConnectURL+">; rel=\"authorize\"")
		}
	}
	if req.Body != nil {
		_ = req.Body.Close()
	}
	return &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

func (t *Transport) observe(outcome Outcome) {
	if t.Observer != nil {
		t.Observer.Proxied(outcome)
	}
}
