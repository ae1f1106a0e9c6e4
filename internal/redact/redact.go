// Package redact scrubs credentials out of provider texts before they are
// logged or shown to an app.
package redact

import (
	"regexp"
	"strings"
)

// Fitbit's messages carry the credential they reject ("Access token expired:
// <JWT>. Visit …", "Refresh token invalid: <64 hex>. Visit …"). Scrub removes
// everything that looks like a credential so a message can be logged or shown.
var (
	// "token expired: X", "code invalid: X", … : X up to the next blank.
	afterLabel = regexp.MustCompile(`(?i)\b((?:token|code|secret|verifier)\s+(?:expired|invalid|revoked|unknown)?\s*:\s*)(\S+)`)
	// JWT-shaped strings, and long runs of hex/base64 anywhere.
	jwtLike  = regexp.MustCompile(`[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}`)
	longRuns = regexp.MustCompile(`[A-Za-z0-9_\-+/]{32,}={0,2}`)
)

// maxText bounds the text scanned, as apierror.MaxBody bounds a parsed body.
const maxText = 64 << 10

// Redacted replaces a credential in scrubbed text.
const Redacted = "[REDACTED]"

// Scrub returns msg with anything credential-shaped replaced by [REDACTED].
// It is deliberately greedy: it may redact an innocent long word, but it must
// never leave a token in a log line or an error shown to an app.
func Scrub(msg string) string {
	if len(msg) > maxText {
		msg = msg[:maxText]
	}
	msg = afterLabel.ReplaceAllStringFunc(msg, func(s string) string {
		m := afterLabel.FindStringSubmatch(s)
		tail := ""
		if strings.HasSuffix(m[2], ".") {
			tail = "."
		}
		return m[1] + Redacted + tail
	})
	msg = jwtLike.ReplaceAllLiteralString(msg, Redacted)
	return longRuns.ReplaceAllLiteralString(msg, Redacted)
}
