package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"golang.org/x/oauth2"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redact"
)

// TokenError is a failure at the provider's token or revoke endpoint. Its
// message has been scrubbed of credentials and is safe to log and show.
type TokenError struct {
	Status    int    // HTTP status from the provider; 0 when no answer came
	Code      string // Fitbit errorType or RFC 6749 error, e.g. "invalid_grant"
	Message   string // scrubbed
	Transient bool   // worth retrying: no answer, a timeout, 429 or 5xx
	Timeout   bool
}

func (e *TokenError) Error() string {
	switch {
	case e.Status == 0 && e.Timeout:
		return "provider token endpoint timed out: " + e.Message
	case e.Status == 0:
		return "provider token endpoint unreachable: " + e.Message
	case e.Code != "":
		return fmt.Sprintf("provider token endpoint answered %d %s: %s", e.Status, e.Code, e.Message)
	default:
		return fmt.Sprintf("provider token endpoint answered %d: %s", e.Status, e.Message)
	}
}

// IsInvalidGrant reports whether err means the refresh token (or code) is
// dead: the user must connect again.
func IsInvalidGrant(err error) bool {
	var te *TokenError
	return errors.As(err, &te) && te.Code == apierror.InvalidGrant
}

// IsTransient reports whether err is worth retrying with the same request.
func IsTransient(err error) bool {
	var te *TokenError
	return errors.As(err, &te) && te.Transient
}

// tokenError turns whatever x/oauth2 or net/http returned into a TokenError.
// oauth2.RetrieveError.Error() embeds the raw response body, which for Fitbit
// contains the rejected token: it must never be passed on as is.
func tokenError(err error) error {
	if err == nil {
		return nil
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		te := &TokenError{Code: re.ErrorCode}
		if re.Response != nil {
			te.Status = re.Response.StatusCode
		}
		if it, ok := apierror.Parse(re.Body); ok {
			te.Code, te.Message = it.ErrorType, it.Message
		} else if re.ErrorDescription != "" {
			te.Message = re.ErrorDescription
		} else if te.Status != 0 {
			te.Message = http.StatusText(te.Status)
		}
		te.Message = redact.Scrub(te.Message)
		// The code comes from the provider's body as well: a garbled or
		// hostile answer can put the rejected token there.
		te.Code = redact.Scrub(te.Code)
		te.Transient = te.Status == http.StatusTooManyRequests || te.Status >= 500
		return te
	}
	te := &TokenError{Transient: true, Message: redact.Scrub(err.Error())}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		te.Timeout = true
	}
	if errors.Is(err, context.Canceled) {
		te.Transient = false
	}
	return te
}
