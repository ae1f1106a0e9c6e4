package legacy

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/oauth1"
)

// maxNonceLen bounds oauth_nonce; clients send 32–64 characters.
const maxNonceLen = 256

// signed is a request whose OAuth 1.0a signature checked out.
type signed struct {
	oauth1.Params
	Consumer Consumer
}

// tokenSecretFunc returns the token secret the request must be signed with
// (empty for a request without a token), or the error to answer (for an
// unknown token, counted with Server.failed).
type tokenSecretFunc func(p oauth1.Params, c Consumer) (string, *Error)

// verify checks r per RFC 5849 §3.2, cheapest checks first and the store
// write last: the parameters, a known consumer, an allowed signature method,
// a timestamp within the skew, the token (tokenSecret), the signature, and
// finally the nonce, recorded so that the same request is accepted only
// once across every instance sharing the store. Parameters come from the
// Authorization header, the query and a form body (which stays readable).
func (s *Server) verify(r *http.Request, tokenSecret tokenSecretFunc) (*signed, *Error) {
	params, protocol, err := oauth1.Collect(r, s.MaxBody)
	if err != nil {
		return nil, requestError(err)
	}
	if len(protocol) == 0 {
		return nil, errNoCredentials
	}
	p, err := oauth1.ParseParams(protocol)
	if err != nil {
		return nil, requestError(err)
	}
	c, ok := s.Consumers[p.ConsumerKey]
	if !ok {
		return nil, unauthorized(fieldConsumerKey, "oauth_problem=consumer_key_unknown: this gateway has no OAuth 1.0a consumer with that key")
	}
	switch p.SignatureMethod {
	case oauth1.HMACSHA1, oauth1.HMACSHA256:
	case oauth1.Plaintext:
		if !s.secure(r) {
			return nil, badRequest(fieldSignature, "oauth_problem=signature_method_rejected: PLAINTEXT signatures are accepted only over TLS; use HMAC-SHA1")
		}
	default:
		return nil, requestError(oauth1.ErrUnsupportedMethod)
	}
	if len(p.Nonce) > maxNonceLen {
		return nil, badRequest(fieldNonce, "oauth_problem=parameter_rejected: oauth_nonce is too long")
	}
	now := s.now()
	_, hasTimestamp := protocol["oauth_timestamp"]
	if hasTimestamp {
		from, to := now.Add(-s.TimestampSkew).Unix(), now.Add(s.TimestampSkew).Unix()
		if p.Timestamp < from || p.Timestamp > to {
			return nil, unauthorized(fieldTimestamp, fmt.Sprintf("oauth_acceptable_timestamps=%d-%d", from, to))
		}
	}
	if e := s.refusedForFailures(p, now); e != nil {
		return nil, e
	}
	tokenSecretValue, e := tokenSecret(p, c)
	if e != nil {
		return nil, e
	}
	base := oauth1.BaseString(r.Method, s.signedURL(r), params)
	if !oauth1.Verify(p.SignatureMethod, base, c.Secret, tokenSecretValue, p.Signature) {
		return nil, s.failed(r.Context(), p, unauthorized(fieldSignature, "oauth_problem=signature_invalid: the signature does not match this request "+
			"(check the consumer secret, the token secret, and that the URL signed is the gateway's)"))
	}
	if p.Nonce != "" {
		// The nonce is unique per consumer, token and timestamp (§3.3).
		// Once the timestamp leaves the window the request is refused
		// anyway, so the record need not outlive it.
		id := p.ConsumerKey + "\x00" + p.Token + "\x00" + protocol["oauth_timestamp"] + "\x00" + p.Nonce
		until := time.Unix(p.Timestamp, 0).Add(s.TimestampSkew + time.Second)
		added, err := s.Entries.AddEntry(r.Context(), kindNonce, id, nil, until)
		if err != nil {
			s.Logger.Error("could not record an OAuth 1.0a nonce", zap.Error(err))
			return nil, errStore
		}
		if !added {
			return nil, unauthorized(fieldNonce, "oauth_problem=nonce_used: this oauth_nonce was already used with this timestamp; sign every request with a fresh nonce")
		}
	}
	return &signed{Params: p, Consumer: c}, nil
}

// refusedForFailures is a 429 when p's consumer or token is refused for its
// failed attempts: before the token is looked up, so guesses cost no store
// read once the budget is spent.
func (s *Server) refusedForFailures(p oauth1.Params, now time.Time) *Error {
	if !s.failures.anyRefused(now) {
		return nil // the common case: no key to build, no cache to look at
	}
	if d, ok := s.failures.refused(consumerKey(p.ConsumerKey), now); ok {
		return tooManyFailures(d)
	}
	if p.Token != "" {
		if d, ok := s.failures.refused(tokenKey(p.Token), now); ok {
			return tooManyFailures(d)
		}
	}
	return nil
}

// failed counts a failed attempt (e) against p's consumer and token and
// returns e, or the 429 when this failure spent the last of a budget.
func (s *Server) failed(ctx context.Context, p oauth1.Params, e *Error) *Error {
	now := s.now()
	retry, refused := s.failures.fail(ctx, consumerKey(p.ConsumerKey), s.Failures.PerConsumer, now)
	if p.Token != "" {
		if d, ok := s.failures.fail(ctx, tokenKey(p.Token), s.Failures.PerToken, now); ok {
			retry, refused = max(retry, d), true
		}
	}
	if refused {
		s.Logger.Warn("oauth1: too many failed attempts; refusing for a while", zap.String("consumer", p.ConsumerKey),
			zap.String("problem", e.FieldName), zap.Duration("retry_after", retry))
		return tooManyFailures(retry)
	}
	return e
}
