package simkit

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
)

// Echo is the body of a simulator's echo endpoint (no provider has one),
// which answers any method with what it received, for replay tests. Each
// simulator embeds it beside the user, under its provider's name for one.
type Echo struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	Query       string `json:"query"`
	ContentType string `json:"contentType"`
	BodyLength  int    `json:"bodyLength"`
	BodySHA256  string `json:"bodySHA256"`
	Body        string `json:"body"`
}

// EchoOf describes r, whose body was read as body.
func EchoOf(r *http.Request, body []byte) Echo {
	sum := sha256.Sum256(body)
	return Echo{
		Method:      r.Method,
		Path:        r.URL.Path,
		Query:       r.URL.RawQuery,
		ContentType: r.Header.Get("Content-Type"),
		BodyLength:  len(body),
		BodySHA256:  hex.EncodeToString(sum[:]),
		Body:        string(body),
	}
}
