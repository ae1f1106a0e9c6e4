package successor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/inject"
	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/translate"
)

// CallsHeader is the response header that tells the app (and access logs)
// how many Google calls its Fitbit call cost: Google's quota is per user,
// so this is what an operator sums. It never carries more than a count.
const CallsHeader = "Gateway-Google-Calls"

// Server answers Fitbit calls from Google Health. It holds no per-user
// state: one Server (and one Engine) serves every identity, the identity
// travelling in each request's context to the injecting transport.
type Server struct {
	engine *translate.Engine
	// Observe, if set, learns each answered call: its endpoint ("" when
	// refused before any Google call), status and Google calls.
	Observe func(req *http.Request, endpoint string, status, googleCalls int)
	// Google, if set, is the Google registration's connections: the engine
	// then caches a connection's settings and identity for a few minutes
	// (translate.WithConnection), under the identity and the Google
	// account it is connected to (see factsKey).
	Google Cached
	// BodyTimeout bounds reading a write's form body (default
	// inject.DefaultReplayBodyTimeout), and BodyDeadline, if set, puts the
	// deadline on the connection it arrives on, as for the injecting
	// transport (inject.Transport's fields of the same names): a client
	// that trickles its body does not hold the call.
	BodyTimeout  time.Duration
	BodyDeadline func(req *http.Request, deadline time.Time) (lift func())
	// Rate, if set, gives an answer no Google call of which carried
	// Fitbit's rate-limit headers (one refused before any Google call, or
	// answered from the facts cache) the identity's Google window as it
	// stands: Fitbit sent them with every answer. The Google
	// registration's *inject.Transport implements it.
	Rate RateHeaders
	now  func() time.Time
}

// RateHeaders puts Fitbit's rate-limit headers of identity's window on
// resp, for req, unless it has them.
type RateHeaders interface {
	RateHeaders(req *http.Request, identity string, resp *http.Response) *http.Response
}

// MaxFormBody bounds a translated write's form body: Fitbit's weight and
// body-fat logs are a few short fields.
const MaxFormBody = 64 << 10

// NewServer returns a Server calling Google at base (the Google
// registration's api_base) through googleInject, the Google registration's
// credential-injecting transport, whose Base must be wrapped in Counting.
func NewServer(googleInject http.RoundTripper, base string, now func() time.Time) (*Server, error) {
	e, err := translate.NewEngine(context.Background(), &http.Client{Transport: capturing{googleInject}}, base, now)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Server{engine: e, now: now}, nil
}

// RoundTrip answers req, a Fitbit v1 call, from Google, for the identity
// its context carries (inject.WithIdentity), else the one the Google
// registration's transport resolves.
func (s *Server) RoundTrip(req *http.Request) (*http.Response, error) {
	identity, known := inject.IdentityFrom(req.Context())
	resp, _, err := s.serve(req, identity, known)
	return resp, err
}

// Answer answers req, a Fitbit v1 call of identity ("" when
// unauthenticated), from Google; unconnected reports the gateway's own 401
// (no usable Google connection for the identity).
func (s *Server) Answer(req *http.Request, identity string) (resp *http.Response, unconnected bool, err error) {
	return s.serve(req, identity, true)
}

func (s *Server) serve(req *http.Request, identity string, known bool) (resp *http.Response, unconnected bool, err error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	query, err := s.fitbitQuery(req)
	if err != nil {
		return s.answer(req, identity, "", nil, fitbitError(unreadable(err))), false, nil
	}
	fr, err := translate.Parse(req.Method, req.URL.Path, query)
	if err != nil {
		return s.answer(req, identity, "", nil, failure(err)), false, nil
	}
	sess := new(session)
	// The injecting transport writes its own refusals in Fitbit's envelope,
	// with the Google connect URL: the app called Fitbit's API.
	// A front that chose its callers' dialect (the OAuth 1.0a handler)
	// keeps it.
	ctx := withSession(req.Context(), sess)
	if _, chosen := inject.DialectFrom(ctx); !chosen {
		ctx = inject.WithDialect(ctx, apierror.Fitbit)
	}
	if known {
		// Every Google call of this Fitbit call is for the identity
		// resolved once, by the router.
		ctx = inject.WithIdentity(ctx, identity)
		if key := s.factsKey(ctx, identity); key != "" {
			ctx = translate.WithConnection(ctx, key)
		}
	}
	ans, err := s.engine.Serve(ctx, fr, translate.UnitSystemFor(req.Header.Get("Accept-Language")))
	endpoint := fr.Endpoint.String()
	switch {
	case sess.refused != nil:
		r := sess.refused
		r.Body = io.NopCloser(bytes.NewReader(sess.body))
		r.Request = req
		return s.answer(req, identity, endpoint, sess, r), r.StatusCode == http.StatusUnauthorized, nil
	case err != nil:
		return s.answer(req, identity, endpoint, sess, failure(err)), false, nil
	}
	status := http.StatusOK
	if ans.Status != 0 {
		status = ans.Status
	}
	var b []byte
	if ans.Body != nil {
		if b, err = json.Marshal(ans.Body); err != nil {
			// A value the translation built that JSON cannot hold (a NaN):
			// the app gets Fitbit's envelope, not the proxy's bare 502.
			return s.answer(req, identity, endpoint, sess, failure(err)), false, nil
		}
	}
	return s.answer(req, identity, endpoint, sess, response(status, b)), false, nil
}

// Cached is what the Server needs of the Google token manager: the
// connection it holds in memory, else the stored one, neither refreshed.
// *tokens.Manager implements it.
type Cached interface {
	Peek(identity string) *tokens.Entry
	Lookup(ctx context.Context, identity string) (*tokenstore.Record, error)
}

