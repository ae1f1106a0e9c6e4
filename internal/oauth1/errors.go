package oauth1

import "errors"

// Sentinel errors; every error returned by this package wraps one of them so
// callers can map them to responses with errors.Is.
var (
	// ErrMalformed reports a syntactically invalid Authorization header,
	// query string, form body or protocol parameter.
	ErrMalformed = errors.New("oauth1: malformed request")
	// ErrDuplicateParam reports a protocol parameter that occurs more than once
	// (within the header, or in two places of the request).
	ErrDuplicateParam = errors.New("oauth1: duplicate parameter")
	// ErrTooLarge reports an Authorization header or body over the size limit.
	ErrTooLarge = errors.New("oauth1: request too large")
	// ErrNotOAuth reports an Authorization header whose scheme is not "OAuth".
	ErrNotOAuth = errors.New("oauth1: authorization scheme is not OAuth")
	// ErrMissingParam reports a required protocol parameter that is absent.
	ErrMissingParam = errors.New("oauth1: missing parameter")
	// ErrUnsupportedMethod reports an unknown oauth_signature_method.
	ErrUnsupportedMethod = errors.New("oauth1: unsupported signature method")
)

// MissingParamError names a required protocol parameter that is absent. It
// matches ErrMissingParam with errors.Is.
type MissingParamError struct{ Name string }

func (e *MissingParamError) Error() string { return ErrMissingParam.Error() + ": " + e.Name }

// Is makes errors.Is(err, ErrMissingParam) hold.
func (e *MissingParamError) Is(target error) bool { return target == ErrMissingParam }
