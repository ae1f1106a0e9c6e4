// Package oauth1 implements the server-side building blocks of OAuth 1.0a
// (RFC 5849) request verification: parsing the "Authorization: OAuth …"
// header, collecting the request parameters that are covered by the
// signature, building the signature base string, and computing / verifying
// HMAC-SHA1, HMAC-SHA256 and PLAINTEXT signatures.
//
// It uses only the standard library and holds no state: token and consumer
// secret lookup, timestamp windows and nonce replay checks are the caller's job.
package oauth1