// factsKey names, for the engine's facts cache, the Google connection
// identity's call is answered from: the identity and the Google account
// it is connected to (its healthUserId). A user who reconnects another
// Google account then gets that account's settings and legacyUserId at
// once, not the previous account's for up to translate.FactsTTL. One
// Server serves one registration, so the registration need not be in the
// key. It peeks at the token manager's memory, which the Google calls
// themselves fill: no storage read (the store is read only for a
// connection not in memory yet, which the Google calls would read
// anyway), and never a refresh, which the injecting transport does (and
// answers for when it fails). "" (nothing cached for this call) when there
// is no connection.
func (s *Server) factsKey(ctx context.Context, identity string) string {
	if s.Google == nil || identity == "" {
		return ""
	}
	var user string
	if e := s.Google.Peek(identity); e != nil {
		user = e.Record().UserID
	} else if rec, err := s.Google.Lookup(ctx, identity); err == nil {
		user = rec.UserID
	}
	if user == "" {
		return ""
	}
	return identity + "\x00" + user
}

// answer finishes resp for identity's req: the Google-call count and
// Fitbit's rate-limit headers of sess (nil: no Google call was tried), else
// of Rate, the observer.
func (s *Server) answer(req *http.Request, identity, endpoint string, sess *session, resp *http.Response) *http.Response {
	calls := 0
	if sess != nil {
		calls = sess.calls()
		sess.setRate(resp.Header)
	}
	if s.Rate != nil {
		s.Rate.RateHeaders(req, identity, resp)
	}
	resp.Request = req
	resp.Header.Set(CallsHeader, strconv.Itoa(calls))
	if s.Observe != nil {
		s.Observe(req, endpoint, resp.StatusCode, calls)
	}
	return resp
}

// fitbitQuery is the call's parameters: the query, and for a write the
// form body too, as Fitbit read them. The body is read within BodyTimeout
// and up to MaxFormBody.
func (s *Server) fitbitQuery(req *http.Request) (url.Values, error) {
	if req.Method != http.MethodPost {
		return req.URL.Query(), nil
	}
	if req.Body != nil && req.Body != http.NoBody {
		timeout := s.BodyTimeout
		if timeout <= 0 {
			timeout = inject.DefaultReplayBodyTimeout
		}
		deadline := s.now().Add(timeout)
		if s.BodyDeadline != nil {
			if lift := s.BodyDeadline(req, deadline); lift != nil {
				defer lift()
			}
		}
		req.Body = struct {
			io.Reader
			io.Closer
		}{inject.DeadlineReader(http.MaxBytesReader(nil, req.Body, MaxFormBody), deadline, s.now), req.Body}
	}
	if err := req.ParseForm(); err != nil {
		return nil, err
	}
	return req.Form, nil
}

// unreadable is Fitbit's envelope for a request whose parameters could not
// be read.
func unreadable(err error) *translate.Error {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return &translate.Error{Status: http.StatusRequestEntityTooLarge, Type: apierror.RequestTooLarge,
			Message: "the request body is larger than the " + strconv.Itoa(MaxFormBody) + " bytes a translated write may send"}
	case errors.Is(err, inject.ErrBodyTimeout):
		return &translate.Error{Status: http.StatusRequestTimeout, Type: apierror.RequestTimeout,
			Message: "the request body did not arrive in time: send the body at once"}
	}
	return &translate.Error{Status: http.StatusBadRequest, Type: translate.Validation, Message: "could not read the request: " + err.Error()}
}

// failure is Fitbit's envelope for an error of the translation or of Google.
func failure(err error) *http.Response {
	var te *translate.Error
	var ge *googleapi.Error
	switch {
	case errors.As(err, &te):
		// The translation's refusals, translate.ErrTooManyCalls included.
		return fitbitError(te)
	case errors.As(err, &ge):
		// Google's 403 and its 429/503/504 arrive as *translate.Error:
		// every Google call goes through the engine's one path
		// (translate's calls.go), which maps them.
		return fitbitError(&translate.Error{Status: http.StatusBadGateway, Type: "system",
			Message: "the Google Health API answered " + strconv.Itoa(ge.Code) + " while answering this call"})
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fitbitError(&translate.Error{Status: http.StatusGatewayTimeout, Type: "system", Message: "the call was canceled"})
	case timeout(err):
		return fitbitError(&translate.Error{Status: http.StatusGatewayTimeout, Type: "system", Message: "the Google Health API did not answer in time; retry shortly"})
	default:
		return fitbitError(&translate.Error{Status: http.StatusBadGateway, Type: "system", Message: "could not answer this call from the Google Health API"})
	}
}

// timeout reports a Google call that timed out in the transport (its
// response-header timeout, a dial timeout).
func timeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// fitbitError writes e in Fitbit's envelope; its Successor, the Google
// Health API's equivalent, goes into the message.
func fitbitError(e *translate.Error) *http.Response {
	msg := e.Message
	if e.Successor != "" {
		msg += " (Google Health API equivalent: " + e.Successor + ")"
	}
	r := response(e.Status, apierror.Marshal(apierror.Item{ErrorType: e.Type, FieldName: e.FieldName, Message: msg}))
	r.Header.Set("Cache-Control", "no-store")
	if e.RetryAfter > 0 {
		r.Header.Set("Retry-After", ratelimit.RetryAfterHeader(e.RetryAfter))
	}
	return r
}

func response(status int, body []byte) *http.Response {
	return &http.Response{
		Status:     strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode: status,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{
			"Content-Type":   {apierror.Fitbit.ContentType()},
			"Content-Length": {strconv.Itoa(len(body))},
		},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
	}
}
